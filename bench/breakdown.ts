#!/usr/bin/env bun
/**
 * `bun bench/breakdown.ts [--quick] [--callgrind] [--write]`: where a cold compiled `check` (one
 * trivial hook, a config file) spends its time against the real stock PHP script, which modules it
 * loads in what order, what the idle daemon's private memory is made of, and what candidate
 * changes to src/ would save, each measured on a patched copy of src/ in a scratch directory.
 * Every command is spawned and timed by the runner inside the stock script's namespace
 * (bench/stock-php.ts), interleaved, medians with p25-p75. --callgrind adds instruction counts
 * (valgrind; slow, but blind to the machine's load). Writes bench/breakdown.md; --write also
 * replaces the `<!-- breakdown:start -->` block of docs/benchmarks.md.
 */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { bundle, COMPILE_FLAGS, PROBE_COMPILE_FLAGS } from "../scripts/build.ts";
import { DEMOTION_OID } from "../src/config/defaults.ts";
import { startDaemon } from "./daemon-process.ts";
import { buildTracedExecutable, type ModuleTrace } from "./module-trace.ts";
import { publishReport, REPO, usage } from "./report-files.ts";
import { prepareStockPhp, type RunReply, startStockBench } from "./stock-php.ts";

const QUICK = process.argv.includes("--quick");
const CALLGRIND = process.argv.includes("--callgrind");
const WRITE = process.argv.includes("--write");
const RUNS = QUICK ? 6 : 40;
const TRACE_RUNS = QUICK ? 3 : 15;
const IDLE_SECONDS = QUICK ? 12 : 40;
const CLI = join(REPO, "src", "cli.ts");

const work = mkdtempSync(join(tmpdir(), "carp-breakdown-"));
const tmpfsDir = mkdtempSync("/dev/shm/carp-breakdown-");
const diskDir = mkdtempSync("/var/tmp/carp-breakdown-");
const fsType = (dir: string) => Bun.spawnSync(["stat", "-f", "-c", "%T", dir]).stdout.toString().trim();

console.error("the stock PHP script: php-cli and opnsense/core (scripts/opnsense-testenv.sh)...");
const stockPhp = prepareStockPhp();
if ("problem" in stockPhp) console.error(`the stock PHP script cannot run here, its figures are not measured: ${stockPhp.problem}`);
const runner = await startStockBench(work, "problem" in stockPhp ? null : stockPhp);
const php = "problem" in stockPhp ? null : stockPhp;

// --- statistics and tables

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1))]!;
}
const median = (values: number[]) => percentile(values, 50);
const ms = (value: number) => (Math.abs(value) >= 100 ? value.toFixed(0) : Math.abs(value) >= 10 ? value.toFixed(1) : value.toFixed(2));
const spread = (values: number[]) => `${ms(percentile(values, 25))}-${ms(percentile(values, 75))}`;
const table = (header: string[], rows: string[][]) =>
  [`| ${header.join(" | ")} |`, `| ${header.map(() => "---").join(" | ")} |`, ...rows.map((row) => `| ${row.join(" | ")} |`)].join("\n");

interface Command {
  argv: string[];
  env?: Record<string, string>;
  /** Called after each timed run (e.g. to read what the probe wrote). */
  after?: () => void;
}
interface Samples {
  wall: number[];
  cpu: number[];
}

/** One round per run, each command once per round in turn, after one round thrown away. */
async function interleaved(commands: Record<string, Command | null>, runs: number): Promise<Record<string, Samples>> {
  const present = Object.entries(commands).filter((entry): entry is [string, Command] => entry[1] !== null);
  const samples: Record<string, Samples> = Object.fromEntries(present.map(([key]) => [key, { wall: [], cpu: [] }]));
  for (let round = -1; round < runs; round++) {
    for (const [key, command] of present) {
      const reply: RunReply = await runner.run(command.argv, { env: command.env });
      if (reply.exitCode !== 0 && key !== "php") {
        const again = await runner.run(command.argv, { env: command.env, capture: true });
        throw new Error(
          `${command.argv.join(" ")} exited ${reply.exitCode}; run again: exit ${again.exitCode}, ${again.stdout}${again.stderr}`,
        );
      }
      if (round < 0) continue;
      samples[key]!.wall.push(reply.ms);
      samples[key]!.cpu.push(reply.cpuMs);
      command.after?.();
    }
  }
  return samples;
}

