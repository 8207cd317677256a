/**
 * Flap control in real processes: a 1 s schedule and a flapping hook that never fails three runs
 * in a row never demotes under fall = 3; a held promotion happens when its hold-down ends, on the
 * daemon's own timer; a wall clock stepped by libfaketime ends no hold-down early; and a state
 * directory that cannot be written never lets a promotion through early.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { type DaemonProcess, makeSandbox, runCli, type Sandbox, spawnDaemon, waitFor } from "../helpers.ts";
import { makeReadOnly, type ReadOnlyDir, readOnlyPrefix } from "../read-only-dir.ts";

const BIT = 1048576;
let sandbox: Sandbox;
let daemon: DaemonProcess | null = null;
afterEach(async () => {
  await daemon?.stop();
  daemon = null;
  sandbox.cleanup();
});

test("a hook failing every other run never demotes under fall = 3", async () => {
  sandbox = makeSandbox({ fall: 3, schedule: "* * * * * *" });
  const runs = join(sandbox.dir, "runs");
  // Passes on odd runs, fails on even ones: never two failures in a row.
  sandbox.addHook("flappy", {
    content: `#!/bin/sh\nn=$(($(cat ${runs} 2>/dev/null || echo 0) + 1))\necho $n > ${runs}\n[ $((n % 2)) -eq 1 ]\n`,
  });
  daemon = await spawnDaemon(sandbox);
  await waitFor(async () => (await daemon!.call("status")).counters.evaluations >= 6, "six evaluations", 12_000);
  const status = await daemon.call("status");
  expect(Number(readFileSync(runs, "utf8"))).toBeGreaterThanOrEqual(6);
  expect(sandbox.demotion()).toBe(0);
  expect(sandbox.syslog()).toEqual([]);
  expect(status.counters.demotions).toBe(0);
  expect(status.services[0].counted.state).toBe("pass");
}, 20_000);

test("a held promotion waits for promoteDelayMs, then happens on time without a tick or trigger", async () => {
  sandbox = makeSandbox({ promoteDelayMs: 2000, schedule: false });
  const broken = join(sandbox.dir, "broken");
  writeFileSync(broken, "");
  sandbox.addHook("ospf", { content: `#!/bin/sh\n[ ! -e ${broken} ]\n` });
  daemon = await spawnDaemon(sandbox);
  await waitFor(() => sandbox.demotion() === BIT, "the start-up demotion");
  rmSync(broken);
  const passing = await daemon.call("evaluate");
  const passedAt = Date.now();
  expect(passing.action).toBe("none");
  expect(passing.promotionHeld.remainingMs).toBe(2000);
  expect(sandbox.demotion()).toBe(BIT);
  await waitFor(() => sandbox.demotion() === 0, "the promotion", 5000);
  const waitedMs = Date.now() - passedAt;
  expect(waitedMs).toBeGreaterThanOrEqual(1900);
  expect(waitedMs).toBeLessThan(3500);
  // The syslog line follows the write.
  await waitFor(() => sandbox.syslog().at(-1)?.includes("carp promoted by 1048576 due to service recovery"), "the promotion's syslog line");
  // Counted once the evaluation has ended, after the state file is written (and synced).
  await waitFor(async () => (await daemon!.call("status")).counters.promotions === 1, "the promotion counted");
  const status = await daemon.call("status");
  expect(status.counters).toMatchObject({ triggers: 1, scheduled: 0, promotions: 1 });
}, 20_000);

/** libfaketime, from the Debian package `faketime` (.ci/run installs it). */
function libfaketime(): string {
  const found = [...new Bun.Glob("/usr/lib/*/faketime/libfaketime.so.1").scanSync({ onlyFiles: true })][0];
  if (!found) throw new Error("libfaketime is missing: apt-get install faketime");
  return found;
}

/**
 * The environment that steps this process's wall clock as NTP does: CLOCK_REALTIME only
 * (FAKETIME_DONT_FAKE_MONOTONIC), by the offset in `file` ("+0", "+1h"), read again every second.
 */
function steppedClock(file: string): Record<string, string> {
  return {
    LD_PRELOAD: libfaketime(),
    FAKETIME_TIMESTAMP_FILE: file,
    FAKETIME_CACHE_DURATION: "1",
    FAKETIME_DONT_FAKE_MONOTONIC: "1",
  };
}

