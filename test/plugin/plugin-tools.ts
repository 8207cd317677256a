/**
 * The plugin's moving parts driven through the real OPNsense code: config.xml written and read
 * through the model (php/model-tool.php), the template rendered by configd's template_ctl.py,
 * and our own `config` reading the result.
 */
import { chmodSync, cpSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PHP_DIR, phpEnv, REPO, run, TEMPLATE_DIR, type TestEnv } from "./testenv.ts";

/** What php/model-tool.php prints. */
export interface ModelToolResult {
  ok: boolean;
  errors: { field: string; message: string }[];
  /** The model's values read back from config.xml: leaves as strings, ArrayFields as lists. */
  values: ModelValues;
  /** Lines the code logged to syslog. */
  log: string[];
}

export type ModelValues = Record<string, string> & {
  hookEnv: { variable: Record<string, string>[] };
  hooks: { hook: Record<string, string>[] };
  gateways: { gateway: Record<string, string>[] };
};

/** Settings, hook environment, checks and gateway checks to write through the model, all as the GUI sends them: strings. */
export interface ModelSpec {
  settings?: Record<string, string>;
  hookEnv?: { name: string; value: string }[];
  hooks?: Record<string, string>[];
  /** Gateway checks: name, enabled, failOn (comma-separated, as the GUI sends a multiple select), fall, rise, description. */
  gateways?: Record<string, string>[];
}

export async function modelTool(env: TestEnv, scratch: string, args: string[]): Promise<ModelToolResult> {
  const result = await run([env.php, join(PHP_DIR, "model-tool.php"), ...args], { env: phpEnv(env, scratch) });
  if (result.exitCode !== 0) throw new Error(`model-tool.php ${args[0]} exited ${result.exitCode}: ${result.stdout}${result.stderr}`);
  return JSON.parse(result.stdout) as ModelToolResult;
}

/** Writes config.xml (in scratch) through the model; throws with the validation messages when it refuses. */
export async function writeConfigXml(env: TestEnv, scratch: string, spec: ModelSpec): Promise<ModelToolResult> {
  const specFile = join(scratch, "spec.json");
  writeFileSync(specFile, JSON.stringify(spec));
  const result = await modelTool(env, scratch, ["write", specFile]);
  if (!result.ok) throw new Error(`The model refused the spec: ${JSON.stringify(result.errors)}`);
  return result;
}

export interface Rendered {
  toml: string;
  tomlFile: string;
  rcConf: string;
  rcConfFile: string;
}

/**
 * Renders the plugin's template from a config.xml with core's template_ctl.py. configd reads
 * templates from its own tree, so the plugin's template is laid into a copy of core's service
 * directory, as the package installs it beside core's.
 */
export async function renderTemplate(env: TestEnv, configXml: string, workDir: string): Promise<Rendered> {
  const service = join(workDir, "service");
  const root = join(workDir, "root");
  const core = join(env.core, "src/opnsense/service");
  cpSync(join(core, "modules"), join(service, "modules"), { recursive: true });
  cpSync(join(core, "template_ctl.py"), join(service, "template_ctl.py"));
  cpSync(TEMPLATE_DIR, join(service, "templates/OPNsense/CarpServiceStatus"), { recursive: true });
  for (const dir of ["usr/local/etc", "etc/rc.conf.d"]) mkdirSync(join(root, dir), { recursive: true, mode: 0o755 });
  const result = await run([env.python, join(service, "template_ctl.py"), "-c", configXml, "-r", root, "OPNsense/CarpServiceStatus"]);
  if (result.exitCode !== 0 || !result.stdout.includes("templates...done")) {
    throw new Error(`template_ctl.py failed (${result.exitCode}): ${result.stdout}${result.stderr}`);
  }
  const tomlFile = join(root, "usr/local/etc/carp_service_status.toml");
  const rcConfFile = join(root, "etc/rc.conf.d/carp_service_status");
  return { toml: readFileSync(tomlFile, "utf8"), tomlFile, rcConf: readFileSync(rcConfFile, "utf8"), rcConfFile };
}

/** An executable that runs this repository's CLI, standing in for /usr/local/bin/carp-service-status. */
export function cliWrapper(dir: string): string {
  const path = join(dir, "carp-service-status");
  writeFileSync(path, `#!/bin/sh\nexec '${process.execPath}' '${join(REPO, "src/cli.ts")}' "$@"\n`);
  chmodSync(path, 0o755);
  return path;
}

/** `carp-service-status config --json --config FILE`: the effective configuration, or the error. */
export async function configJson(tomlFile: string): Promise<{ exitCode: number; config: Record<string, unknown> | null; stderr: string }> {
  const result = await run([process.execPath, join(REPO, "src/cli.ts"), "config", "--json", "--config", tomlFile]);
  return { exitCode: result.exitCode, config: result.exitCode === 0 ? JSON.parse(result.stdout) : null, stderr: result.stderr };
}