/** Compiles like the executable; the probes (they await at top level) as ESM. */
function compile(entry: string, outfile: string, cwd = REPO): string {
  const flags = entry.endsWith("cli.ts") ? COMPILE_FLAGS : PROBE_COMPILE_FLAGS;
  const built = Bun.spawnSync([process.execPath, "build", entry, ...flags, "--outfile", outfile], { cwd });
  if (built.exitCode !== 0) throw new Error(`bun build ${entry} failed: ${built.stderr.toString()}`);
  return outfile;
}

// --- the scenario: one trivial hook, as in bun run bench

const hooksDir = join(work, "hooks");
mkdirSync(hooksDir);
const hook = join(hooksDir, "hook000");
writeFileSync(hook, "#!/bin/sh\nexit 0\n", { mode: 0o755 });
runner.useHooks(hooksDir);
const paths = {
  hooksDir,
  sysctl: runner.sysctl,
  logger: runner.logger,
  lockFile: join(work, "lock"),
  stateFile: join(work, "state"),
  socket: join(work, "sock"),
};
function writeConfig(name: string, keys: Record<string, unknown>): string {
  const file = join(work, name);
  writeFileSync(
    file,
    `${Object.entries(keys)
      .map(([k, v]) => `${k} = ${JSON.stringify(v)}`)
      .join("\n")}\n`,
  );
  return file;
}
const config = writeConfig("config.toml", { ...paths, schedule: false, logLevel: "warn" });

console.error("building: the executable, the bundle, the probes, a traced executable...");
const compiled = compile(CLI, join(work, "carp-service-status"));
const withoutBytecode = join(work, "carp-service-status-without-bytecode");
const builtWithoutBytecode = Bun.spawnSync(
  [process.execPath, "build", CLI, ...COMPILE_FLAGS.filter((flag) => flag !== "--bytecode"), "--outfile", withoutBytecode],
  { cwd: REPO },
);
if (builtWithoutBytecode.exitCode !== 0) throw new Error(`bun build without --bytecode failed: ${builtWithoutBytecode.stderr.toString()}`);
const originSource = join(work, "origin.ts");
writeFileSync(
  originSource,
  'const first = performance.now();\nif (process.argv[2]) require("node:fs").writeFileSync(process.argv[2], String(first));\n',
);
const origin = compile(originSource, join(work, "origin"), work);
const phasesExe = compile(join(REPO, "bench", "check-phases.ts"), join(work, "check-phases"));
const memoryExe = compile(join(REPO, "bench", "daemon-memory-probe.ts"), join(work, "daemon-memory-probe"));
const traced = join(work, "traced");
buildTracedExecutable(traced, work);
const tracedPhases = join(work, "traced-phases");
buildTracedExecutable(tracedPhases, work, join(REPO, "bench", "check-phases.ts"));
const bundled = await bundle(join(work, "cli.js"));
if (!bundled.ok) throw new Error(`bun build of the bundle failed: ${bundled.log}`);
const bundleArgv = [process.execPath, "--config=/dev/null", "--no-env-file", "--no-install", bundled.outfile];

// --- 1. processes, and check part by part

