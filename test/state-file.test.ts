/**
 * The flap history on disk: a missing file is no history; a file that cannot be read or used is a
 * lost history with the reason, never a crash and never a hang; times come back only on the
 * clock they were taken on.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type FlapHistory, NO_HISTORY } from "../src/engine/flap.ts";
import {
  CLOCK_STEP_TOLERANCE_MS,
  clockMismatch,
  formatState,
  historyAsOf,
  readHistory,
  STATE_FILE_MAX_BYTES,
  writeHistory,
} from "../src/engine/state-file.ts";
import { timeline } from "./fake-clock.ts";

let dir = "";
afterEach(() => rmSync(dir, { recursive: true, force: true }));
function scratch(): string {
  dir = mkdtempSync(join(tmpdir(), "carp-state-"));
  return join(dir, "state");
}

const HOOKS = { ospf: { state: "fail" as const, streak: 1 } };

/** A history whose times are on the timeline's monotonic clock as it reads now. */
function historyAt(now: number): FlapHistory {
  return { hooks: HOOKS, passingSince: now - 5_000, bitSet: true, observedAt: now - 1_000 };
}

describe("reading back", () => {
  test("what a process writes it reads back as it was", () => {
    const file = scratch();
    const time = timeline();
    const clock = time.clock("daemon");
    const history = historyAt(clock.reading().monotonicMs);
    expect(writeHistory(file, history, clock.reading())).toBeNull();
    time.advance(10_000);
    expect(readHistory(file, clock.reading())).toEqual({ status: "read", history, note: null });
  });

  test("another process of the same boot takes the times as they are, whatever the wall clock did since", () => {
    const file = scratch();
    const time = timeline();
    const writer = time.clock("check-1").reading();
    const history = historyAt(writer.monotonicMs);
    writeHistory(file, history, writer);
    time.advance(2_000);
    time.stepWall(3_600_000);
    expect(readHistory(file, time.clock("check-2").reading())).toEqual({ status: "read", history, note: null });
  });

  test("after a reboot the counters stand and the hold-down starts over", () => {
    const file = scratch();
    const time = timeline();
    const writer = time.clock("check-1").reading();
    writeHistory(file, historyAt(writer.monotonicMs), writer);
    time.reboot();
    const read = readHistory(file, time.clock("check-2").reading());
    expect(read).toEqual({
      status: "read",
      history: { hooks: HOOKS, passingSince: null, bitSet: true, observedAt: null },
      note: "The hold-down starts over: the machine has restarted since it was written",
    });
  });

  test("a missing file is no history", () => {
    expect(readHistory(scratch(), timeline().clock("p").reading())).toEqual({ status: "missing", history: NO_HISTORY });
  });

  test("a state of version 1 keeps its counters and drops its wall-clock times", () => {
    const file = scratch();
    writeFileSync(
      file,
      JSON.stringify({ version: 1, hooks: HOOKS, passingSince: 1_796_000_000_000, bitSet: true, observedAt: 1_796_000_001_000 }),
    );
    const read = readHistory(file, timeline().clock("p").reading());
    expect(read).toEqual({
      status: "read",
      history: { hooks: HOOKS, passingSince: null, bitSet: true, observedAt: null },
      note: "The hold-down starts over: it was written by a version that kept wall-clock times",
    });
  });

  test("the file says which clock its times are on", () => {
    const reading = timeline().clock("p").reading();
    expect(JSON.parse(formatState(historyAt(reading.monotonicMs), reading))).toEqual({
      version: 2,
      clock: { boot: "boot-1", process: "p", monotonicMs: reading.monotonicMs, wallMs: reading.wallMs },
      hooks: HOOKS,
      passingSince: reading.monotonicMs - 5_000,
      observedAt: reading.monotonicMs - 1_000,
      bitSet: true,
    });
  });
});

