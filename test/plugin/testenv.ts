/**
 * Where the plugin tests find the real OPNsense code and the tools that run it: the tree and
 * env.json that scripts/opnsense-testenv.sh unpacks and writes. Without them every plugin test
 * fails with the command that fixes it; none is skipped.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export const REPO = resolve(import.meta.dir, "../..");
/** The plugin, in opnsense/plugins layout (category/name). */
export const PLUGIN_DIR = join(REPO, "opnsense/sysutils/carp-service-status");
export const PLUGIN_SRC = join(PLUGIN_DIR, "src");
/** The runtime port, in FreeBSD ports layout. */
export const PORT_DIR = join(REPO, "ports/sysutils/carp-service-status");
export const MVC = join(PLUGIN_SRC, "opnsense/mvc/app");
export const MODEL_XML = join(MVC, "models/OPNsense/CarpServiceStatus/CarpServiceStatus.xml");
export const TEMPLATE_DIR = join(PLUGIN_SRC, "opnsense/service/templates/OPNsense/CarpServiceStatus");
export const PHP_DIR = join(import.meta.dir, "php");

export interface TestEnv {
  core: string;
  plugins: string;
  php: string;
  phpunit: string;
  python: string;
  xmllint: string;
  chromium: string;
  /** BSD make, to run the plugin Makefiles' plugins.mk. */
  bmake: string;
}

export const TESTENV_DIR = process.env.OPNSENSE_TESTENV ?? join(REPO, ".opnsense-testenv");

/** Reads env.json; throws, naming the command to run, when the environment is not set up. */
export function testEnv(): TestEnv {
  const file = join(TESTENV_DIR, "env.json");
  const fix = "run scripts/opnsense-testenv.sh (it installs php, phpunit, jinja2, xmllint and chromium and unpacks the OPNsense tarballs)";
  if (!existsSync(file)) throw new Error(`No OPNsense test environment at "${TESTENV_DIR}": ${fix}`);
  const env = JSON.parse(readFileSync(file, "utf8")) as TestEnv;
  for (const [name, path] of Object.entries(env)) {
    if (!existsSync(path)) throw new Error(`The OPNsense test environment lacks ${name} ("${path}"): ${fix}`);
  }
  return env;
}

export interface RunResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/** Runs a command to its end and collects its output. */
export async function run(
  argv: string[],
  options: { cwd?: string; env?: Record<string, string>; stdin?: string } = {},
): Promise<RunResult> {
  const proc = Bun.spawn(argv, {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdin: options.stdin === undefined ? "ignore" : new Blob([options.stdin]),
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, exitCode] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { stdout, stderr, exitCode };
}

/** A scratch directory, removed by the returned function. */
export function scratchDir(prefix: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The environment bootstrap.php reads: core, the plugin and a scratch directory for config.xml. */
export function phpEnv(env: TestEnv, scratch: string): Record<string, string> {
  return { OPNSENSE_CORE: env.core, CARP_PLUGIN_SRC: PLUGIN_SRC, CARP_PHP_SCRATCH: scratch };
}
