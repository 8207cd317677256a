/**
 * Flap control in the real daemon: a 1 s schedule and a flapping hook that never fails three runs
 * in a row never demotes under fall = 3, and a held promotion happens when its hold-down ends, on
 * the daemon's own timer rather than at the next tick or trigger.
 */
import { afterEach, expect, test } from "bun:test";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type DaemonProcess, makeSandbox, type Sandbox, spawnDaemon, waitFor } from "../helpers.ts";

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
