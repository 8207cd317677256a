/**
 * `check` taken apart, compiled like the executable (COMPILE_FLAGS) by bench/breakdown.ts. It
 * loads what `check` loads, in check's order (src/cli.ts, src/cli/check.ts, then config.ts for a
 * config file), and runs one evaluation through evaluate()'s own injection points, timing each
 * part: the clock, the descriptor limit, the hooks, the lock, sysctl, the state file. What is
 * left of evaluate() is discovery (with script security), the decision and the result.
 *
 *   check-phases OUT.json CONFIG_FILE            as `check --config CONFIG_FILE`
 *   check-phases OUT.json --built-in PATHS_JSON  as `check` without a config file (no zod), with
 *                                                these paths on top of the built-in defaults
 *   ... --extras TMPFS_DIR DISK_DIR              then, in the same process: the first log line,
 *                                                a logger call, a sysctl write, a C program spawned,
 *                                                dlopen, croner, and state file writes on tmpfs and
 *                                                on disk, fsynced and not
 *
 * Writes { phases: {name: ms}, extras: {name: ms} } to OUT.json; the table goes to stdout.
 */
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

let last = performance.now();
const phases: Record<string, number> = { "first line of JS (from Bun's own clock origin)": last };
function lap(name: string): void {
  const now = performance.now();
  phases[name] = (phases[name] ?? 0) + now - last;
  last = now;
}
/** Time spent inside wrapped calls, taken out of the phase that contains them. */
const inside: Record<string, number> = {};
function timed<A extends unknown[], R>(name: string, fn: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
  return async (...args) => {
    const started = performance.now();
    try {
      return await fn(...args);
    } finally {
      inside[name] = (inside[name] ?? 0) + performance.now() - started;
    }
  };
}
function timedSync<A extends unknown[], R>(name: string, fn: (...args: A) => R): (...args: A) => R {
  return (...args) => {
    const started = performance.now();
    try {
      return fn(...args);
    } finally {
      inside[name] = (inside[name] ?? 0) + performance.now() - started;
    }
  };
}

const [out, mode, ...more] = process.argv.slice(2);
if (out === undefined || mode === undefined) throw new Error("usage: check-phases OUT.json CONFIG_FILE | --built-in PATHS_JSON");
const builtIn = mode === "--built-in";
const paths = builtIn ? more.shift() : undefined;
const rest = more;

await import("../src/cli.ts");
lap("load src/cli.ts (its static imports)");
const { printEvaluation } = await import("../src/cli/report.ts");
const { loadConfigCached } = await import("../src/system/config-cache.ts");
const { evaluate } = await import("../src/engine/evaluate.ts");
const { createEffects } = await import("../src/system/effects.ts");
const { createLog, flushLog } = await import("../src/system/log.ts");
await import("../src/cli/check.ts");
lap("load src/cli/check.ts and what it imports (engine, effects, log, report)");

let config: Awaited<ReturnType<typeof loadConfigCached>>["config"];
/** A cache of its own: the first load validates in full and writes it, the second hits it. */
const cacheFile = `/tmp/carp-check-phases-${process.pid}.cache`;
if (builtIn) {
  const loaded = await loadConfigCached({ file: undefined, platform: "freebsd" });
  config = { ...loaded.config, ...(JSON.parse(paths ?? "{}") as object) };
  lap("the built-in configuration (no file, no zod)");
} else {
  await import("../src/config/config.ts");
  lap("load src/config/config.ts: zod, smol-toml, croner, the schema");
  config = (await loadConfigCached({ file: mode, cacheFile })).config;
  lap("read, parse (TOML) and validate (zod) the config file, and cache it");
  config = (await loadConfigCached({ file: mode, cacheFile })).config;
  lap("the same config from the validated-config cache (a hit: no smol-toml, no zod)");
  rmSync(cacheFile, { force: true });
}

