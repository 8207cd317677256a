/**
 * The Linux branch's pure parts: /proc/PID/stat, an environ block, a pidfd's
 * fdinfo (proc(5)), and which run a child we did not spawn belongs to. Real /proc where this
 * machine has one.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import type { TreeRun } from "../src/system/process-group.ts";
import { environValue, hasNoChildren, ownerOf, parsePidfdInfo, parseStat, RUN_MARKER } from "../src/system/tree-linux.ts";

/** A line as Linux 6.x writes it for `cat`, fields 1 to 52. */
const CAT =
  "8142 (cat) R 8140 8140 9367 0 -1 4194304 100 0 0 0 0 0 0 0 20 0 1 0 178736 3133440 354 18446744073709551615 94642575929344 94642575949225 140725723463376 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 94642575965232 94642575966848 94642583388160 140725723470562 140725723470582 140725723470582 140725723471851 0\n";

describe("parseStat", () => {
  test("reads state, parent, group, session and start time (fields 3, 4, 5, 6 and 22)", () => {
    expect(parseStat(CAT)).toEqual({
      pid: 8142,
      name: "cat",
      state: "R",
      ppid: 8140,
      pgrp: 8140,
      session: 9367,
      startTicks: "178736",
    });
  });

  test("counts fields from the last parenthesis: a command name may hold spaces and ') ('", () => {
    const odd = CAT.replace("(cat)", "(a) Z 1 (b c)");
    expect(parseStat(odd)).toMatchObject({ pid: 8142, name: "a) Z 1 (b c", state: "R", ppid: 8140, startTicks: "178736" });
  });

  test("a zombie reads as state Z", () => {
    expect(parseStat(CAT.replace(") R ", ") Z "))?.state).toBe("Z");
  });

  test("refuses what is not a stat line", () => {
    expect(parseStat("")).toBeNull();
    expect(parseStat("12 (x) S 1 2 3")).toBeNull();
    expect(parseStat("x (cat) R 1 1 1")).toBeNull();
  });

  test.skipIf(process.platform !== "linux")("reads this process's own line", () => {
    const own = parseStat(readFileSync("/proc/self/stat", "utf8"));
    expect(own).toMatchObject({ pid: process.pid, ppid: process.ppid });
    expect(own?.startTicks).toMatch(/^\d+$/);
  });
});

test("environValue finds one variable in a NUL-separated environ block", () => {
  const block = `PATH=/bin\0${RUN_MARKER}=123-abc\0HOME=/\0X==y\0`;
  expect(environValue(block, RUN_MARKER)).toBe("123-abc");
  expect(environValue(block, "X")).toBe("=y");
  expect(environValue(block, "PAT")).toBeNull();
  expect(environValue("", RUN_MARKER)).toBeNull();
});

test("parsePidfdInfo reads the pid a pidfd refers to", () => {
  expect(parsePidfdInfo("pos:\t0\nflags:\t02000002\nmnt_id:\t15\nino:\t1057\nPid:\t15397\nNSpid:\t15397\n")).toBe(15397);
  expect(parsePidfdInfo("Pid:\t-1\n")).toBe(-1);
  expect(parsePidfdInfo("pos:\t0\n")).toBeNull();
});

describe("ownerOf: which run a child we did not spawn belongs to", () => {
  const run = (pid: number, token: string | null): TreeRun => ({ id: pid, pid, start: "1", token, what: "h", leaderGone: false });
  const runs = [run(100, "t-100"), run(200, "t-200")];

  test("the run whose marker it carries, whatever session or group it is in", () => {
    expect(ownerOf({ pid: 5, token: "t-200", session: 5, pgrp: 5 }, runs)?.pid).toBe(200);
    expect(ownerOf({ pid: 5, token: "t-200", session: 100, pgrp: 100 }, runs)?.pid).toBe(200);
  });

  test("a marker of no run we know (another instance's) makes it nobody's here", () => {
    expect(ownerOf({ pid: 5, token: "t-999", session: 100, pgrp: 100 }, runs)).toBeNull();
  });

  test("without a marker, the run whose session or group it kept", () => {
    expect(ownerOf({ pid: 5, token: null, session: 100, pgrp: 5 }, runs)?.pid).toBe(100);
    expect(ownerOf({ pid: 5, token: null, session: 7, pgrp: 200 }, runs)?.pid).toBe(200);
    expect(ownerOf({ pid: 5, token: null, session: 5, pgrp: 5 }, runs)).toBeNull();
  });

  test("never a run's own leader", () => {
    expect(ownerOf({ pid: 100, token: null, session: 100, pgrp: 100 }, runs)).toBeNull();
  });
});

// The scan of /proc after a run is skipped while we have no child at all (waitid(2), ECHILD).
test.skipIf(process.platform !== "linux")("hasNoChildren: false while a child lives or lies unreaped, true once none is left", async () => {
  const child = Bun.spawn(["sleep", "30"], { stdout: "ignore", stderr: "ignore" });
  try {
    expect(hasNoChildren()).toBe(false);
    process.kill(child.pid, "SIGKILL");
    // Dead but maybe not reaped yet: still a child, and the look must not reap it (WNOWAIT).
    expect(hasNoChildren()).toBe(false);
  } finally {
    child.kill("SIGKILL");
    expect(await child.exited).not.toBe(0);
  }
  expect(child.signalCode).toBe("SIGKILL");
  expect(hasNoChildren()).toBe(true);
});
