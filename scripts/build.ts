/**
 * `bun run build`: self-contained executables of src/cli.ts in dist/, one per target, and the
 * bundle for a system Bun (dist/cli.js) with the files of the FreeBSD port that installs it.
 *
 *   bun scripts/build.ts                 every target and the bundle
 *   bun scripts/build.ts linux-x64 ...   only these (a target's name, or "bundle")
 *
 * Cross-compiling fetches the target's Bun runtime from the npm registry (then cached). Exit status:
 * 1 when linux-x64 or freebsd-x64 fails, since the FreeBSD executable is what OPNsense runs and a
 * build without it must not look like a success; arm64 targets are extras and only warn. Every
 * target is attempted either way, so a registry failure still leaves the linux executable.
 */
import { chmodSync, copyFileSync, mkdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { VERSION } from "../src/common/version.ts";
import { renderSampleConfig } from "../src/config/sample.ts";
import { NODE_PATHS, type NodePaths } from "../src/install/layout.ts";
import { renderConfigdActions, renderMonitorHook, renderRcScript, renderSyshook } from "../src/install/templates.ts";

export const REPO = resolve(import.meta.dir, "..");
export const ENTRY = join(REPO, "src", "cli.ts");
export const DIST = join(REPO, "dist");

export interface Target {
  /** Our name, also the file name suffix: carp-service-status-<name>. */
  name: string;
  /** `bun build --target`. */
  bunTarget: string;
  required: boolean;
}

export const TARGETS: Target[] = [
  { name: "linux-x64", bunTarget: "bun-linux-x64", required: true },
  { name: "freebsd-x64", bunTarget: "bun-freebsd-x64", required: true },
  { name: "linux-arm64", bunTarget: "bun-linux-arm64", required: false },
  { name: "freebsd-arm64", bunTarget: "bun-freebsd-arm64", required: false },
];

export interface CompileResult {
  ok: boolean;
  outfile: string;
  ms: number;
  /** bun build's output (its errors when not ok). */
  log: string;
}

/**
 * How every executable is built (the benchmarks too). Bytecode halves the start-up time. CommonJS
 * output: `--version` (the client path's start) takes 11 ms instead of 15 with the same bytecode as
 * ESM, and cli.ts awaits nothing at top level so that it can be. A compiled executable would otherwise read a .env
 * and a bunfig.toml from whatever directory it is started in: for a tool that runs as root from
 * configd, devd and cron, a bunfig.toml's `preload` there would run someone else's code, and both
 * cost a look-up at every start.
 */
export const COMPILE_FLAGS = [
  "--compile",
  "--minify",
  "--bytecode",
  "--format=cjs",
  "--no-compile-autoload-dotenv",
  "--no-compile-autoload-bunfig",
];

/** How the benchmarks' probes are compiled: as the executable, but ESM, since they await at top level. */
export const PROBE_COMPILE_FLAGS = COMPILE_FLAGS.map((flag) => (flag === "--format=cjs" ? "--format=esm" : flag));

/** Compiles src/cli.ts for one target into outfile with COMPILE_FLAGS. */
export async function compile(bunTarget: string, outfile: string): Promise<CompileResult> {
  const started = performance.now();
  const proc = Bun.spawn([process.execPath, "build", ENTRY, ...COMPILE_FLAGS, `--target=${bunTarget}`, "--outfile", outfile], {
    cwd: REPO,
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, NO_COLOR: "1" },
  });
  const [stdout, stderr, exitCode] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { ok: exitCode === 0, outfile, ms: Math.round(performance.now() - started), log: `${stdout}${stderr}`.trim() };
}

/**
 * The bundle: src/cli.ts and every dependency in one CommonJS file for `bun` itself (no runtime
 * inside), what a FreeBSD port installs beside lang/bun, with its bytecode beside it (cli.js.jsc):
 * Bun then skips parsing 0.8 MB of JavaScript at every start (a cold `check` in about 70 ms
 * instead of 120 here). Bun takes bytecode only as CommonJS. Whitespace and syntax are minified,
 * names kept, so a stack trace still reads.
 *
 * Bytecode is tied to the Bun that made it: a Bun of another version ignores the .jsc and parses
 * cli.js as if it were alone (checked both ways between 1.4.5 and 1.3.14: the same output, only
 * slower). So the bundle is made by BUNDLE_BUN when set (for the port: lang/bun's version, e.g.
 * 1.3.14), else by the Bun running this script.
 */
export const BUNDLE_FLAGS = ["--target=bun", "--format=cjs", "--bytecode", "--minify-whitespace", "--minify-syntax"];

/** The bundle's bytecode, beside it: Bun looks for it there. */
export const BYTECODE_SUFFIX = ".jsc";

