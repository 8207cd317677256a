#!/usr/bin/env bun
/**
 * `bun run soak -- --minutes N`: the daemon under continuous operation. A 1 s schedule, hooks that
 * pass, fail, flap and leave children behind, and a client hammering `POST /evaluate` (four in
 * flight) for N minutes (default 5). Every 30 s it samples the daemon's RSS, open descriptors and
 * the processes left running, and at the end prints the table. `--write` also puts it in
 * bench/soak.md and the README. Linux only (it reads /proc), like the benchmarks.
 */
import { chmodSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { publishReport, REPO, usage } from "./report-files.ts";

const { values } = parseArgs({ options: { minutes: { type: "string", default: "5" }, write: { type: "boolean", default: false } } });
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
