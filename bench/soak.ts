#!/usr/bin/env bun
/**
 * `bun run soak -- --minutes N`: the daemon under continuous operation. A 1 s schedule, hooks that
 * pass, fail, flap and leave children behind, and a client hammering `POST /evaluate` (four in
 * flight) for N minutes (default 5). Every 30 s it samples the daemon's RSS, open descriptors and
 * the processes left running, and at the end prints the table. `--write` also puts it in
 * bench/soak.md and docs/benchmarks.md. Linux only (it reads /proc), like the benchmarks.
 *
 * `--abuse`: the same daemon (with a /status of about 300 KB) under attack on its socket instead
 * of the hammering client (bench/abuse.ts): unread Connection: close and HTTP/1.0 replies, an idle
 * flood past the cap, slowloris, pipelining without reading. Meanwhile the real `trigger` runs
 * every 2 s and must be answered by the daemon, the demotion is reset from outside every 10 s and
 * must come back, and the daemon's memory must stay bounded; the table says how each went and the
 * run exits 1 if one did not. `--write` puts the table in bench/soak-abuse.md and docs/benchmarks.md.
 */
import { chmodSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { REQUEST_TIMEOUT_MS, WRITE_TIMEOUT_MS } from "../src/protocol/wire.ts";
import { type Attack, idleFlood, pipelining, slowloris, unreadReplies } from "./abuse.ts";
import { publishReport, REPO, usage } from "./report-files.ts";

const { values } = parseArgs({
  options: {
    minutes: { type: "string", default: "5" },
    write: { type: "boolean", default: false },
    abuse: { type: "boolean", default: false },
  },
});
const abuse = values.abuse === true;

/** `trigger` outcomes in abuse mode: answered by the daemon, evaluated by itself, failed. */
interface TriggerTally {
  byDaemon: number;
  fallback: number;
  failed: number;
  slowestMs: number;
}

const BIT = 1_048_576;
const TRIGGER_EVERY_MS = 2_000;
const RESET_EVERY_MS = 10_000;
/** A reset demotion must be back within this: a 1 s schedule, an evaluation, a loaded machine. */
const REDEMOTE_WITHIN_MS = 10_000;
/** The daemon's RSS may exceed its first sample by this much at most. */
const RSS_BOUND_MB = 64;
const minutes = Number(values.minutes);
if (!(minutes > 0)) throw new Error(`--minutes must be a positive number, not "${values.minutes}"`);
const SAMPLE_EVERY_MS = Math.min(30_000, (minutes * 60_000) / 10);
const IN_FLIGHT = 4;
/** An odd duration, so the left-behind children can be counted by their command line. */
const CHILD_SLEEP = "3631";

const work = mkdtempSync(join(tmpdir(), "carp-soak-"));
chmodSync(work, 0o755);
const bin = join(work, "bin");
const hooks = join(work, "hooks");
mkdirSync(bin);
mkdirSync(hooks);
symlinkSync(join(REPO, "test", "fixtures", "sysctl"), join(bin, "sysctl"));
symlinkSync(join(REPO, "test", "fixtures", "logger"), join(bin, "logger"));
const flapState = join(work, "flap-count");
const scripts: Record<string, string> = {
  pass: "exit 0",
  fail: 'echo "resolver not answering"; exit 1',
  // Fails one run in three: demotions and promotions all along.
  flap: `n=$(cat ${flapState} 2>/dev/null || echo 0); echo $((n + 1)) > ${flapState}; [ $((n % 3)) -ne 0 ]`,
  "leaves-child": `sleep ${CHILD_SLEEP} &\nexit 0`,
};
if (abuse) {
  // About 300 KB of /status: twelve hooks printing 4 KiB of NUL bytes, which JSON escapes six-fold.
  for (let i = 0; i < 12; i++) scripts[`chatty${String(i).padStart(2, "0")}`] = "head -c 4096 /dev/zero";
}
for (const [name, body] of Object.entries(scripts)) {
  writeFileSync(join(hooks, name), `#!/bin/sh\n${body}\n`);
  chmodSync(join(hooks, name), 0o755);
}
const socket = join(work, "sock");
const config = join(work, "soak.toml");
const settings = {
  hooksDir: hooks,
  sysctl: join(bin, "sysctl"),
  logger: join(bin, "logger"),
  lockFile: join(work, "lock"),
  stateFile: join(work, "state"),
  socket,
  schedule: "* * * * * *",
  hookTimeoutMs: 5000,
  killGraceMs: 300,
  logLevel: "warn",
};
writeFileSync(
  config,
  `${Object.entries(settings)
    .map(([k, v]) => `${k} = ${JSON.stringify(v)}`)
    .join("\n")}\n`,
);

const daemonLog = join(work, "daemon.log");
const daemon = Bun.spawn(["bun", join(REPO, "src", "cli.ts"), "daemon", "--config", config], {
  stdout: "ignore",
  stderr: openSync(daemonLog, "w"),
});
for (let i = 0; ; i++) {
  try {
    await fetch("http://localhost/status", { unix: socket });
    break;
  } catch {
    if (i > 500) throw new Error("the daemon did not start");
    await Bun.sleep(10);
  }
}

/** Running processes of this machine whose command line contains `needle` (a zombie has none). */
function running(needle: string): number {
  let count = 0;
  for (const pid of readdirSync("/proc").filter((e) => /^\d+$/.test(e))) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, "latin1").includes(needle)) count++;
    } catch {
      // Gone while we looked.
    }
  }
  return count;
}

