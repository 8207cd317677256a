/**
 * `config`: the effective configuration, validated (like relayd -n). stdout is the configuration
 * as TOML, every key with the value that applies, so `config > new.toml` gives a file that reads
 * back to the same; stderr says what is simulated, what looks wrong, and "configuration OK".
 */

import { EXIT, messageOf } from "../common/errors.ts";
import { configKeys, loadConfig } from "../config/config.ts";
import { listHookNames, unmatchedHookWarnings } from "../config/hook-names.ts";
import { type ConfigWarning, formatWarning } from "../config/notices.ts";
import { formatTomlDocument } from "../config/toml-print.ts";
import { valueWarnings } from "../config/warnings.ts";
import type { Flags } from "./flags.ts";

/** The hooks directory's names against the config's [hooks."NAME"] tables; an unreadable directory is a warning too. */
function hooksDirWarnings(config: Parameters<typeof unmatchedHookWarnings>[0]): ConfigWarning[] {
  let names: string[];
  try {
    names = listHookNames(config.hooksDir);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    const why = typeof code === "string" ? code : messageOf(error);
    return [{ message: `hooksDir "${config.hooksDir}" cannot be listed (${why}): no service check would run`, fix: null }];
  }
  return unmatchedHookWarnings(config, names);
}

export async function run(flags: Flags): Promise<number> {
  const { config, file, notices } = loadConfig({ file: flags.config as string | undefined });
  if (flags.json) {
    // Every key with its effective value, for programs (the OPNsense plugin's import reads it).
    console.log(JSON.stringify(config, null, 2));
    return EXIT.ok;
  }
  const unset = configKeys().filter((key) => !Object.hasOwn(config, key));
  const header = [
    "# carp-service-status: the effective configuration, every key with the value that applies",
    ...(unset.length === 0 ? [] : [`# unset (no default): ${unset.join(", ")}`]),
  ];
  process.stdout.write(`${header.join("\n")}\n${formatTomlDocument(config)}`);
  for (const notice of notices) console.error(notice);
  for (const warning of [...valueWarnings(config), ...hooksDirWarnings(config)]) console.error(`warning: ${formatWarning(warning)}`);
  console.error(`configuration OK (${file === null ? "no config file: the built-in defaults" : `"${file}"`})`);
  return EXIT.ok;
}
