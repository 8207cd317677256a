/**
 * The clocks flap control measures with: CLOCK_MONOTONIC, which processes of one boot share, and
 * the boot's id. Bun's own monotonic clocks start with the process, so this is what makes a
 * hold-down comparable between a daemon and a check.
 */
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { createSystemClock, systemClock } from "../src/system/clock.ts";
import { REPO } from "./helpers.ts";

test("on Linux the boot is the kernel's boot_id, and the clock needs no note", () => {
  const clock = systemClock();
  expect(clock.read().boot).toBe(readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim());
  expect(clock.note ?? null).toBeNull();
});

test("a reading in another process falls between two of ours: one system-wide monotonic clock", async () => {
  const clock = systemClock();
  const before = clock.read();
  const child = Bun.spawnSync([
    process.execPath,
    "-e",
    `import { systemClock } from "${REPO}/src/system/clock.ts"; console.log(JSON.stringify(systemClock().read()));`,
  ]);
  const after = clock.read();
  const theirs = JSON.parse(child.stdout.toString());
  expect(theirs.boot).toBe(before.boot);
  expect(theirs.process).not.toBe(before.process);
  expect(theirs.monotonicMs).toBeGreaterThan(before.monotonicMs);
  expect(theirs.monotonicMs).toBeLessThan(after.monotonicMs);
});

test("readings move with time: the monotonic clock as much as the wall clock", async () => {
  const clock = systemClock();
  const first = clock.read();
  await Bun.sleep(50);
  const second = clock.read();
  const monotonic = second.monotonicMs - first.monotonicMs;
  expect(monotonic).toBeGreaterThanOrEqual(49);
  expect(Math.abs(second.wallMs - first.wallMs - monotonic)).toBeLessThan(250);
});

test("without a clock_gettime binding the readings are this process's own, and say so", () => {
  const clock = createSystemClock("sunos");
  const reading = clock.read();
  expect(reading.boot).toBe(`process-${reading.process}`);
  expect(clock.note).toContain("a hold-down is measured within one process only");
});