/** The Bun that makes the bundle and its bytecode. */
export function bundleBun(env: NodeJS.ProcessEnv = process.env): string {
  return env.BUNDLE_BUN || process.execPath;
}

/** Bundles src/cli.ts into outfile (named cli.js) and outfile.jsc with BUNDLE_FLAGS. */
export async function bundle(outfile: string, bun: string = bundleBun()): Promise<CompileResult> {
  if (basename(outfile) !== "cli.js") throw new Error(`The bundle is named after its entry: cli.js, not "${basename(outfile)}"`);
  const started = performance.now();
  const proc = Bun.spawn([bun, "build", ENTRY, ...BUNDLE_FLAGS, "--outdir", dirname(outfile)], {
    cwd: REPO,
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, NO_COLOR: "1" },
  });
  const [stdout, stderr, exitCode] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { ok: exitCode === 0, outfile, ms: Math.round(performance.now() - started), log: `${stdout}${stderr}`.trim() };
}

/** Where the port puts the bundle, under its PREFIX. */
export const PORT_BUNDLE = "libexec/carp-service-status/cli.js";

/**
 * The same bundle for the daemon, without bytecode beside it: Bun reads a .jsc whole into the
 * process's memory (7.4 MB of an idle daemon's private memory under lang/bun's 1.3.14, which makes
 * a 7.9 MB .jsc) and an idle daemon has no start-up to win back.
 */
export const PORT_DAEMON_BUNDLE = "libexec/carp-service-status/daemon.js";

/**
 * The port's /usr/local/bin/carp-service-status: the system's Bun running the bundle. A Bun
 * started in some directory reads the bunfig.toml there (whose preload would run that file's
 * code) and its .env files; as root from configd, devd and cron that directory is not ours, so
 * the wrapper gives Bun an empty config and no .env, and never lets it fetch a package.
 */
const WRAPPER = `#!/bin/sh
# carp-service-status: the bundled program, run by the system's Bun (lang/bun).
# --config=/dev/null and --no-env-file: no bunfig.toml (its preload runs code) or .env is read
# from the caller's directory; --no-install: nothing is ever fetched.
# Commands start from cli.js and its bytecode (cli.js.jsc). The daemon starts from daemon.js, the
# same program without bytecode (Bun keeps a .jsc in memory), and without JavaScriptCore's baseline
# JIT: an idle daemon keeps about 1.5 MB less, and its evaluations every few seconds need no JIT.
if [ "$1" = daemon ]; then
	export BUN_JSC_useBaselineJIT=0
	exec %%LOCALBASE%%/bin/bun --config=/dev/null --no-env-file --no-install %%PREFIX%%/${PORT_DAEMON_BUNDLE} "$@"
fi
exec %%LOCALBASE%%/bin/bun --config=/dev/null --no-env-file --no-install %%PREFIX%%/${PORT_BUNDLE} "$@"
`;

/** The node's paths with the port's placeholders, which the port's Makefile replaces (SUB_LIST style). */
export const PORT_PATHS: NodePaths = {
  ...NODE_PATHS,
  binary: "%%PREFIX%%/bin/carp-service-status",
  config: "%%PREFIX%%/etc/carp_service_status.toml",
};

/**
 * The port's distfile contents, beside the bundle: what install writes on a node (rc.d script,
 * configd actions, CARP event hook, gateway alarm hook, sample config), rendered by install's own templates with
 * %%PREFIX%% and %%LOCALBASE%% for the port to fill in, and the wrapper. File name -> text.
 */
export function portFiles(): Record<string, string> {
  return {
    "carp-service-status.in": WRAPPER,
    "carp_service_status.in": renderRcScript(PORT_PATHS),
    "actions_carp_service_status.conf.in": renderConfigdActions(PORT_PATHS),
    "50-carp-service-status.in": renderSyshook(PORT_PATHS),
    "50-carp-service-status-monitor.in": renderMonitorHook(PORT_PATHS),
    "carp_service_status.toml.sample": renderSampleConfig(),
  };
}

/**
 * dist/cli.js, and dist/carp-service-status-VERSION/ with the bundle and portFiles(), packed
 * as dist/carp-service-status-VERSION.tar.gz: the distfile of ports/sysutils/carp-service-status.
 */