console.error(`processes and phases: ${RUNS} interleaved rounds...`);
const phaseRuns: Array<Record<string, number>> = [];
const builtInRuns: Array<Record<string, number>> = [];
const extraRuns: Array<Record<string, number>> = [];
const originRuns: number[] = [];
const phasesOut = join(work, "phases.json");
const originOut = join(work, "origin.out");
const readPhases = (into: Array<Record<string, number>>, extras?: Array<Record<string, number>>) => () => {
  const { phases, extras: more } = JSON.parse(readFileSync(phasesOut, "utf8")) as {
    phases: Record<string, number>;
    extras: Record<string, number>;
  };
  into.push(phases);
  extras?.push(more);
};
const includePath = php === null ? "" : runner.stockArgv![2]!;
const processes = await interleaved(
  {
    origin: { argv: [origin, originOut], after: () => originRuns.push(Number(readFileSync(originOut, "utf8"))) },
    version: { argv: [compiled, "--version"] },
    check: { argv: [compiled, "check", "--config", config] },
    checkWithoutBytecode: { argv: [withoutBytecode, "check", "--config", config] },
    phases: { argv: [phasesExe, phasesOut, config, "--extras", tmpfsDir, diskDir], after: readPhases(phaseRuns, extraRuns) },
    phasesBuiltIn: { argv: [phasesExe, phasesOut, "--built-in", JSON.stringify(paths)], after: readPhases(builtInRuns) },
    bundleCheck: { argv: [...bundleArgv, "check", "--config", config] },
    php: php && { argv: runner.stockArgv! },
    phpStart: php && { argv: [php.php, "-r", ""] },
    phpIncludes: php && { argv: [php.php, "-d", includePath, "-r", 'require "config.inc"; require "util.inc";'] },
    sysctl: { argv: [runner.sysctl, "-i", DEMOTION_OID] },
    hook: { argv: [hook] },
    shHook: { argv: ["/bin/sh", "-c", `'${hook}' 2>&1`] },
  },
  RUNS,
);
runner.takeSyslog();

const processRow = (label: string, key: string) => {
  const samples = processes[key];
  if (!samples) return [label, "not measured", "", ""];
  return [label, `${ms(median(samples.wall))} ms`, `${spread(samples.wall)} ms`, `${ms(median(samples.cpu))} ms`];
};
const processTable = table(
  ["process", "median", "p25-p75", "CPU time"],
  [
    processRow("compiled program that does nothing (Bun's own start and exit)", "origin"),
    processRow("compiled `--version` (our executable's start)", "version"),
    processRow("compiled `check --config` (1 trivial hook)", "check"),
    processRow("compiled `check --config` built without `--bytecode` (source parsed at every start)", "checkWithoutBytecode"),
    processRow("bundle `check --config` on the system's Bun (the port)", "bundleCheck"),
    processRow("check-phases probe, config file (check taken apart, plus its extras)", "phases"),
    processRow("check-phases probe, no config file (built-in defaults)", "phasesBuiltIn"),
    processRow("stock PHP script (1 trivial hook)", "php"),
    processRow("`php -r ''` (PHP's own start: Debian's php.ini and extensions)", "phpStart"),
    processRow("PHP with the stock script's includes only (config.inc, util.inc, IPv6.inc, Shell.php)", "phpIncludes"),
    processRow("the fake sysctl, one read (an sh script; FreeBSD's is a C program)", "sysctl"),
    processRow("the trivial hook alone", "hook"),
    processRow("the trivial hook through `sh -c` (as PHP's exec() runs it)", "shHook"),
  ],
);

/** Medians of each named part across runs, in the order of the first run. */
function medians(runs: Array<Record<string, number>>): Array<[string, number[]]> {
  return Object.keys(runs[0] ?? {}).map((name) => [name, runs.map((run) => run[name] ?? 0)]);
}
const firstLine = "first line of JS (from Bun's own clock origin)";
const builtInByName = Object.fromEntries(medians(builtInRuns));
const phaseRows = medians(phaseRuns).map(([name, values]) => {
  const other = builtInByName[name];
  return [name, `${ms(median(values))} ms`, `${spread(values)} ms`, other ? `${ms(median(other))} ms` : "-"];
});
for (const [name, values] of medians(builtInRuns)) {
  if (!phaseRuns[0] || name in phaseRuns[0]) continue;
  phaseRows.push([name, "-", "", `${ms(median(values))} ms`]);
}
const inJs = (runs: Array<Record<string, number>>) =>
  runs.map((run) => Object.entries(run).reduce((sum, [k, v]) => (k === firstLine ? sum : sum + v), 0));
