import { describe, expect, test } from "bun:test";
import { describeChange, describeFailure, firstOutputLine } from "../src/engine/change-line.ts";
import type { ServiceResult } from "../src/protocol/wire.ts";
import { serviceResult } from "./wire-builders.ts";

function service(name: string, fields: Partial<ServiceResult> = {}): ServiceResult {
  return serviceResult(name, "fail", { durationMs: 3, ...fields });
}

describe("the daemon's own line for a change of the demotion", () => {
  test("a failed hook: its exit status and the first line it printed", () => {
    expect(describeFailure(service("frr_ospf", { exitCode: 2, output: "\n  no Full neighbour on em0  \nmore\n" }))).toBe(
      "frr_ospf (exit 2: no Full neighbour on em0)",
    );
  });

  test("a hook that failed without an exit status: the reason, and the output only when it says more", () => {
    expect(describeFailure(service("slow", { exitCode: null, timedOut: true, reason: "timed out after 10000 ms" }))).toBe(
      "slow (timed out after 10000 ms)",
    );
    expect(describeFailure(service("killed", { exitCode: null, signal: "SIGKILL", output: "bye" }))).toBe(
      "killed (killed by SIGKILL: bye)",
    );
  });

  test("names and output are escaped: one syslog record per line", () => {
    expect(describeFailure(service("a\nb", { output: "\x1b[31mred" }))).toBe("a\\nb (exit 1: \\x1b[31mred)");
  });

  test("the first output line is cut at 120 characters", () => {
    expect(firstOutputLine("x".repeat(200))).toBe(`${"x".repeat(119)}…`);
  });

  test("a demotion names every failed hook, how it failed, and carries the values as fields", () => {
    const services = [service("a", { output: "down" }), service("b", { status: "pass", exitCode: 0 }), service("c", { exitCode: 3 })];
    expect(describeChange("demoted", { demotionBefore: 240, demotionAfter: 240 + 1048576, services })).toEqual({
      message: "demoted this node: a (exit 1: down), c (exit 3)",
      fields: { demotionBefore: 240, demotionAfter: 1048816, failed: ["a", "c"] },
    });
  });

  test("a demotion names what counts as failed, as the decision does: a check passing 1 of 3 yes, one failing 1 of 3 no", () => {
    const services = [
      service("ospf", { status: "pass", exitCode: 0, counted: { state: "fail", streak: 1, needed: 3 } }),
      service("dns", { exitCode: 2, counted: { state: "pass", streak: 1, needed: 3 } }),
      service("ntp", { exitCode: 1, counted: { state: "fail", streak: 0, needed: 1 } }),
    ];
    expect(describeChange("demoted", { demotionBefore: 0, demotionAfter: 1048576, services })).toEqual({
      message: "demoted this node: ospf (passed its last run, still counts as failed: passing 1 of 3), ntp (exit 1)",
      fields: { demotionBefore: 0, demotionAfter: 1048576, failed: ["ospf", "ntp"] },
    });
  });

  test("a promotion names the checks that now pass, which the stock line does not", () => {
    const services = [service("a", { status: "pass", exitCode: 0 }), service("dir", { status: "skipped", exitCode: null })];
    expect(describeChange("promoted", { demotionBefore: 1048576, demotionAfter: 0, services }).message).toBe(
      "promoted this node: every check passes (1 passing: a)",
    );
    expect(describeChange("promoted", { demotionBefore: 1048576, demotionAfter: 0, services: [] }).message).toBe(
      "promoted this node: every check passes (no hooks to run)",
    );
  });
});