describe("a file that cannot be used is a lost history, with the reason", () => {
  const reading = () => timeline().clock("p").reading();
  const clock = { boot: "boot-1", process: "p", monotonicMs: 3_600_000, wallMs: 1_796_000_000_000 };
  const broken: Array<[string, string]> = [
    ["a truncated write", '{"version":2,"hooks":{"ospf":{"sta'],
    ["an empty file", ""],
    ["another version", '{"version":99,"hooks":{},"passingSince":null,"bitSet":null}'],
    ["a wrong shape", '{"version":1,"hooks":{"ospf":{"state":"maybe","streak":-1}},"passingSince":null,"bitSet":null}'],
    ["a version 1 time no Date can hold", '{"version":1,"hooks":{},"passingSince":9000000000000000,"bitSet":true}'],
    ["a version 2 without its clock", '{"version":2,"hooks":{},"passingSince":null,"observedAt":null,"bitSet":null}'],
    [
      "a time after the reading that stamped it",
      JSON.stringify({ version: 2, clock, hooks: {}, passingSince: clock.monotonicMs + 1, observedAt: null, bitSet: true }),
    ],
  ];
  for (const [what, text] of broken) {
    test(`${what}`, () => {
      const file = scratch();
      writeFileSync(file, text);
      const read = readHistory(file, reading());
      expect(read).toMatchObject({ status: "unreadable", history: NO_HISTORY, reason: expect.stringContaining(`"${file}"`) });
    });
  }

  test("a FIFO in its place is refused at once, not waited on, and the reason says how to clear it", () => {
    const file = scratch();
    Bun.spawnSync(["mkfifo", file]);
    expect(readHistory(file, reading())).toEqual({
      status: "unreadable",
      history: NO_HISTORY,
      reason: `Cannot read the state file "${file}": it is a FIFO (named pipe), not a regular file; remove it (rm "${file}") or set "stateFile" to a file of its own`,
    });
  });

  test("a character device in its place (a /dev/zero node) is refused without reading it", () => {
    const file = scratch();
    const made = Bun.spawnSync(["mknod", file, "c", "1", "5"]);
    expect(made.exitCode).toBe(0);
    expect(readHistory(file, reading())).toMatchObject({
      status: "unreadable",
      // Never "rm" for a device: stateFile = "/dev/zero" must not end in rm /dev/zero.
      reason: `Cannot read the state file "${file}": it is a character device, not a regular file; set "stateFile" to a file of its own`,
    });
  });

  test("a FIFO or a device in its place is not replaced by a write either: the admin is told to remove it", () => {
    const file = scratch();
    expect(Bun.spawnSync(["mknod", file, "c", "1", "5"]).exitCode).toBe(0);
    const now = reading();
    expect(writeHistory(file, historyAt(now.monotonicMs), now)).toBe(
      `Cannot write the state file "${file}": it is a character device, which we do not replace; set "stateFile" to a file of its own`,
    );
    expect(lstatSync(file).isCharacterDevice()).toBe(true);
    rmSync(file);
    Bun.spawnSync(["mkfifo", file]);
    expect(writeHistory(file, historyAt(now.monotonicMs), now)).toContain("it is a FIFO (named pipe), which we do not replace");
    expect(lstatSync(file).isFIFO()).toBe(true);
  });

  test("a directory in its place is refused", () => {
    const file = scratch();
    mkdirSync(file);
    expect(readHistory(file, reading())).toMatchObject({ status: "unreadable", reason: expect.stringContaining("it is a directory") });
  });

  test("a file over the cap is refused, not read into memory", () => {
    const file = scratch();
    writeFileSync(file, " ".repeat(STATE_FILE_MAX_BYTES + 1));
    expect(readHistory(file, reading())).toMatchObject({
      status: "unreadable",
      reason: expect.stringContaining(`it holds more than ${STATE_FILE_MAX_BYTES} bytes`),
    });
  });

  test("a symbolic link planted in place of the file is neither followed for reading nor written through", () => {
    const file = scratch();
    const target = join(dir, "target");
    writeFileSync(target, "precious\n");
    symlinkSync(target, file);
    expect(readHistory(file, reading())).toMatchObject({ status: "unreadable", reason: expect.stringContaining("symbolic link") });
    // A fresh temporary file is written, then renamed over the link: the link goes, its target stays.
    const now = reading();
    expect(writeHistory(file, historyAt(now.monotonicMs), now)).toBeNull();
    expect(readFileSync(target, "utf8")).toBe("precious\n");
    expect(readHistory(file, now)).toMatchObject({ status: "read", history: historyAt(now.monotonicMs) });
  });
});