phaseRows.push([
  "sum, from the first line of JS",
  `${ms(median(inJs(phaseRuns)))} ms`,
  `${spread(inJs(phaseRuns))} ms`,
  `${ms(median(inJs(builtInRuns)))} ms`,
]);
const phaseTable = table(["part of `check`", "config file: median", "p25-p75", "no config file: median"], phaseRows);
const extrasTable = table(
  ["other costs, measured in the same process after the check", "median", "p25-p75"],
  medians(extraRuns).map(([name, values]) => [name, `${ms(median(values))} ms`, `${spread(values)} ms`]),
);

// --- 2. modules, in the order a compiled check initialises them

console.error(`modules: ${TRACE_RUNS} traced runs each...`);
async function traces(argv: string[]): Promise<ModuleTrace[]> {
  const out = join(work, "trace.json");
  const result: ModuleTrace[] = [];
  for (let i = 0; i < TRACE_RUNS; i++) {
    const reply = await runner.run(argv, { env: { CARP_MODULE_TRACE: out } });
    if (reply.exitCode !== 0) throw new Error(`${argv.join(" ")} exited ${reply.exitCode}`);
    result.push(JSON.parse(readFileSync(out, "utf8")) as ModuleTrace);
  }
  return result;
}
const withConfig = await traces([traced, "check", "--config", config]);
const withoutConfig = await traces([tracedPhases, phasesOut, "--built-in", JSON.stringify(paths)]);
/** A module's group: its package under node_modules, else the file. */
const groupOf = (path: string) => (path.startsWith("node_modules/") ? `${path.split("/")[1]} (package)` : path);
function moduleRows(runs: ModuleTrace[], others: ModuleTrace[]): string[][] {
  const absent = new Set(others[0]!.modules.map((m) => groupOf(m.path)));
  const groups = new Map<string, { count: number; self: number[] }>();
  for (const [i, run] of runs.entries()) {
    const seen = new Map<string, number>();
    for (const m of run.modules) seen.set(groupOf(m.path), (seen.get(groupOf(m.path)) ?? 0) + m.selfMs);
    for (const [group, self] of seen) {
      const entry = groups.get(group) ?? { count: run.modules.filter((m) => groupOf(m.path) === group).length, self: [] };
      entry.self[i] = self;
      groups.set(group, entry);
    }
  }
  return [...groups].map(([group, { count, self }], index) => [
    String(index + 1),
    `${group}${count > 1 ? ` (${count} modules)` : ""}${absent.has(group) ? "" : " *"}`,
    ms(median(self.map((v) => v ?? 0))),
  ]);
}
const firstStatement = (runs: ModuleTrace[]) => median(runs.map((run) => run.firstStatementMs));
const modulesTable = table(
  ["#", "module, in the order initialised (* not loaded without a config file)", "self ms, median"],
  moduleRows(withConfig, withoutConfig),
);
const moduleTotal = (runs: ModuleTrace[]) => median(runs.map((run) => run.modules.reduce((sum, m) => sum + m.selfMs, 0)));

// --- candidate changes, each on a patched copy of src/ (never committed)

/** JavaScript in JavaScriptCore's interpreter only. useJIT=0 would go further, but stops bun:ffi ("bun:ffi requires the JIT"). */
const NO_JIT = { BUN_JSC_useBaselineJIT: "0" };