interface Sample {
  atS: number;
  rssMb: number;
  anonMb: number;
  fds: number;
  children: number;
  evaluations: number;
  answered: number;
  errors: number;
}
const samples: Sample[] = [];
let answered = 0;
let errors = 0;
const started = performance.now();
const endAt = started + minutes * 60_000;

async function hammer(): Promise<void> {
  while (performance.now() < endAt) {
    try {
      const reply = await fetch("http://localhost/evaluate", { method: "POST", unix: socket });
      await reply.json();
      if (reply.ok) answered++;
      else errors++;
    } catch {
      errors++;
    }
  }
}

async function sample(): Promise<void> {
  const status = (await (await fetch("http://localhost/status", { unix: socket })).json()) as { counters: { evaluations: number } };
  const { rssMb, anonMb } = usage(daemon.pid);
  samples.push({
    atS: Math.round((performance.now() - started) / 1000),
    rssMb,
    anonMb,
    fds: readdirSync(`/proc/${daemon.pid}/fd`).length,
    children: running(`sleep ${CHILD_SLEEP}`),
    evaluations: status.counters.evaluations,
    answered,
    errors,
  });
  const last = samples.at(-1)!;
  console.error(
    `${last.atS} s: RSS ${last.rssMb.toFixed(1)} MB, ${last.fds} fds, ${last.children} children left, ${last.evaluations} evaluations`,
  );
}

const sampler = (async () => {
  await sample();
  while (performance.now() < endAt) {
    await Bun.sleep(Math.min(SAMPLE_EVERY_MS, Math.max(0, endAt - performance.now())));
    await sample();
  }
})();
if (abuse) {
  const report = await runAbuse(sampler);
  console.log(report.text);
  if (values.write) publishReport("soak-abuse", report.text);
  rmSync(work, { recursive: true, force: true });
  process.exit(report.ok ? 0 : 1);
}
await Promise.all([...Array.from({ length: IN_FLIGHT }, hammer), sampler]);

daemon.kill("SIGTERM");
const exitCode = await daemon.exited;
const first = samples[0]!;
const last = samples.at(-1)!;
const report = [
  `Soak: ${minutes} min, schedule every 1 s, hooks pass / fail / flap (fails 1 run in 3) / leaves a child (\`sleep &\`),`,
  `${IN_FLIGHT} clients posting \`/evaluate\` back to back. Daemon from source, Bun ${Bun.version}.`,
  "",
  "| time | RSS | of which anonymous | open fds | children left running | evaluations | triggers answered | errors |",
  "| --- | --- | --- | --- | --- | --- | --- | --- |",
  ...samples.map(
    (s) =>
      `| ${s.atS} s | ${s.rssMb.toFixed(1)} MB | ${s.anonMb.toFixed(1)} MB | ${s.fds} | ${s.children} | ${s.evaluations} | ${s.answered} | ${s.errors} |`,
  ),
  "",
  `From first to last sample: RSS ${(last.rssMb - first.rssMb).toFixed(1)} MB, open fds ${last.fds - first.fds}, children left ${last.children}.`,
  `The daemon exited ${exitCode} on SIGTERM.`,
].join("\n");
console.log(report);
if (values.write) publishReport("soak", report);
rmSync(work, { recursive: true, force: true });