describe("clockMismatch: whether stored times are on this clock", () => {
  const cases: Array<{
    what: string;
    between: (t: ReturnType<typeof timeline>) => void;
    bootIds: boolean;
    process?: string;
    fits: boolean;
  }> = [
    { what: "the same process, after a wall-clock step", between: (t) => t.stepWall(3_600_000), bootIds: false, process: "a", fits: true },
    { what: "another process of the same boot", between: (t) => t.advance(60_000), bootIds: true, fits: true },
    {
      what: "another process of the same boot, the wall clock stepped +1 h",
      between: (t) => t.stepWall(3_600_000),
      bootIds: true,
      fits: true,
    },
    { what: "another boot", between: (t) => t.reboot(), bootIds: true, fits: false },
    { what: "no boot ids, the wall clock steady", between: (t) => t.advance(60_000), bootIds: false, fits: true },
    {
      what: "no boot ids, the wall clock stepped within the tolerance",
      between: (t) => t.stepWall(CLOCK_STEP_TOLERANCE_MS),
      bootIds: false,
      fits: true,
    },
    { what: "no boot ids, the wall clock stepped +1 h", between: (t) => t.stepWall(3_600_000), bootIds: false, fits: false },
    { what: "no boot ids, the wall clock stepped -1 h", between: (t) => t.stepWall(-3_600_000), bootIds: false, fits: false },
    { what: "no boot ids, a reboot", between: (t) => t.reboot({ uptimeMs: 4_000_000 }), bootIds: false, fits: false },
  ];
  for (const { what, between, bootIds, process = "b", fits } of cases) {
    test(`${what}: ${fits ? "comparable" : "not comparable"}`, () => {
      const time = timeline();
      const stored = time.clock("a", { bootId: bootIds }).reading();
      between(time);
      const mismatch = clockMismatch(stored, time.clock(process, { bootId: bootIds }).reading());
      if (fits) expect(mismatch).toBeNull();
      else expect(mismatch).toEqual(expect.any(String));
    });
  }

  test("a stepped clock without boot ids is named in the note, with the size of the step", () => {
    const time = timeline();
    const stored = time.clock("a", { bootId: false }).reading();
    time.stepWall(3_600_000);
    const { history, note } = historyAsOf(
      { history: historyAt(stored.monotonicMs), clock: stored },
      time.clock("b", { bootId: false }).reading(),
    );
    expect(history).toEqual({ hooks: HOOKS, passingSince: null, bitSet: true, observedAt: null });
    expect(note).toBe(
      "The hold-down starts over: the wall clock has moved +3600 s against the monotonic clock since it was written (stepped, or a restart), and no boot id tells which",
    );
  });
});

describe("results kept for intervalMs", () => {
  const run = {
    ranAt: 0,
    fingerprint: "1:2:3:4:5|abc",
    result: {
      status: "pass" as const,
      exitCode: 0,
      signal: null,
      timedOut: false,
      durationMs: 3000,
      output: "ok\n",
      outputDroppedBytes: 0,
      reason: null,
      warnings: [],
    },
  };

  test("are read back with the history on the same clock, and dropped with the hold-down's times after a reboot", () => {
    const file = scratch();
    const time = timeline();
    const writer = time.clock("daemon").reading();
    const history = { ...historyAt(writer.monotonicMs), runs: { slow: { ...run, ranAt: writer.monotonicMs - 100 } } };
    expect(writeHistory(file, history, writer)).toBeNull();
    expect(readHistory(file, time.clock("check").reading())).toEqual({ status: "read", history, note: null });
    time.reboot();
    const after = readHistory(file, time.clock("daemon-2").reading());
    expect(after.status).toBe("read");
    expect(after.history.runs).toBeUndefined();
    expect(after.history.hooks).toEqual(HOOKS);
  });

  test("an entry that is not one is left out, and the history stands", () => {
    const file = scratch();
    const reading = timeline().clock("daemon").reading();
    const text = formatState({ ...historyAt(reading.monotonicMs), runs: { slow: { ...run, ranAt: 1 } } }, reading).replace(
      '"status":"pass"',
      '"status":"maybe"',
    );
    writeFileSync(file, text);
    const read = readHistory(file, reading);
    expect(read.status).toBe("read");
    expect(read.history.runs).toBeUndefined();
    expect(read.history.hooks).toEqual(HOOKS);
  });

  test("never make a file its own reader refuses: past the cap, their output goes first", () => {
    const reading = timeline().clock("daemon").reading();
    const big = Object.fromEntries(
      Array.from({ length: 600 }, (_, i) => [`hook${i}`, { ...run, ranAt: 1, result: { ...run.result, output: "x".repeat(2048) } }]),
    );
    const text = formatState({ ...historyAt(reading.monotonicMs), runs: big }, reading);
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(STATE_FILE_MAX_BYTES);
    expect(JSON.parse(text).runs.hook0.result.output).toBe("");
  });
});