interface Variant {
  label: string;
  /** File under src/ -> [text to find, replacement]. */
  patches?: Record<string, Array<[string | RegExp, string]>>;
  config?: Record<string, unknown>;
  env?: Record<string, string>;
}
const VARIANTS: Record<string, Variant> = {
  noFsync: {
    label: "state file written without fsync (file and directory)",
    patches: { "engine/state-file.ts": [["{ mode: 0o600, durable: true }", "{ mode: 0o600 }"]] },
  },
  jitless: {
    label: "zod without generated code: z.config({ jitless: true }) in config.ts",
    patches: { "config/config.ts": [['import { z } from "zod";\n', 'import { z } from "zod";\nz.config({ jitless: true });\n']] },
  },
  noZod: {
    label: "config file read without zod (TOML merged over the built-in defaults, unvalidated: the bound for a lighter validation)",
    patches: {
      "config/built-in.ts": [
        [
          '  const { loadConfig } = await import("./config.ts");\n  return loadConfig(options);',
          '  const { parse } = await import("smol-toml");\n  const file = options.file ?? DEFAULT_CONFIG_FILE;\n  const raw = parse(require("node:fs").readFileSync(file, "utf8")) as object;\n  return { config: { ...builtInConfig(platform), ...raw } as Config, file, notices: [] };',
        ],
      ],
    },
  },
  checkOnly: {
    label: "only `check` in the executable (the other commands' modules left out of the bundle)",
    patches: { "cli.ts": [[/import\("\.\/cli\/(?!check\.ts)[a-z-]+\.ts"\)/g, 'Promise.reject(new Error("left out"))']] },
  },
  inProcessSysctl: {
    label: "the demotion read in-process (the simulation: what sysctlbyname(3) through bun:ffi would cost, about nothing)",
    config: { sysctl: "simulated", simulationFile: join(work, "simulated-demotion") },
    // Without its notice ("net.inet.carp.demotion is simulated"), which would load pino to log it.
    patches: { "config/notices.ts": [["  const simulated: string[] = [];\n", "  return [];\n  const simulated: string[] = [];\n"]] },
  },
  noJit: { label: "BUN_JSC_useBaselineJIT=0 in the environment (JavaScript interpreted only)", env: NO_JIT },
};
VARIANTS.practical = {
  label: "together: no fsync, zod jitless, demotion in-process, JavaScript interpreted only",
  patches: { ...VARIANTS.noFsync!.patches, ...VARIANTS.jitless!.patches, ...VARIANTS.inProcessSysctl!.patches },
  config: VARIANTS.inProcessSysctl!.config,
  env: NO_JIT,
};
VARIANTS.bound = {
  label: "together: no fsync, config without zod, demotion in-process, JavaScript interpreted only",
  patches: { ...VARIANTS.noFsync!.patches, ...VARIANTS.noZod!.patches, ...VARIANTS.inProcessSysctl!.patches },
  config: VARIANTS.inProcessSysctl!.config,
  env: NO_JIT,
};
/** The daemon reading its config without zod: the bound for validating it in a child process (`config --json`). */
const DAEMON_WITHOUT_ZOD: Variant = {
  label: "compiled, config read without zod (the bound for validating it in a child process)",
  patches: {
    "cli/daemon.ts": [
      [
        'import { loadConfig } from "../config/config.ts";\n',
        'import { readFileSync } from "node:fs";\nimport { parse as parseTomlText } from "smol-toml";\nimport { builtInConfig } from "../config/built-in.ts";\nimport type { LoadedConfig, LoadOptions } from "../config/config.ts";\nfunction loadConfig(options: LoadOptions): LoadedConfig {\n  const file = options.file!;\n  return { config: { ...builtInConfig(), ...(parseTomlText(readFileSync(file, "utf8")) as object) } as LoadedConfig["config"], file, notices: [] };\n}\n',
      ],
    ],
  },
};

function buildVariant(name: string, variant: Variant): string | { problem: string } {
  if (!variant.patches) return compiled;
  const root = join(work, `variant-${name}`);
  // The whole tree but what is large and not read at build time: macros read beside src/ (the plugin's files).
  const skipped = new Set(["node_modules", ".git", ".opnsense-testenv", "dist", "bench", "test", "docs"].map((name) => join(REPO, name)));
  cpSync(REPO, root, { recursive: true, filter: (source) => !skipped.has(source) });
  symlinkSync(join(REPO, "node_modules"), join(root, "node_modules"));
  for (const [file, replacements] of Object.entries(variant.patches)) {
    const path = join(root, "src", file);
    let text = readFileSync(path, "utf8");
    for (const [find, replace] of replacements) {
      const next = text.replace(find, replace);
      if (next === text) return { problem: `the patch no longer applies to src/${file}` };
      text = next;
    }
    writeFileSync(path, text);
  }
  return compile(join(root, "src", "cli.ts"), join(root, "carp-service-status"), root);
}