const HOUR_MS = 3_600_000;

test("a daemon whose wall clock steps +1 h during a 300 s hold-down does not promote early", async () => {
  sandbox = makeSandbox({ promoteDelayMs: 300_000, schedule: "* * * * * *", logLevel: "info" });
  const broken = join(sandbox.dir, "broken");
  writeFileSync(broken, "");
  sandbox.addHook("ospf", { content: `#!/bin/sh\n[ ! -e ${broken} ]\n` });
  const offset = join(sandbox.dir, "faketime");
  writeFileSync(offset, "+0\n");
  daemon = await spawnDaemon(sandbox, { env: steppedClock(offset) });
  await waitFor(() => sandbox.demotion() === BIT, "the start-up demotion");
  rmSync(broken);
  await daemon.waitForLog((line) => String(line.msg).startsWith("promotion held for 300 s"), 5000);
  writeFileSync(offset, "+1h\n");
  // Runs after the step: their start, on the daemon's wall clock, is an hour ahead of ours.
  await waitFor(
    async () => Date.parse((await daemon!.call("status")).lastRun.startedAt) > Date.now() + HOUR_MS - 60_000,
    "a run after the step",
  );
  const after = (await daemon.call("status")).counters.scheduled;
  await waitFor(async () => (await daemon!.call("status")).counters.scheduled >= after + 3, "three more scheduled runs", 8000);
  const status = await daemon.call("status");
  expect(sandbox.demotion()).toBe(BIT);
  expect(sandbox.syslog().filter((line) => line.includes("promoted"))).toEqual([]);
  expect(status.counters.promotions).toBe(0);
  // The hold-down goes on as measured on the monotonic clock, shown on the stepped wall clock.
  expect(status.promotionHeld.remainingMs).toBeGreaterThan(280_000);
  expect(Date.parse(status.promotionHeld.until)).toBeGreaterThan(Date.now() + HOUR_MS);
}, 30_000);

test("a daemon's schedule keeps ticking when the wall clock steps back an hour", async () => {
  sandbox = makeSandbox({ schedule: "* * * * * *" });
  sandbox.addHook("ok", { fixture: "pass" });
  const offset = join(sandbox.dir, "faketime");
  writeFileSync(offset, "+0\n");
  daemon = await spawnDaemon(sandbox, { env: steppedClock(offset) });
  await waitFor(async () => (await daemon!.call("status")).counters.scheduled >= 1, "a scheduled run");
  writeFileSync(offset, "-1h\n");
  await waitFor(
    async () => Date.parse((await daemon!.call("status")).lastRun.startedAt) < Date.now() - HOUR_MS + 60_000,
    "a run after the step",
  );
  const after = (await daemon.call("status")).counters.scheduled;
  await waitFor(async () => (await daemon!.call("status")).counters.scheduled >= after + 3, "three more scheduled runs", 8000);
}, 30_000);

test("one-shot checks: a wall clock stepped +1 h between them does not end a hold-down early", async () => {
  sandbox = makeSandbox({ promoteDelayMs: 300_000 });
  const hook = sandbox.addHook("ospf", { fixture: "fail" });
  const check = (env: Record<string, string> = {}) => runCli(["check", "--config", sandbox.configFile, "--json"], { env });
  expect((await check()).exitCode).toBe(1);
  rmSync(hook);
  sandbox.addHook("ospf", { fixture: "pass" });
  const held = JSON.parse((await check()).stdout);
  expect(held.promotionHeld.remainingMs).toBe(300_000);
  const stepped = await check({ LD_PRELOAD: libfaketime(), FAKETIME: "+1h", FAKETIME_DONT_FAKE_MONOTONIC: "1" });
  const evaluation = JSON.parse(stepped.stdout);
  expect(stepped.exitCode).toBe(0);
  expect(Date.parse(evaluation.startedAt)).toBeGreaterThan(Date.now() + HOUR_MS - 60_000);
  expect(evaluation.action).toBe("none");
  expect(evaluation.promotionHeld.remainingMs).toBeGreaterThan(280_000);
  expect(sandbox.demotion()).toBe(BIT);
}, 20_000);