const { createSystemClock } = await import("../src/system/clock.ts");
const { openFilesLimit } = await import("../src/system/limits.ts");
const { acquireLock } = await import("../src/system/lock-file.ts");
const { runHook } = await import("../src/engine/hook-runner.ts");
const { fileStore } = await import("../src/engine/flap-history.ts");
const clock = timedSync("clock: dlopen, clock_gettime, boot id", createSystemClock)();
const limit = timedSync("descriptor limit: dlopen, getrlimit", openFilesLimit)();
const log = createLog(config.logLevel, { format: config.logFormat });
const effects = createEffects(config);
const store = fileStore(config.stateFile);
lap("set-up (effects, lazy logger)");
const evaluation = await evaluate(config, {
  ...effects,
  log,
  clock,
  openFilesLimit: limit,
  sysctl: { read: timed("sysctl read (spawns the sysctl)", effects.sysctl.read), add: timed("sysctl write", effects.sysctl.add) },
  runHook: timed("hook: spawn, wait, collect output", runHook),
  acquireLock: timed("lock: open, dlopen, flock", acquireLock),
  historyStore: {
    read: timedSync("state file read", store.read),
    write: timedSync("state file write (fsync file and directory)", store.write),
  },
});
lap("evaluate()");
const insideEvaluate = Object.entries(inside).reduce(
  (sum, [name, ms]) => (name.startsWith("clock") || name.startsWith("descriptor") ? sum : sum + ms),
  0,
);
phases["evaluate(): discovery with script security, decision, result"] = phases["evaluate()"]! - insideEvaluate;
delete phases["evaluate()"];
Object.assign(phases, inside);
printEvaluation(evaluation, false);
lap("print the table");
await flushLog(log);
lap("flush the log (nothing logged)");
if (evaluation.action !== "none" || evaluation.services.some((s) => s.status !== "pass")) {
  throw new Error(`expected a steady run with every hook passing, got action ${evaluation.action}`);
}

const extras: Record<string, number> = {};
if (rest[0] === "--extras") {
  const [tmpfsDir, diskDir] = rest.slice(1);
  const time = async (name: string, fn: () => unknown) => {
    const started = performance.now();
    await fn();
    extras[name] = performance.now() - started;
  };
  const { DEMOTION_BIT } = await import("../src/config/defaults.ts");
  const { dlopen, FFIType } = await import("bun:ffi");
  const { writeHistory } = await import("../src/engine/state-file.ts");
  const { writeFileAtomicSync } = await import("../src/system/atomic-file.ts");
  const { NO_HISTORY } = await import("../src/engine/flap.ts");
  const textLog = createLog("info", { format: "text", terminal: false });
  await time("first log line: load pino, make the logger, format (text)", () => textLog.info({ hook: "x" }, "probe"));
  await time("next log line", () => textLog.info({ hook: "x" }, "probe"));
  await time("logger call (spawns the logger)", () => effects.syslog.warning("carp probe"));
  await time("sysctl write, +2^20 (spawns the sysctl)", () => effects.sysctl.add(DEMOTION_BIT));
  await time("sysctl write, -2^20 (spawns the sysctl)", () => effects.sysctl.add(-DEMOTION_BIT));
  await time("spawn a C program (/bin/true) with Bun.spawn", async () => {
    await Bun.spawn(["/bin/true"], { stdout: "ignore", stderr: "ignore" }).exited;
  });
  await time("spawn the fake sysctl with Bun.spawn", async () => {
    await Bun.spawn([config.sysctl, "-n", "net.inet.carp.demotion"], { stdout: "ignore", stderr: "ignore" }).exited;
  });
  await time("dlopen(libc) through bun:ffi, one more", () => dlopen("libc.so.6", { getpid: { args: [], returns: FFIType.i32 } }).close());
  await time("load croner, one Cron", async () => {
    const { Cron } = await import("croner");
    new Cron("*/10 * * * * *", { paused: true }, () => {}).stop();
  });
  const now = clock.read();
  for (const [where, dir] of [
    ["tmpfs", tmpfsDir],
    ["disk", diskDir],
  ] as const) {
    if (dir === undefined) continue;
    // The median of five: the first write creates the file.
    const runs = (fn: () => void) => {
      const times = Array.from({ length: 5 }, () => {
        const started = performance.now();
        fn();
        return performance.now() - started;
      }).sort((a, b) => a - b);
      return times[2]!;
    };
    extras[`state file write on ${where}, as src writes it (fsync file and directory)`] = runs(() => {
      const failed = writeHistory(join(dir, "state"), NO_HISTORY, now, { privateDir: "/nonexistent" });
      if (failed !== null) throw new Error(failed);
    });
    extras[`state file write on ${where}, without fsync`] = runs(() =>
      writeFileAtomicSync(join(dir, "state-no-fsync"), `${JSON.stringify({ now })}\n`, { mode: 0o600 }),
    );
  }
}
writeFileSync(out, JSON.stringify({ phases, extras }));