// --- 3. the idle daemon's private memory

console.error(`memory: the daemon built step by step, and idle daemons for ${IDLE_SECONDS} s...`);
const idleConfig = (name: string) =>
  writeConfig(name, { ...paths, socket: join(work, `${name}.sock`), schedule: "*/10 * * * * *", logLevel: "warn" });
async function memorySteps(argv: string[]): Promise<Array<Record<string, number | string>>> {
  const out = join(work, "memory.json");
  const reply = await runner.run([...argv, out, idleConfig(`memory-${Math.random().toString(36).slice(2)}.toml`), "12"]);
  if (reply.exitCode !== 0) throw new Error(`${argv.join(" ")} exited ${reply.exitCode}`);
  return JSON.parse(readFileSync(out, "utf8"));
}
const stepRuns = QUICK ? 1 : 3;
const compiledSteps: Array<Array<Record<string, number | string>>> = [];
const sourceSteps: Array<Array<Record<string, number | string>>> = [];
for (let i = 0; i < stepRuns; i++) {
  compiledSteps.push(await memorySteps([memoryExe]));
  sourceSteps.push(await memorySteps([process.execPath, join(REPO, "bench", "daemon-memory-probe.ts")]));
}
const stepValue = (runs: Array<Array<Record<string, number | string>>>, i: number, key: string) =>
  median(runs.map((run) => run[i]![key] as number));
const memoryRows = compiledSteps[0]!.map((step, i) => {
  const delta = (runs: typeof compiledSteps) =>
    i === 0
      ? ""
      : ` (${stepValue(runs, i, "anonMb") - stepValue(runs, i - 1, "anonMb") >= 0 ? "+" : ""}${(stepValue(runs, i, "anonMb") - stepValue(runs, i - 1, "anonMb")).toFixed(1)})`;
  return [
    step.step as string,
    `${stepValue(compiledSteps, i, "anonMb").toFixed(1)} MB${delta(compiledSteps)}`,
    `${stepValue(compiledSteps, i, "heapMb").toFixed(1)} / ${stepValue(compiledSteps, i, "heapCapacityMb").toFixed(1)} MB`,
    `${stepValue(compiledSteps, i, "extraMb").toFixed(1)} MB`,
    String(Math.round(stepValue(compiledSteps, i, "objects"))),
    `${stepValue(sourceSteps, i, "anonMb").toFixed(1)} MB${delta(sourceSteps)}`,
  ];
});
const memoryTable = table(
  [
    "step (after Bun.gc(true))",
    "compiled: anonymous",
    "JS heap: live / held",
    "JS heap's extra memory",
    "JS objects",
    "from source: anonymous",
  ],
  memoryRows,
);

const daemonVariants: Array<[string, string[], Record<string, string> | undefined]> = [
  ["compiled (`--syslog`, as rc.d runs it)", [compiled, "daemon", "--syslog"], undefined],
  ["compiled, BUN_JSC_useBaselineJIT=0 (JavaScript interpreted only)", [compiled, "daemon", "--syslog"], NO_JIT],
  ["bundle on the system's Bun (the port)", [...bundleArgv, "daemon", "--syslog"], undefined],
  ["bundle on the system's Bun, BUN_JSC_useBaselineJIT=0", [...bundleArgv, "daemon", "--syslog"], NO_JIT],
  [
    "bundle on the system's Bun with `--smol` (a smaller heap, collected more often)",
    [bundleArgv[0]!, "--smol", ...bundleArgv.slice(1), "daemon", "--syslog"],
    undefined,
  ],
  ["from source", [process.execPath, CLI, "daemon", "--syslog"], undefined],
];
const daemonWithoutZod = buildVariant("daemonWithoutZod", DAEMON_WITHOUT_ZOD);
// Compiled only: from source, built-in.ts's schema-defaults macro loads zod (and croner) in every
// process at transpile time, whatever the daemon does.
if (typeof daemonWithoutZod === "string")
  daemonVariants.push([DAEMON_WITHOUT_ZOD.label, [daemonWithoutZod, "daemon", "--syslog"], undefined]);
