/**
 * doctor's first look: which config applies, whether it is valid (everything else depends on it),
 * and what in a valid one looks like a slip: a [hooks."NAME"] naming no hook, a duration that
 * was meant in seconds.
 */
import { existsSync } from "node:fs";
import { messageOf } from "../common/errors.ts";
import { type LoadedConfig, loadConfig, parseConfig } from "../config/config.ts";
import { listHookNames, unmatchedHookWarnings } from "../config/hook-names.ts";
import { valueWarnings } from "../config/warnings.ts";
import { at } from "../install/file-ops.ts";
import { LAYOUT } from "../install/layout.ts";
import { type Finding, finding } from "./finding.ts";

/** The config as loaded, or why it could not be. */
export type ConfigLoad = { ok: true; loaded: LoadedConfig } | { ok: false; file: string; error: string };

/** The config file doctor reads: `--config`, else the node's default path under root when it exists, else none. */
export function configFileUnder(root: string, configFile?: string): string | null {
  if (configFile !== undefined) return configFile;
  const file = at(root, LAYOUT.config);
  return existsSync(file) ? file : null;
}

/** Loads the config the daemon would run with. Never throws: an invalid config is a finding. */
export function loadConfigForDoctor(root: string, configFile?: string): ConfigLoad {
  const file = configFileUnder(root, configFile);
  try {
    if (file === null) return { ok: true, loaded: { config: parseConfig({}), file: null, notices: [] } };
    return { ok: true, loaded: loadConfig({ file }) };
  } catch (error) {
    return { ok: false, file: file ?? "(built-in)", error: messageOf(error) };
  }
}

/** The config finding: valid (from where), or the errors with the command that shows them again. */
export function configFinding(load: ConfigLoad): Finding {
  if (!load.ok)
    return finding("config", "problem", load.error, `fix the keys named, then: carp-service-status config --config "${load.file}"`);
  const { file } = load.loaded;
  return finding("config", "ok", file === null ? "no config file: the built-in defaults apply" : `"${file}" is valid`);
}

/**
 * The config finding, then one warning for each slip in a valid config. A hooks directory that
 * cannot be listed says nothing here: the hooks check reports it.
 */
export function configFindings(load: ConfigLoad): Finding[] {
  const main = configFinding(load);
  if (!load.ok) return [main];
  const { config } = load.loaded;
  let names: string[] | null;
  try {
    names = listHookNames(config.hooksDir);
  } catch {
    names = null;
  }
  const warnings = [...valueWarnings(config), ...(names === null ? [] : unmatchedHookWarnings(config, names))];
  return [main, ...warnings.map((warning) => finding("config", "warn", warning.message, warning.fix))];
}
