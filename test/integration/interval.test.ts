/**
 * intervalMs with a real daemon on a per-second schedule: a slow check runs once per interval
 * across ten scheduled runs and its kept result decides; a trigger does not run it early, `--all`
 * does; `check` shares the kept result; a changed hook file or configuration runs it again.
 */
import { afterEach, expect, test } from "bun:test";
import { existsSync, readFileSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { intervalSlackMs } from "../../src/engine/result-cache.ts";
import { type DaemonProcess, makeSandbox, runCli, type Sandbox, spawnDaemon, waitFor } from "../helpers.ts";

const BIT = 1048576;
let sandbox: Sandbox;
let daemon: DaemonProcess | null = null;
afterEach(async () => {
  await daemon?.stop();
  daemon = null;
  sandbox.cleanup();
});

/** A check that records each run's start (ms since the epoch), takes a while, and exits with what `flag` holds. */
function slowCheck(name: string, flag: string, runs: string): string {
  writeFileSync(flag, "0\n");
  return sandbox.addHook(name, {
    content: `#!/bin/sh\necho $(($(date +%s%N) / 1000000)) >> ${JSON.stringify(runs)}\nsleep 0.3\necho "slow check"\nexit $(cat ${JSON.stringify(flag)})\n`,
  });
}

const lines = (file: string) => (existsSync(file) ? readFileSync(file, "utf8").trim().split("\n").filter(Boolean) : []);

test("a slow check runs once per interval across ten scheduled runs, its kept result decides, and --all runs it now", async () => {
  sandbox = makeSandbox();
  const [flag, runs, flag2, runs2] = ["flag", "runs", "flag2", "runs2"].map((name) => join(sandbox.dir, name)) as [
    string,
    string,
    string,
    string,
  ];
  const hourly = slowCheck("hourly", flag, runs);
  slowCheck("often", flag2, runs2);
  writeFileSync(flag, "1\n");
  const hooks = { hourly: { intervalMs: 3_600_000 }, often: { intervalMs: 2_000 } };
  const configText = (timeoutMs: number) =>
    `${readFileSync(sandbox.writeConfig({ schedule: "* * * * * *", logLevel: "info" }), "utf8")}\n[hooks."hourly"]\nintervalMs = ${hooks.hourly.intervalMs}\ntimeoutMs = ${timeoutMs}\n\n[hooks."often"]\nintervalMs = ${hooks.often.intervalMs}\n`;
  writeFileSync(sandbox.configFile, configText(5000));
  daemon = await spawnDaemon(sandbox);
  const status = () => daemon!.call("status");
  await waitFor(async () => (await status()).lastRun, "the first evaluation");
  expect(sandbox.demotion()).toBe(BIT);
  // From now on the check would pass; its kept failure still decides.
  writeFileSync(flag, "0\n");
  const scheduledAtStart = (await status()).counters.scheduled;
  await waitFor(async () => (await status()).counters.scheduled >= scheduledAtStart + 10, "ten scheduled runs", 30_000);

  expect(lines(runs)).toHaveLength(1);
  expect(sandbox.demotion()).toBe(BIT);
  const kept = (await status()).services.find((s: { name: string }) => s.name === "hourly");
  expect(kept).toMatchObject({ status: "fail", exitCode: 1, cached: true, output: "slow check\n" });
  expect(kept.ageMs).toBeGreaterThanOrEqual(9_000);
  // The shorter interval: never run more often than intervalMs (less its slack), and run again once it passed.
  const starts = lines(runs2).map(Number);
  expect(starts.length).toBeGreaterThanOrEqual(3);
  for (let i = 1; i < starts.length; i++) expect(starts[i]! - starts[i - 1]!).toBeGreaterThanOrEqual(2_000 - intervalSlackMs(2_000));

  // A trigger does not run it early; --all does, and its result decides at once.
  const trigger = await runCli(["trigger", "--config", sandbox.configFile]);
  expect(trigger.stdout).toMatch(/hourly\s+fail\s+1\s+\d+ ms, \d+ s ago/);
  expect(lines(runs)).toHaveLength(1);
  const all = await runCli(["trigger", "--all", "--config", sandbox.configFile]);
  expect(all.stdout).toContain("demotion 1048576 -> 0: promoted");
  expect(lines(runs)).toHaveLength(2);
  expect(sandbox.demotion()).toBe(0);

  // A one-shot check shares the kept result through the state file.
  const check = await runCli(["check", "--config", sandbox.configFile]);
  expect(check.stdout).toMatch(/hourly\s+pass\s+0\s+\d+ ms, \d+ s ago/);
  expect(lines(runs)).toHaveLength(2);

  // A new modification time of the hook file: it runs at the next scheduled run.
  const later = new Date(Date.now() + 60_000);
  utimesSync(hourly, later, later);
  await waitFor(() => lines(runs).length === 3, "a run after the hook file changed", 10_000);

  // A changed configuration (a reload): it runs again too.
  writeFileSync(sandbox.configFile, configText(6000));
  daemon.proc.kill("SIGHUP");
  await daemon.waitForLog((line) => line.msg === "configuration reloaded");
  await waitFor(() => lines(runs).length === 4, "a run after the configuration changed", 10_000);
}, 60_000);