else console.error(`${DAEMON_WITHOUT_ZOD.label}: ${daemonWithoutZod.problem}`);
const idleDaemons = await Promise.all(
  daemonVariants.map(async ([label, argv, env], i) => {
    const file = idleConfig(`idle-${i}.toml`);
    return { label, proc: await startDaemon([...argv, "--config", file], join(work, `idle-${i}.toml.sock`), env) };
  }),
);
await Bun.sleep(500);
const idleStart = idleDaemons.map(({ proc }) => usage(proc.pid));
await Bun.sleep(IDLE_SECONDS * 1000);
const idleRows = idleDaemons.map(({ label, proc }, i) => {
  const end = usage(proc.pid);
  proc.kill();
  return [label, `${end.anonMb.toFixed(1)} MB`, `${end.rssMb.toFixed(1)} MB`, `${(end.cpuMs - idleStart[i]!.cpuMs).toFixed(0)} ms`];
});
await Promise.all(idleDaemons.map(({ proc }) => proc.exited));
const idleTable = table(["idle daemon", "anonymous", "RSS", `CPU time over ${IDLE_SECONDS} s`], idleRows);

// --- 4. candidate changes to the cold path, timed

console.error(`candidate changes: ${RUNS} interleaved rounds...`);
const variantCommands: Record<string, Command | null> = {
  baseline: { argv: [compiled, "check", "--config", config] },
  php: php && { argv: runner.stockArgv! },
};
const variantProblems: Record<string, string> = {};
for (const [name, variant] of Object.entries(VARIANTS)) {
  const exe = buildVariant(name, variant);
  if (typeof exe !== "string") {
    variantProblems[name] = exe.problem;
    continue;
  }
  const file = variant.config
    ? writeConfig(`variant-${name}.toml`, { ...paths, schedule: false, logLevel: "warn", ...variant.config })
    : config;
  variantCommands[name] = { argv: [exe, "check", "--config", file], env: variant.env };
}
const variants = await interleaved(variantCommands, RUNS);
/** Instructions (callgrind Ir, user space, all threads of the process, not its children), one run each. */
async function instructions(argv: string[], env?: Record<string, string>): Promise<number | null> {
  const reply = await runner.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", ...argv], { capture: true, env });
  const refs = /Collected\s*:\s*(\d+)/.exec(reply.stderr)?.[1];
  return refs === undefined ? null : Number(refs);
}
const variantInstructions: Record<string, number | null> = {};
if (CALLGRIND) {
  console.error("callgrind of the candidate changes...");
  for (const [key, command] of Object.entries(variantCommands))
    if (command) variantInstructions[key] = await instructions(command.argv, command.env);
}
const mega = (value: number | null | undefined) => (value === null || value === undefined ? "no count" : `${(value / 1e6).toFixed(1)} M`);
const phpMs = variants.php ? median(variants.php.wall) : null;
const variantRow = (label: string, key: string) => {
  const samples = variants[key];
  if (!samples) return [label, variantProblems[key] ?? "not measured", "", "", "", "", ...(CALLGRIND ? [""] : [])];
  const saved = samples.wall.map((wall, i) => variants.baseline!.wall[i]! - wall);
  return [
    label,
    `${ms(median(samples.wall))} ms`,
    `${spread(samples.wall)} ms`,
    key === "baseline" ? "" : `${ms(median(saved))} ms (${spread(saved)})`,
    `${ms(median(samples.cpu))} ms`,
    phpMs === null ? "not measured" : (median(samples.wall) / phpMs).toFixed(2),
    ...(CALLGRIND ? [mega(variantInstructions[key])] : []),
  ];
};
const variantTable = table(
  [
    "compiled `check`, 1 trivial hook",
    "median",
    "p25-p75",
    "saved, per round: median (p25-p75)",
    "CPU time",
    "ratio to stock PHP",
    ...(CALLGRIND ? ["instructions (callgrind)"] : []),
  ],
  [
    variantRow("as it is", "baseline"),
    ...Object.entries(VARIANTS).map(([key, variant]) => variantRow(variant.label, key)),
    ...(variants.php
      ? [
          [
            "stock PHP script",
            `${ms(phpMs!)} ms`,
            `${spread(variants.php.wall)} ms`,
            "",
            `${ms(median(variants.php.cpu))} ms`,
            "1.00",
            ...(CALLGRIND ? [`${mega(variantInstructions.php)} (php only)`] : []),
          ],
        ]
      : []),
  ],
);

