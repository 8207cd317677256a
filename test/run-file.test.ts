/**
 * The run file's pure parts: where it lives, its format, and what a starting daemon makes of a
 * file a killed one left. Real daemons and signals are in
 * integration/process-tree.test.ts.
 */
import { describe, expect, test } from "bun:test";
import type { ProcessInfo } from "../src/system/process-group.ts";
import { formatRunFile, parseRunFile, planRecovery, type RunFile, runFilePath } from "../src/system/run-file.ts";

test("the run file sits beside the state file", () => {
  expect(runFilePath("/var/run/carp_service_status.state")).toBe("/var/run/carp_service_status.running");
  expect(runFilePath("/tmp/carp-service-status/state")).toBe("/tmp/carp-service-status/state.running");
});

const FILE: RunFile = {
  daemon: { pid: 50, start: "500", name: "carp-service-status" },
  boot: "boot-1",
  processes: [
    { pid: 60, start: "600", name: "/hooks/frr" },
    { pid: 70, start: "700", name: "sleep" },
  ],
};

test("a run file reads back as written, and anything else is refused with the reason", () => {
  expect(parseRunFile(formatRunFile(FILE))).toEqual(FILE);
  expect(() => parseRunFile("{")).toThrow();
  expect(() => parseRunFile(JSON.stringify({ ...FILE, daemon: null }))).toThrow("no daemon recorded");
  expect(() => parseRunFile(JSON.stringify({ ...FILE, processes: [{ pid: 1, start: "1", name: "init" }] }))).toThrow('"processes"');
  expect(() => parseRunFile(JSON.stringify({ ...FILE, processes: [{ pid: 9, start: "", name: "x" }] }))).toThrow('"processes"');
});

function running(pid: number, start: string, more: Partial<ProcessInfo> = {}): ProcessInfo {
  return { pid, start, name: "sleep", ppid: 1, pgid: pid, zombie: false, ...more };
}

describe("planRecovery", () => {
  test("while the daemon that wrote it runs, nothing is touched", () => {
    const plan = planRecovery(FILE, { processes: [running(50, "500"), running(60, "600")], bootId: "boot-1" });
    expect(plan).toEqual({ ownerAlive: true, toEnd: [], gone: [], replaced: [] });
  });

  test("a recorded process still running with its start is ended, with its group when it leads one, and everything below it", () => {
    const plan = planRecovery(FILE, {
      processes: [
        running(60, "600"),
        running(61, "610", { ppid: 60, pgid: 61 }),
        running(62, "620", { ppid: 61, pgid: 61 }),
        running(63, "630", { ppid: 61, zombie: true }),
        running(99, "990"),
      ],
      bootId: "boot-1",
    });
    expect(plan.ownerAlive).toBe(false);
    expect(plan.toEnd.map((p) => `${p.pid} ${p.start} ${p.leadsGroup}`)).toEqual(["60 600 true", "61 610 true", "62 620 false"]);
    expect(plan.gone.map((p) => p.pid)).toEqual([70]);
    expect(plan.replaced).toEqual([]);
  });

  test("a pid now started at another time is another process: never signalled", () => {
    const plan = planRecovery(FILE, { processes: [running(60, "601"), running(70, "700", { zombie: true })], bootId: "boot-1" });
    expect(plan.toEnd).toEqual([]);
    expect(plan.replaced.map((p) => p.pid)).toEqual([60]);
    expect(plan.gone.map((p) => p.pid)).toEqual([70]);
  });

  test("a file from another boot: start times proved nothing, and nothing of it can be running", () => {
    const plan = planRecovery(FILE, { processes: [running(50, "500"), running(60, "600")], bootId: "boot-2" });
    expect(plan).toMatchObject({ ownerAlive: false, toEnd: [], replaced: [] });
    expect(plan.gone.map((p) => p.pid)).toEqual([60, 70]);
  });
});