describe("a state directory that cannot be written (a read-only /var/run)", () => {
  let readOnly: ReadOnlyDir | null = null;
  afterEach(() => {
    readOnly?.release();
    readOnly = null;
  });

  /** rise 3 and a minute's hold-down, the state in a directory of its own: fail, then pass once. */
  async function failThenPassOnce() {
    const stateDir = join(mkdtempSync(join(tmpdir(), "carp-state-dir-")), "run");
    mkdirSync(stateDir, { mode: 0o755 });
    sandbox = makeSandbox({ rise: 3, promoteDelayMs: 60_000, stateFile: join(stateDir, "carp_service_status.state") });
    const broken = join(sandbox.dir, "broken");
    writeFileSync(broken, "");
    sandbox.addHook("ospf", { content: `#!/bin/sh\n[ ! -e ${broken} ]\n` });
    const prefix = readOnlyPrefix();
    const run = (...args: string[]) => runCli([...args, "--config", sandbox.configFile], { prefix });
    expect((await run("check")).exitCode).toBe(1);
    rmSync(broken);
    const once = await run("check");
    // Still counted as failed: exit 1.
    expect(once.exitCode).toBe(1);
    expect(once.stdout).toContain("pass, counts as fail (passing 1 of 3)");
    return { stateDir, run, broken, cleanup: () => rmSync(dirname(stateDir), { recursive: true, force: true }) };
  }

  test("check keeps the bit and exits 3 with the reason; it still demotes at once", async () => {
    const { stateDir, run, broken, cleanup } = await failThenPassOnce();
    try {
      readOnly = makeReadOnly(stateDir);
      const check = await run("check");
      expect(check.exitCode).toBe(3);
      expect(sandbox.demotion()).toBe(BIT);
      expect(check.stdout).toContain("pass, counts as fail (passing 1 of 3)");
      expect(check.stdout).toContain(
        `warning: The 2^20 bit stays set although every check passes: Cannot write the state file "${sandbox.config.stateFile}"`,
      );
      // trigger's fallback and configd's evaluate take the same path.
      const trigger = await run("trigger");
      expect(trigger.exitCode).toBe(3);
      expect(trigger.stdout).toContain("warning: The 2^20 bit stays set");
      const configd = await runCli(["configd", "evaluate", "--config", sandbox.configFile], { prefix: readOnly.prefix });
      expect(configd.exitCode).toBe(0);
      expect(configd.stdout).toContain("warning: The 2^20 bit stays set");
      expect(sandbox.demotion()).toBe(BIT);
      expect(sandbox.syslog().filter((line) => line.includes("promoted"))).toEqual([]);
      // Someone clears the bit (leaving maintenance mode) while the check fails: demoted at once.
      sandbox.setDemotion(0);
      writeFileSync(broken, "");
      expect((await run("check")).exitCode).toBe(1);
      expect(sandbox.demotion()).toBe(BIT);
    } finally {
      readOnly?.release();
      cleanup();
    }
  }, 30_000);

  test("the daemon keeps counting in memory: rise and the hold-down still hold, and it promotes on time", async () => {
    const { stateDir, broken, cleanup } = await failThenPassOnce();
    try {
      sandbox.writeConfig({ schedule: false, promoteDelayMs: 2000, rise: 2 });
      writeFileSync(broken, "");
      daemon = await spawnDaemon(sandbox, { prefix: readOnlyPrefix() });
      await waitFor(async () => (await daemon!.call("status")).counters.evaluations >= 1, "the start-up evaluation");
      readOnly = makeReadOnly(stateDir);
      rmSync(broken);
      const first = await daemon.call("evaluate");
      expect(first.action).toBe("none");
      expect(first.services[0].counted).toEqual({ state: "fail", streak: 1, needed: 2 });
      expect(first.warnings).toEqual([expect.stringContaining("the daemon keeps counting in memory")]);
      const second = await daemon.call("evaluate");
      expect(second.promotionHeld.remainingMs).toBe(2000);
      expect(sandbox.demotion()).toBe(BIT);
      await waitFor(() => sandbox.demotion() === 0, "the promotion when the hold-down ends", 6000);
      writeFileSync(broken, "");
      expect((await daemon.call("evaluate")).action).toBe("demoted");
      // A lasting problem is one log line, not one per run.
      expect(daemon.logs().filter((line) => String(line.msg).includes("keeps counting in memory"))).toHaveLength(1);
    } finally {
      readOnly?.release();
      cleanup();
    }
  }, 30_000);
});
