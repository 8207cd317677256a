/**
 * `bun run build`: self-contained executables of src/cli.ts in dist/, one per target.
 *
 *   bun scripts/build.ts                 every target
 *   bun scripts/build.ts linux-x64 ...   only these
 *
 * Cross-compiling fetches the target's Bun runtime from the npm registry (then cached). Exit status:
 * 1 when linux-x64 or freebsd-x64 fails, since the FreeBSD executable is what OPNsense runs and a
 * build without it must not look like a success; arm64 targets are extras and only warn. Every
 * target is attempted either way, so a registry failure still leaves the linux executable.
 */
import { mkdirSync, rmSync, statSync } from "node:fs";
import { join, resolve } from "node:path";

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
 * How every executable is built (the benchmarks too). Bytecode (which needs ESM output here: cli.ts
 * awaits at top level) halves the start-up time. A compiled executable would otherwise read a .env
 * and a bunfig.toml from whatever directory it is started in: for a tool that runs as root from
 * configd, devd and cron, a bunfig.toml's `preload` there would run someone else's code, and both
 * cost a look-up at every start.
 */
export const COMPILE_FLAGS = [
  "--compile",
  "--minify",
  "--bytecode",
  "--format=esm",
  "--no-compile-autoload-dotenv",
  "--no-compile-autoload-bunfig",
];

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
  const unknown = names.filter((name) => !TARGETS.some((target) => target.name === name));
  if (unknown.length > 0) {
    console.error(`Unknown target "${unknown[0]}"; targets: ${TARGETS.map((target) => target.name).join(", ")}`);
    return 2;
  }
  const targets = names.length === 0 ? TARGETS : TARGETS.filter((target) => names.includes(target.name));
  mkdirSync(DIST, { recursive: true });
  let failedRequired = false;
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
