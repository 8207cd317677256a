#!/usr/bin/env bun
/**
 * `bun run bench [--quick]`: figures for docs/benchmarks.md, measured in one run on this machine.
 * Ours (cold `check`, `trigger` through a warm daemon; from source, compiled and bundled) against
 * the real stock PHP script (bench/stock-php.ts) and its restatement in sh (bench/stock-runner.sh),
 * over the same hooks and the same fake FreeBSD sysctl, every command spawned and timed by one
 * runner inside the stock script's mount namespace. Medians of interleaved runs, with their spread.
 * Prints the two goals of issue 19 against their figures. Writes bench/bench.md and the docs'
 * results block; --quick cuts the run counts and the idle window and writes nothing.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { dirname, join } from "node:path";
import {
  BYTECODE_SUFFIX,
  bundle,
  COMPILE_FLAGS,
  PORT_BUNDLE,
  PORT_DAEMON_BUNDLE,
  PROBE_COMPILE_FLAGS,
  portFiles,
} from "../scripts/build.ts";
import { NODE_PATHS } from "../src/install/layout.ts";
import { fillTemplate, renderShim } from "../src/install/templates.ts";
import { startDaemon } from "./daemon-process.ts";
import { publishReport, REPO, usage } from "./report-files.ts";
import { phpVersion, prepareStockPhp, type RunReply, startStockBench } from "./stock-php.ts";

const CLI = join(REPO, "src", "cli.ts");
const QUICK = process.argv.includes("--quick");
const IDLE_SECONDS = QUICK ? 10 : 60;
const NC = Bun.which("nc");

/** Issue 19's goals. */
const GOAL_COLD_RATIO = 0.9;
const GOAL_IDLE_ANON_MB = 12;

const work = mkdtempSync(join(tmpdir(), "carp-bench-"));

// The real stock script, or exactly why not. Never a constant in its place.
console.error("the stock PHP script: php-cli and opnsense/core (scripts/opnsense-testenv.sh)...");
const stockPhp = prepareStockPhp();
const stockProblem = "problem" in stockPhp ? stockPhp.problem : null;
if (stockProblem !== null) console.error(`the stock PHP script cannot run here, its figures are not measured: ${stockProblem}`);
const runner = await startStockBench(work, "problem" in stockPhp ? null : stockPhp);
const stockPhpArgv = runner.stockArgv;
const bin = runner.sbin;