// --- 5. instruction counts, blind to the machine's load

let callgrindTable = "";
if (CALLGRIND) {
  console.error("callgrind...");
  const counted: Array<[string, string[]]> = [
    ["compiled program that does nothing", [origin]],
    ["compiled `--version`", [compiled, "--version"]],
    ["compiled `check --config`", [compiled, "check", "--config", config]],
    ["check-phases probe, no config file", [phasesExe, phasesOut, "--built-in", JSON.stringify(paths)]],
    ...(php
      ? ([
          ["stock PHP script (php only, not its children)", runner.stockArgv!],
          ["`php -r ''`", [php.php, "-r", ""]],
        ] as Array<[string, string[]]>)
      : []),
  ];
  const rows: string[][] = [];
  for (const [label, argv] of counted) rows.push([label, mega(await instructions(argv))]);
  callgrindTable = table(["process", "instructions in user space (callgrind Ir, all threads)"], rows);
}

await runner.close();

const report = [
  `Machine: ${cpus()[0]?.model ?? "unknown CPU"}, ${cpus().length} cores, Bun ${Bun.version}${QUICK ? " (--quick)" : ""}. ${RUNS} interleaved rounds; every command spawned and timed by one runner inside the stock script's mount namespace; CPU time is user + system of the process and the children it waited for. The sysctl and logger are the repository's fakes (sh scripts): FreeBSD's are C programs. State file: ${fsType(work)} here (the check's own), extras on ${fsType(tmpfsDir)} and ${fsType(diskDir)}.`,
  "",
  "Processes:",
  "",
  processTable,
  "",
  `\`check\` part by part (bench/check-phases.ts, compiled like the executable; the first line of the bundle runs at ${ms(median(originRuns))} ms on Bun's clock in a program that does nothing):`,
  "",
  phaseTable,
  "",
  extrasTable,
  "",
  `Modules a compiled \`check --config\` initialises, in order (bench/module-trace.ts; ${TRACE_RUNS} runs). Function declarations of every module in the bundle are made before the first statement, which runs at ${ms(firstStatement(withConfig))} ms (against ${ms(median(originRuns))} ms in a program that does nothing); the init functions below take ${ms(moduleTotal(withConfig))} ms with a config file, ${ms(moduleTotal(withoutConfig))} ms without (the check-phases probe, built-in defaults):`,
  "",
  modulesTable,
  "",
  `The idle daemon's private memory, built step by step (bench/daemon-memory-probe.ts; medians of ${stepRuns}):`,
  "",
  memoryTable,
  "",
  `Idle daemons side by side (every 10 s, 1 trivial hook, logLevel warn, ${IDLE_SECONDS} s):`,
  "",
  idleTable,
  "",
  "Candidate changes, each a patch on a scratch copy of src/ (bench/breakdown.ts VARIANTS), compiled and timed interleaved with the executable as it is:",
  "",
  variantTable,
  ...(callgrindTable ? ["", "Instructions (valgrind --tool=callgrind, one run each):", "", callgrindTable] : []),
].join("\n");

console.log(report);
if (!QUICK) writeFileSync(join(REPO, "bench", "breakdown.md"), `${report}\n`);
if (WRITE && !QUICK) {
  try {
    publishReport("breakdown", report);
  } catch (error) {
    console.error(`Not written to docs/benchmarks.md: ${(error as Error).message}`);
  }
}
for (const dir of [work, tmpfsDir, diskDir]) rmSync(dir, { recursive: true, force: true });