/** Runs the attacks with `trigger` and the demotion checks beside them until the end; returns the report. */
async function runAbuse(sampler: Promise<void>): Promise<{ text: string; ok: boolean }> {
  const holdMs = WRITE_TIMEOUT_MS + 2_000;
  const attacks: Attack[] = [unreadReplies(socket, holdMs), idleFlood(socket, 300), slowloris(socket, 32), pipelining(socket, holdMs)];
  const tally: TriggerTally = { byDaemon: 0, fallback: 0, failed: 0, slowestMs: 0 };
  const failures: string[] = [];
  const triggers = (async () => {
    while (performance.now() < endAt) {
      const started = performance.now();
      const proc = Bun.spawn(["bun", join(REPO, "src", "cli.ts"), "trigger", "--config", config], { stdout: "ignore", stderr: "pipe" });
      const [stderr, code] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
      const ms = performance.now() - started;
      tally.slowestMs = Math.max(tally.slowestMs, ms);
      // The fail hook fails: exit 1 is an answer.
      if (code !== 0 && code !== 1) {
        tally.failed++;
        failures.push(`trigger exited ${code}: ${stderr.trim()}`);
      } else if (stderr.includes("evaluating here")) {
        tally.fallback++;
        failures.push(`trigger fell back: ${stderr.trim()}`);
      } else tally.byDaemon++;
      answered = tally.byDaemon;
      errors = tally.failed + tally.fallback;
      await Bun.sleep(Math.max(0, TRIGGER_EVERY_MS - ms));
    }
  })();
  const demotionFile = join(bin, "demotion");
  const readDemotion = () => {
    try {
      return Number(readFileSync(demotionFile, "utf8").trim());
    } catch {
      return 0;
    }
  };
  let resets = 0;
  let slowestRedemoteMs = 0;
  const resetter = (async () => {
    while (performance.now() + RESET_EVERY_MS < endAt) {
      await Bun.sleep(RESET_EVERY_MS);
      // As leaving CARP maintenance mode does: the kernel's value back to 0, our bit gone.
      writeFileSync(demotionFile, "0\n");
      resets++;
      const since = performance.now();
      while (readDemotion() !== BIT) {
        if (performance.now() - since > REDEMOTE_WITHIN_MS) {
          failures.push(`the failing check was not demoted again within ${REDEMOTE_WITHIN_MS} ms of reset ${resets}`);
          break;
        }
        await Bun.sleep(50);
      }
      slowestRedemoteMs = Math.max(slowestRedemoteMs, performance.now() - since);
    }
  })();
  await Promise.all([triggers, resetter, sampler]);
  for (const attack of attacks) attack.stop();
  daemon.kill("SIGTERM");
  const exitCode = await daemon.exited;
  const first = samples[0]!;
  const peak = Math.max(...samples.map((s) => s.rssMb));
  if (peak - first.rssMb > RSS_BOUND_MB) failures.push(`RSS grew by ${(peak - first.rssMb).toFixed(1)} MB (bound ${RSS_BOUND_MB} MB)`);
  if (exitCode !== 0) failures.push(`the daemon exited ${exitCode} on SIGTERM`);
  const text = [
    `Soak under abuse: ${minutes} min, schedule every 1 s, hooks pass / fail / flap / leave a child, and twelve that print`,
    `4 KiB each (a /status of about 300 KB). Daemon from source, Bun ${Bun.version}. All the while on its socket:`,
    ...attacks.map((a) => `- ${a.name}: ${a.opened()} connections opened`),
    `The request deadline is ${REQUEST_TIMEOUT_MS / 1000} s and the write deadline ${WRITE_TIMEOUT_MS / 1000} s; unread clients are held ${holdMs / 1000} s.`,
    `\`trigger\` (the CLI, a new process) ran every ${TRIGGER_EVERY_MS / 1000} s; the demotion was reset to 0 every ${RESET_EVERY_MS / 1000} s.`,
    "",
    "| time | RSS | of which anonymous | open fds | evaluations | triggers answered by the daemon | triggers that fell back or failed |",
    "| --- | --- | --- | --- | --- | --- | --- |",
    ...samples.map(
      (s) =>
        `| ${s.atS} s | ${s.rssMb.toFixed(1)} MB | ${s.anonMb.toFixed(1)} MB | ${s.fds} | ${s.evaluations} | ${s.answered} | ${s.errors} |`,
    ),
    "",
    `Triggers: ${tally.byDaemon} answered by the daemon, ${tally.fallback} fell back, ${tally.failed} failed; the slowest took ${Math.round(tally.slowestMs)} ms.`,
    `Demotion reset ${resets} times, the failing check demoted again each time within ${Math.round(slowestRedemoteMs)} ms at most.`,
    `RSS: first ${first.rssMb.toFixed(1)} MB, peak ${peak.toFixed(1)} MB, last ${samples.at(-1)!.rssMb.toFixed(1)} MB. The daemon exited ${exitCode} on SIGTERM.`,
    failures.length === 0 ? "Every check held." : `FAILED:\n${failures.map((f) => `- ${f}`).join("\n")}`,
  ].join("\n");
  return { text, ok: failures.length === 0 };
}