interface Samples {
  wall: number[];
  cpu: number[];
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const ms = (value: number) => (value >= 100 ? value.toFixed(0) : value.toFixed(1));
const spread = (values: number[]) => `${ms(percentile(values, 25))}-${ms(percentile(values, 75))}`;

async function timeCommand(argv: string[]): Promise<RunReply> {
  return runner.run(argv);
}

/**
 * The commands run interleaved (one of each per round, after one round that is thrown away), so
 * drift in the machine's load hits all alike. A null command (the stock PHP script where it cannot
 * run) is left out.
 */
async function interleaved(commands: Record<string, string[] | null>, runs: number): Promise<Record<string, Samples>> {
  const present = Object.entries(commands).filter((entry): entry is [string, string[]] => entry[1] !== null);
  const samples: Record<string, Samples> = Object.fromEntries(present.map(([key]) => [key, { wall: [], cpu: [] }]));
  for (let round = -1; round < runs; round++) {
    for (const [key, argv] of present) {
      const reply = await timeCommand(argv);
      if (round < 0) continue;
      samples[key]!.wall.push(reply.ms);
      samples[key]!.cpu.push(reply.cpuMs);
    }
  }
  return samples;
}

/** Per round, a's time over b's: the ratio with the load of that moment on both sides. */
function pairedRatios(a: Samples, b: Samples): number[] {
  return a.wall.map((wall, i) => wall / b.wall[i]!);
}

/** A hooks dir and a config for it; the daemon's socket and lock live beside it. */
function scenario(name: string, count: number, body: string, extra: Record<string, unknown> = {}) {
  const dir = join(work, name);
  const hooksDir = join(dir, "hooks");
  mkdirSync(hooksDir, { recursive: true });
  for (let i = 0; i < count; i++) script(join(hooksDir, `hook${String(i).padStart(3, "0")}`), `#!/bin/sh\n${body}\n`);
  const keys: Record<string, unknown> = {
    hooksDir,
    sysctl: runner.sysctl,
    logger: runner.logger,
    lockFile: join(dir, "lock"),
    stateFile: join(dir, "state"),
    socket: join(dir, "sock"),
    schedule: false,
    logLevel: "warn",
    ...extra,
  };
  const config = join(dir, "config.toml");
  writeFileSync(
    config,
    `${Object.entries(keys)
      .map(([k, v]) => `${k} = ${JSON.stringify(v)}`)
      .join("\n")}\n`,
  );
  return { name, hooksDir, config, socket: keys.socket as string, lockFile: keys.lockFile as string };
}

/** Writes an executable script. */
function script(path: string, text: string): string {
  writeFileSync(path, text, { mode: 0o755 });
  return path;
}

async function status(socket: string): Promise<{ counters: { evaluations: number } }> {
  return (await fetch("http://localhost/status", { unix: socket })).json() as never;
}

/** A copy of a scenario's config with its own socket, for a second daemon beside the first. */
function withSocket(s: { config: string; socket: string }, suffix: string): { config: string; socket: string } {
  const socket = `${s.socket}-${suffix}`;
  const config = `${s.config}.${suffix}.toml`;
  writeFileSync(config, readFileSync(s.config, "utf8").replace(`socket = "${s.socket}"`, `socket = "${socket}"`));
  return { config, socket };
}

// ---------------------------------------------------------------------------------------------

console.error("building the compiled executable and the bundle...");
const compiled = join(work, "carp-service-status");
const build = Bun.spawnSync(["bun", "build", CLI, ...COMPILE_FLAGS, "--outfile", compiled], { cwd: REPO });
if (build.exitCode !== 0) throw new Error(`bun build failed: ${build.stderr.toString()}`);
const bundled = await bundle(join(work, "cli.js"));
if (!bundled.ok) throw new Error(`bun build of the bundle failed: ${bundled.log}`);
/**
 * The port as it installs: its wrapper (scripts/build.ts) running the bundle with its bytecode for
 * commands, daemon.js for the daemon, on the system's Bun, all under a scratch PREFIX.
 */
function installPort(prefix: string): string {
  mkdirSync(join(prefix, "bin"), { recursive: true });
  mkdirSync(join(prefix, dirname(PORT_BUNDLE)), { recursive: true });
  symlinkSync(process.execPath, join(prefix, "bin", "bun"));
  copyFileSync(bundled.outfile, join(prefix, PORT_BUNDLE));
  copyFileSync(`${bundled.outfile}${BYTECODE_SUFFIX}`, join(prefix, `${PORT_BUNDLE}${BYTECODE_SUFFIX}`));
  copyFileSync(bundled.outfile, join(prefix, PORT_DAEMON_BUNDLE));
  const wrapper = join(prefix, "bin", "carp-service-status");
  const text = portFiles()["carp-service-status.in"]!.replaceAll("%%PREFIX%%", prefix).replaceAll("%%LOCALBASE%%", prefix);
  writeFileSync(wrapper, text, { mode: 0o755 });
  return wrapper;
}
const bundleArgv = [installPort(join(work, "port"))];

// Before timing it: the stock script must read the fake kernel's demotion through /sbin/sysctl, or
// the runs below would time something else (test/integration/stock-php.test.ts holds the rest).
if (stockPhpArgv !== null) {
  const empty = join(work, "no-hooks");
  mkdirSync(empty);
  runner.useHooks(empty);
  rmSync(join(bin, "sysctl.calls"), { force: true });
  const probe = await runner.run(stockPhpArgv, { capture: true });
  const calls = readFileSync(join(bin, "sysctl.calls"), "utf8");
  if (probe.exitCode !== 0 || probe.stdout + probe.stderr !== "" || calls !== "-i net.inet.carp.demotion\n") {
    throw new Error(
      `The stock PHP script did not run as expected: exit ${probe.exitCode}, output ${JSON.stringify(probe.stdout + probe.stderr)}, sysctl calls ${JSON.stringify(calls)}`,
    );
  }
}

const scenarios = [
  { s: scenario("sleep20", 20, "sleep 0.1"), runs: QUICK ? 2 : 5, label: "20 hooks x 100 ms" },
  { s: scenario("sleep20c20", 20, "sleep 0.1", { concurrency: 20 }), runs: QUICK ? 2 : 5, label: "20 hooks x 100 ms, concurrency = 20" },
  { s: scenario("trivial50", 50, "exit 0"), runs: QUICK ? 5 : 15, label: "50 trivial hooks" },
  { s: scenario("trivial1", 1, "exit 0"), runs: QUICK ? 10 : 30, label: "1 trivial hook" },
];

const notMeasured = "not measured";
const rows: string[] = [];
/** Per scenario: the compiled trigger's median over the sh runner's, and the sh runner's median. */
const ratios: Record<string, { ratio: number; stockMs: number }> = {};
for (const { s, runs, label } of scenarios) {
  console.error(`${s.name}: ${runs} interleaved runs...`);
  runner.useHooks(s.hooksDir);
  const sourceDaemon = await startDaemon(["bun", CLI, "daemon", "--config", s.config], s.socket);
  const forCompiled = withSocket(s, "compiled");
  const compiledDaemon = await startDaemon([compiled, "daemon", "--config", forCompiled.config], forCompiled.socket);
  const times = await interleaved(
    {
      php: stockPhpArgv,
      stock: ["sh", join(REPO, "bench", "stock-runner.sh"), s.hooksDir, runner.sysctl, runner.logger, s.lockFile],
      check: ["bun", CLI, "check", "--config", s.config],
      checkCompiled: [compiled, "check", "--config", s.config],
      trigger: ["bun", CLI, "trigger", "--config", s.config, "--no-fallback"],
      triggerCompiled: [compiled, "trigger", "--config", forCompiled.config, "--no-fallback"],
    },
    runs,
  );
  sourceDaemon.kill();
  compiledDaemon.kill();
  await Promise.all([sourceDaemon.exited, compiledDaemon.exited]);
  runner.takeSyslog();
  const php = times.php ? median(times.php.wall) : null;
  const cell = (key: string) => {
    const value = median(times[key]!.wall);
    return php === null ? `${ms(value)} ms` : `${ms(value)} ms (${(value / php).toFixed(2)})`;
  };
  const stock = median(times.stock!.wall);
  ratios[s.name] = { ratio: median(times.triggerCompiled!.wall) / stock, stockMs: stock };
  rows.push(
    `| ${label} | ${php === null ? notMeasured : `${ms(php)} ms`} | ${ms(stock)} ms | ${cell("check")} | ${cell("checkCompiled")} | ${cell("trigger")} | ${cell("triggerCompiled")} |`,
  );
}

// Round trip and burst, against a warm compiled daemon on one trivial hook.
const one = scenarios[3]!.s;
runner.useHooks(one.hooksDir);
const rt = withSocket(one, "rt");
const oneConfig = rt.config;
const oneSocket = rt.socket;
const daemon = await startDaemon([compiled, "daemon", "--config", oneConfig], oneSocket);
console.error("round trips...");
const roundTrips = QUICK ? 30 : 100;
const viaProcess: number[] = [];
const viaSocket: number[] = [];
for (let i = 0; i < roundTrips; i++) {
  viaProcess.push((await timeCommand([compiled, "trigger", "--config", oneConfig, "--no-fallback"])).ms);
  const started = performance.now();
  await (await fetch("http://localhost/evaluate", { method: "POST", unix: oneSocket })).json();
  viaSocket.push(performance.now() - started);
}
console.error("burst of 200...");
const evaluationsBefore = (await status(oneSocket)).counters.evaluations;
const burstStarted = performance.now();
const replies = await Promise.all(
  Array.from({ length: 200 }, async () => {
    const response = await fetch("http://localhost/evaluate", { method: "POST", unix: oneSocket });
    return response.ok && "action" in ((await response.json()) as object);
  }),
);
const burstMs = performance.now() - burstStarted;
const burstEvaluations = (await status(oneSocket)).counters.evaluations - evaluationsBefore;

// The stock event through the shims, and the cold path (no daemon) of boot and fallback. Both shims
// reach the executable through a one-line exec wrapper that adds --config (the installed ones use
// the default config path); the nc path never starts it while a daemon answers.
console.error("shims and the cold path...");
const wrapper = script(join(work, "carp-service-status-wrapper"), `#!/bin/sh\nexec "${compiled}" "$@" --config "${oneConfig}"\n`);
const newShim = script(join(work, "shim-nc"), renderShim({ ...NODE_PATHS, binary: wrapper, nc: NC ?? "/usr/bin/nc", socket: oneSocket }));
const previousShim = script(
  join(work, "shim-previous"),
  fillTemplate(readFileSync(join(REPO, "bench", "previous-shim.sh"), "utf8"), { BINARY: wrapper, LOGGER: runner.logger }),
);
const stockOne = ["sh", join(REPO, "bench", "stock-runner.sh"), one.hooksDir, runner.sysctl, runner.logger, one.lockFile];
const shimRuns = QUICK ? 10 : 40;
const warmShim = await interleaved({ php: stockPhpArgv, stock: stockOne, previous: ["sh", previousShim], nc: ["sh", newShim] }, shimRuns);
daemon.kill();
await daemon.exited;
const coldRuns = QUICK ? 10 : 60;
const coldPath = await interleaved(
  {
    php: stockPhpArgv,
    stock: stockOne,
    check: [compiled, "check", "--config", oneConfig],
    bundleCheck: [...bundleArgv, "check", "--config", oneConfig],
    trigger: [compiled, "trigger", "--config", oneConfig],
    shimAtBoot: ["sh", newShim],
    previousShimAtBoot: ["sh", previousShim],
  },
  coldRuns,
);
runner.takeSyslog();

// Idle: the daemon on the default schedule (every 10 s) beside a bare Bun process, same window.
console.error(`idle for ${IDLE_SECONDS} s...`);
const idle = scenario("idle", 1, "exit 0", { schedule: "*/10 * * * * *" });
const idleCompiled = withSocket(idle, "compiled");
const idleBundle = withSocket(idle, "bundle");
const IDLE_SOURCE = "daemon from source";
const IDLE_COMPILED = "daemon, compiled (`--syslog`, as rc.d runs it)";
const IDLE_BUNDLE = "daemon, bundle on the system's Bun through the port's wrapper (`--syslog`: daemon.js, no baseline JIT)";
const idleProcs = {
  "bare Bun (`setInterval`)": Bun.spawn(["bun", "-e", "setInterval(() => {}, 1000)"]),
  [IDLE_SOURCE]: await startDaemon(["bun", CLI, "daemon", "--config", idle.config], idle.socket),
  // As rc.d runs it: logging to syslog (nothing is logged while idle at logLevel warn).
  [IDLE_COMPILED]: await startDaemon([compiled, "daemon", "--syslog", "--config", idleCompiled.config], idleCompiled.socket),
  [IDLE_BUNDLE]: await startDaemon([...bundleArgv, "daemon", "--syslog", "--config", idleBundle.config], idleBundle.socket),
};
await Bun.sleep(500);
const idleStart = Object.fromEntries(Object.entries(idleProcs).map(([k, p]) => [k, usage(p.pid)]));
await Bun.sleep(IDLE_SECONDS * 1000);
const idleEnd: Record<string, ReturnType<typeof usage>> = {};
const idleRows = Object.entries(idleProcs).map(([k, p]) => {
  const end = usage(p.pid);
  idleEnd[k] = end;
  p.kill();
  return `| ${k} | ${end.rssMb.toFixed(1)} MB | ${end.anonMb.toFixed(1)} MB | ${(end.cpuMs - idleStart[k]!.cpuMs).toFixed(0)} ms |`;
});

// What bounds the idle RSS: the same stack, piece by piece, in a compiled probe.
console.error("footprint probe...");
const probe = join(work, "footprint-probe");
const probeBuild = Bun.spawnSync(["bun", "build", join(REPO, "bench", "footprint-probe.ts"), ...PROBE_COMPILE_FLAGS, "--outfile", probe], {
  cwd: REPO,
});
if (probeBuild.exitCode !== 0) throw new Error(`bun build of the probe failed: ${probeBuild.stderr.toString()}`);
const footprint: Record<string, number> = {};
const probeParts = ["", "zod", "pino", "croner", "zod,pino,croner", "zod,pino,croner,serve,spawn"];
const footprintRows = probeParts.map((parts) => {
  // The load time is the median of five starts; the memory is the last one's.
  const runs = Array.from({ length: 5 }, () => JSON.parse(Bun.spawnSync([probe, parts]).stdout.toString()) as Record<string, number>);
  const { rssMb, executableMb, anonymousMb } = runs.at(-1)!;
  footprint[parts] = rssMb!;
  const loadMs = median(runs.map((run) => run.loadMs!));
  return `| ${parts === "" ? "nothing" : parts.split(",").join(" + ")} | ${loadMs.toFixed(1)} ms | ${rssMb!.toFixed(1)} MB | ${executableMb!.toFixed(1)} MB | ${anonymousMb!.toFixed(1)} MB |`;
});

// Cold starts.
console.error("cold starts...");
const empty = join(work, "empty.ts");
writeFileSync(empty, "");
const startRuns = QUICK ? 10 : 30;
const cold: Record<string, string[]> = {
  "`bun` on an empty file (reference)": ["bun", empty],
  "`bun src/cli.ts --version`": ["bun", CLI, "--version"],
  "compiled `--version`": [compiled, "--version"],
  "compiled `status`, no daemon (the client path)": [compiled, "status", "--config", one.config],
  "`bun src/cli.ts check` (1 trivial hook)": ["bun", CLI, "check", "--config", one.config],
  "compiled `check` (1 trivial hook)": [compiled, "check", "--config", one.config],
};
const coldTimes = await interleaved(cold, startRuns);
await runner.close();

// ---------------------------------------------------------------------------------------------
// The goals, each against its figure.
const verdict = (ok: boolean) => (ok ? "met" : "missed");
const php = coldPath.php ?? null;
const coldCheck = median(coldPath.check!.wall);
const coldGoal =
  php === null
    ? `| cold compiled \`check\`, 1 trivial hook: at most ${GOAL_COLD_RATIO}x the stock PHP script | compiled \`check\` ${ms(coldCheck)} ms; the stock PHP script: ${notMeasured} (${stockProblem}) | cannot be judged |`
    : (() => {
        const ratio = coldCheck / median(php.wall);
        const paired = pairedRatios(coldPath.check!, php);
        return `| cold compiled \`check\`, 1 trivial hook: at most ${GOAL_COLD_RATIO}x the stock PHP script | ${ms(coldCheck)} ms against ${ms(median(php.wall))} ms: ${ratio.toFixed(2)}x (per round: median ${median(paired).toFixed(2)}, p25-p75 ${percentile(paired, 25).toFixed(2)}-${percentile(paired, 75).toFixed(2)}; CPU time ${ms(median(coldPath.check!.cpu))} ms against ${ms(median(php.cpu))} ms) | ${verdict(ratio <= GOAL_COLD_RATIO)} |`;
      })();
const idleGoal = [IDLE_SOURCE, IDLE_COMPILED, IDLE_BUNDLE].map((key) => {
  const anon = idleEnd[key]!.anonMb;
  return `| idle ${key}: private (anonymous) memory at most ${GOAL_IDLE_ANON_MB} MB | ${anon.toFixed(1)} MB | ${verdict(anon <= GOAL_IDLE_ANON_MB)} |`;
});

// The earlier targets, against the stock runner in sh as they were set.
const bunStartMs = median(coldTimes["`bun` on an empty file (reference)"]!.wall);
const compiledIdle = idleEnd[IDLE_COMPILED]!;
const stockSh = median(coldPath.stock!.wall);
const warm = (key: string) => median(warmShim[key]!.wall);
const targetRows = [
  `| 20 x 100 ms hooks: at most 0.15 of stock | ${ratios.sleep20!.ratio.toFixed(2)} at the default \`concurrency = 8\` (${verdict(ratios.sleep20!.ratio <= 0.15)}), ${ratios.sleep20c20!.ratio.toFixed(2)} with 20 | ${Math.ceil(20 / 8)} waves of 8 hooks take at least ${Math.ceil(20 / 8) * 100} ms; raise \`concurrency\` to run them in one |`,
  `| 50 trivial hooks via the daemon: at most 0.7 | ${ratios.trivial50!.ratio.toFixed(2)} (${verdict(ratios.trivial50!.ratio <= 0.7)}) | ${cpus().length} cores: 50 \`sh\` processes cost about the same CPU in parallel as in sequence, plus one Bun process start for \`trigger\` |`,
  `| 1 trivial hook via the daemon: at most 1.2 | ${ratios.trivial1!.ratio.toFixed(2)} (${verdict(ratios.trivial1!.ratio <= 1.2)}) | the whole stock run (${ms(ratios.trivial1!.stockMs)} ms) against starting any Bun process (${ms(bunStartMs)} ms) plus the daemon's ${ms(median(viaSocket))} ms \`POST /evaluate\` |`,
  `| idle RSS at most 40 MB | ${compiledIdle.rssMb.toFixed(1)} MB, ${compiledIdle.anonMb.toFixed(1)} MB of it anonymous (${verdict(compiledIdle.rssMb <= 40)}) | Bun's own code pages: a compiled program that only loads zod, pino and croner idles at ${footprint["zod,pino,croner"]!.toFixed(1)} MB; those pages are shared and reclaimable, the daemon's private memory is the anonymous part |`,
  `| the stock event via a warm daemon (shim), 1 trivial hook: at most 1.2 of stock | ${(warm("nc") / warm("stock")).toFixed(2)} with nc (${verdict(warm("nc") / warm("stock") <= 1.2)}); the previous shim ${(warm("previous") / warm("stock")).toFixed(2)} | sh, nc and the daemon's ${ms(median(viaSocket))} ms \`POST /evaluate\`; no Bun process starts |`,
  `| 200-trigger burst within 1 s | ${ms(burstMs)} ms, ${burstEvaluations} evaluations, ${replies.filter(Boolean).length}/200 answered (${verdict(burstMs <= 1000 && replies.every(Boolean))}) | |`,
];

/** A row of a table whose last column is the ratio to the stock PHP script. */
function timedRow(label: string, samples: Samples | undefined, base: Samples | undefined): string {
  if (samples === undefined) return `| ${label} | ${notMeasured} | | | |`;
  const value = median(samples.wall);
  const ratio = base === undefined ? notMeasured : (value / median(base.wall)).toFixed(2);
  return `| ${label} | ${ms(value)} ms | ${spread(samples.wall)} ms | ${ms(median(samples.cpu))} ms | ${ratio} |`;
}

const machine = `${cpus()[0]?.model ?? "unknown CPU"}, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, ${process.platform} ${readFileSync("/proc/sys/kernel/osrelease", "utf8").trim()}, Bun ${Bun.version}`;
const stockLine =
  stockProblem === null
    ? `The stock PHP script: opnsense/core's \`src/sbin/carp_service_status\` under PHP ${phpVersion((stockPhp as { php: string }).php)} (Debian php-cli), its fixed paths led to the fake sysctl, a scratch hooks directory and lock, and a /dev/log socket by bind mounts in a private mount namespace (bench/stock-php.ts); its \`config.inc\` is empty, where OPNsense's parses config.xml, so it is if anything faster here than on a firewall.`
    : `The stock PHP script: ${notMeasured}: ${stockProblem}.`;
const report = [
  `Machine: ${machine}${QUICK ? " (--quick)" : ""}`,
  "",
  stockLine,
  `Every command is spawned and timed by one process inside that namespace; ${cpus().length} cores shared with whatever else runs, so medians of interleaved runs, with p25-p75 where it matters. CPU time is the command's and its children's (user + system).`,
  "",
  "Goals (issue 19):",
  "",
  "| goal | figure | |",
  "| --- | --- | --- |",
  coldGoal,
  ...idleGoal,
  "",
  "Evaluation wall time, median of interleaved runs (ratio to the stock PHP script):",
  "",
  "| hooks | stock PHP | stock (sh) | `check` | compiled `check` | `trigger` (warm daemon) | compiled `trigger` (warm daemon) |",
  "| --- | --- | --- | --- | --- | --- | --- |",
  ...rows,
  "",
  `Trigger round trip, warm compiled daemon, 1 trivial hook (${roundTrips} runs):`,
  "",
  "| | median | p95 |",
  "| --- | --- | --- |",
  `| compiled \`trigger\` process | ${ms(median(viaProcess))} ms | ${ms(percentile(viaProcess, 95))} ms |`,
  `| \`POST /evaluate\` on the socket | ${ms(median(viaSocket))} ms | ${ms(percentile(viaSocket, 95))} ms |`,
  "",
  `Burst: 200 concurrent \`POST /evaluate\`: ${ms(burstMs)} ms in all, ${burstEvaluations} evaluations, ${replies.filter(Boolean).length}/200 answered.`,
  "",
  `The stock event (\`configctl interface update carp service_status\`), warm compiled daemon, 1 trivial hook, ${shimRuns} interleaved runs:`,
  "",
  "| | median | p25-p75 | CPU time | ratio to stock PHP |",
  "| --- | --- | --- | --- | --- |",
  timedRow("stock PHP script (what configd runs without us)", warmShim.php, warmShim.php),
  timedRow("stock runner (sh)", warmShim.stock, warmShim.php),
  timedRow("previous shim (starts `trigger`)", warmShim.previous, warmShim.php),
  timedRow("shim with nc (no Bun process)", warmShim.nc, warmShim.php),
  "",
  `Cold path (no daemon: boot, where \`90-carp\` runs before rc.d starts us, and fallback), 1 trivial hook, ${coldRuns} interleaved runs:`,
  "",
  "| | median | p25-p75 | CPU time | ratio to stock PHP |",
  "| --- | --- | --- | --- | --- |",
  timedRow("stock PHP script", coldPath.php, coldPath.php),
  timedRow("stock runner (sh)", coldPath.stock, coldPath.php),
  timedRow("compiled `check`", coldPath.check, coldPath.php),
  timedRow("bundle `check` (the port's wrapper: the system's Bun runs cli.js with its bytecode)", coldPath.bundleCheck, coldPath.php),
  timedRow("compiled `trigger` (falls back to evaluating here)", coldPath.trigger, coldPath.php),
  timedRow("shim at boot: nc finds no daemon, then `configd evaluate`", coldPath.shimAtBoot, coldPath.php),
  timedRow("previous shim at boot (`trigger` falls back)", coldPath.previousShimAtBoot, coldPath.php),
  "",
  `Idle over ${IDLE_SECONDS} s on the default schedule (every 10 s, 1 trivial hook):`,
  "",
  "| process | RSS at end | of which anonymous | CPU time |",
  "| --- | --- | --- | --- |",
  ...idleRows,
  "",
  "What bounds it: a compiled program that loads only these parts and idles (bench/footprint-probe.ts):",
  "",
  "| loads | load time | RSS | pages of the executable (Bun's code) | anonymous |",
  "| --- | --- | --- | --- | --- |",
  ...footprintRows,
  "",
  `Cold start, ${startRuns} interleaved runs:`,
  "",
  "| command | median | p25-p75 |",
  "| --- | --- | --- |",
  ...Object.entries(coldTimes).map(([k, v]) => `| ${k} | ${ms(median(v.wall))} ms | ${spread(v.wall)} ms |`),
  "",
  `Earlier targets for a 2-core machine (ratios against the stock runner in sh, ${ms(stockSh)} ms for 1 trivial hook):`,
  "",
  "| target | result | what bounds it |",
  "| --- | --- | --- |",
  ...targetRows,
].join("\n");

console.log(report);
rmSync(work, { recursive: true, force: true });
if (!QUICK) {
  if (stockProblem !== null) {
    console.error(`Not written to docs/benchmarks.md: the stock PHP script's figures are missing (${stockProblem})`);
    process.exitCode = 1;
  } else publishReport("bench", report);
}