async function buildBundle(): Promise<boolean> {
  const cli = join(DIST, "cli.js");
  rmSync(cli, { force: true });
  rmSync(`${cli}${BYTECODE_SUFFIX}`, { force: true });
  const result = await bundle(cli);
  if (!result.ok) {
    console.error("bundle         FAILED: bun build failed");
    console.error(result.log.replace(/^/gm, "    "));
    return false;
  }
  chmodSync(cli, 0o644);
  chmodSync(`${cli}${BYTECODE_SUFFIX}`, 0o644);
  console.log(`${"bundle".padEnd(14)} ${megabytes(statSync(cli).size).padStart(9)}  ${String(result.ms).padStart(6)} ms  ${cli}`);
  const maker = Bun.spawnSync([bundleBun(), "--version"], { stdout: "pipe" }).stdout.toString().trim();
  console.log(
    `${"bytecode".padEnd(14)} ${megabytes(statSync(`${cli}${BYTECODE_SUFFIX}`).size).padStart(9)}  for Bun ${maker} only (BUNDLE_BUN)`,
  );
  const name = `carp-service-status-${VERSION}`;
  const tree = join(DIST, name);
  rmSync(tree, { recursive: true, force: true });
  mkdirSync(tree, { recursive: true });
  copyFileSync(cli, join(tree, "cli.js"));
  copyFileSync(`${cli}${BYTECODE_SUFFIX}`, join(tree, `cli.js${BYTECODE_SUFFIX}`));
  for (const [file, text] of Object.entries(portFiles())) writeFileSync(join(tree, file), text);
  const tar = Bun.spawnSync(["tar", "-czf", `${name}.tar.gz`, name], { cwd: DIST, stderr: "pipe" });
  if (tar.exitCode !== 0) {
    console.error(`distfile       FAILED: tar: ${tar.stderr.toString().trim()}`);
    return false;
  }
  console.log(`${"distfile".padEnd(14)} ${join(DIST, `${name}.tar.gz`)}`);
  const version = Bun.spawnSync([process.execPath, cli, "--version"], { cwd: "/", stdout: "pipe" });
  if (version.exitCode !== 0 || version.stdout.toString().trim() !== VERSION) {
    console.error(`Smoke test failed: "bun ${cli} --version" did not print ${VERSION}`);
    return false;
  }
  console.log(`Smoke test: "bun ${cli} --version" printed ${VERSION}`);
  return true;
}

/** True when bun build failed fetching the target's runtime rather than on our code. */
export function isRuntimeFetchFailure(log: string): boolean {
  return (
    /download|fetch|registry|network|ENOTFOUND|ECONNREFUSED|ECONNRESET|ETIMEDOUT|tarball|HTTP/i.test(log) && !/Could not resolve/.test(log)
  );
}

function megabytes(bytes: number): string {
  return `${(bytes / 1_048_576).toFixed(1)} MiB`;
}

async function smokeTest(outfile: string): Promise<string | null> {
  const proc = Bun.spawn([outfile, "--version"], { stdout: "pipe", stderr: "pipe", cwd: "/" });
  const [stdout, exitCode] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
  return exitCode === 0 ? stdout.trim() : null;
}

async function main(names: string[]): Promise<number> {
  const unknown = names.filter((name) => name !== "bundle" && !TARGETS.some((target) => target.name === name));
  if (unknown.length > 0) {
    console.error(`Unknown target "${unknown[0]}"; targets: ${TARGETS.map((target) => target.name).join(", ")}, bundle`);
    return 2;
  }
  const targets = names.length === 0 ? TARGETS : TARGETS.filter((target) => names.includes(target.name));
  mkdirSync(DIST, { recursive: true });
  let failedRequired = false;
  if (names.length === 0 || names.includes("bundle")) failedRequired = !(await buildBundle());
  for (const target of targets) {
    const outfile = join(DIST, `carp-service-status-${target.name}`);
    rmSync(outfile, { force: true }); // a failed build must not leave the previous one looking current
    const result = await compile(target.bunTarget, outfile);
    if (result.ok) {
      console.log(
        `${target.name.padEnd(14)} ${megabytes(statSync(outfile).size).padStart(9)}  ${String(result.ms).padStart(6)} ms  ${outfile}`,
      );
      continue;
    }
    failedRequired ||= target.required;
    const why = isRuntimeFetchFailure(result.log)
      ? `could not fetch the ${target.bunTarget} runtime from the npm registry (cross-compiling needs network access once; it is cached afterwards)`
      : "bun build failed";
    console.error(`${target.name.padEnd(14)} FAILED: ${why}${target.required ? "" : " (optional target)"}`);
    console.error(result.log.replace(/^/gm, "    "));
  }
  const host = `${process.platform}-${process.arch}`;
  if (targets.some((target) => target.name === host)) {
    const outfile = join(DIST, `carp-service-status-${host}`);
    const version = await smokeTest(outfile).catch(() => null);
    if (version === null) {
      console.error(`Smoke test failed: "${outfile} --version" did not run`);
      return 1;
    }
    console.log(`Smoke test: "${outfile} --version" printed ${version}`);
  }
  return failedRequired ? 1 : 0;
}

if (import.meta.main) {
  process.exitCode = await main(process.argv.slice(2));
}
