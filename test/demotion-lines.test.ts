/** The demotion explained under the tables of check, trigger and status. */
import { describe, expect, test } from "bun:test";
import { formatDemotionLines } from "../src/cli/demotion-lines.ts";
import { formatEvaluation, formatStatus } from "../src/cli/report.ts";
import type { DaemonStatus, Evaluation } from "../src/protocol/wire.ts";

const BIT = 1048576;
const KERNEL = "from the kernel (a CARP interface down, send errors, pfsync bulk update or maintenance mode)";

describe("formatDemotionLines", () => {
  const cases: Array<[number, string[]]> = [
    [0, ["demotion 0: nothing demotes this node"]],
    [240, [`demotion 240: not ours; 240 = 1 x 240 ${KERNEL}`]],
    [BIT, ["demotion 1048576: our bit (2^20: a service check failed)"]],
    [BIT + 480, [`demotion 1049056: our bit (2^20: a service check failed) + 480 = 2 x 240 ${KERNEL}`]],
    [
      2 * BIT,
      [
        "demotion 2097152: our 2^20 added 2 times (stacked)",
        "fix: sysctl net.inet.carp.demotion=-2097152 takes every 2^20 off; the next evaluation sets it again if a check fails",
      ],
    ],
    [
      -240,
      [
        "demotion -240: negative, so this node looks better than it is (2^20 taken off more often than added)",
        "fix: sysctl net.inet.carp.demotion=240 brings it back to 0; the next evaluation sets our bit again if a check fails",
      ],
    ],
  ];
  for (const [value, lines] of cases) {
    test(`${value}: ${lines.length === 1 ? "one line" : "a line and its fix"}`, () => {
      expect(formatDemotionLines(value)).toEqual(lines);
    });
  }
});

describe("under the tables", () => {
  const evaluation = {
    action: "none",
    decision: "none",
    dryRun: false,
    failed: [],
    demotionBefore: BIT + 480,
    demotionAfter: BIT + 480,
    demoted: true,
    message: null,
    services: [],
    anomalies: [],
    warnings: [],
    hooksDir: "/h",
    startedAt: "2026-11-30T12:00:00.000Z",
    durationMs: 1,
  } satisfies Evaluation;

  test("check and trigger explain the value after what they did", () => {
    const lines = formatEvaluation(evaluation).split("\n");
    expect(lines.at(-1)).toBe(`demotion 1049056: our bit (2^20: a service check failed) + 480 = 2 x 240 ${KERNEL}`);
  });

  test("during a hold-down the bit is said to be held by it, not a failed check; the time left is the daemon's", () => {
    const held = {
      ...evaluation,
      // `until` on a clock far from ours: the time left must come from remainingMs alone.
      promotionHeld: { passingSince: "2026-11-30T12:00:00.000Z", until: "2031-01-01T00:00:00.000Z", remainingMs: 26_001 },
    };
    const lines = formatEvaluation(held).split("\n");
    expect(lines.slice(-2)).toEqual([
      "promotion held: 27 s left (every check passing since 2026-11-30T12:00:00.000Z); the 2^20 bit comes off then unless a check fails",
      `demotion 1049056: our bit (2^20: held by the hold-down; every check passes) + 480 = 2 x 240 ${KERNEL}`,
    ]);
    expect(lines.join("\n")).not.toContain("a service check failed");
  });

  test("a bit kept because the flap history is lost says so", () => {
    const withheld = { ...evaluation, promotionWithheld: "The 2^20 bit stays set although every check passes: ..." };
    expect(formatEvaluation(withheld)).toContain(
      "demotion 1049056: our bit (2^20: kept; every check passes, but the flap history is lost)",
    );
  });

  test("status explains it below the hook table, and says nothing before the first read", () => {
    const status = {
      version: "0.1.0",
      pid: 1,
      startedAt: "2026-11-30T12:00:00.000Z",
      uptimeMs: 0,
      configFile: null,
      hooksDir: "/h",
      socket: null,
      schedule: false,
      running: false,
      lastRun: null,
      lastError: null,
      nextRun: null,
      demotion: -240,
      demoted: true,
      anomalies: [],
      warnings: [],
      counters: { evaluations: 0, triggers: 0, scheduled: 0, failedEvaluations: 0, errors: 0, demotions: 0, promotions: 0 },
      services: [],
    } satisfies DaemonStatus;
    const text = formatStatus(status);
    expect(text).toEndWith(`No hooks in "/h"\n\n${formatDemotionLines(-240).join("\n")}`);
    expect(formatStatus({ ...status, demotion: null, demoted: null })).not.toContain("\ndemotion ");
    const held = formatStatus({
      ...status,
      demotion: BIT,
      promotionHeld: { passingSince: "2026-11-30T12:00:00.000Z", until: "2031-01-01T00:00:00.000Z", remainingMs: 12_000 },
    }).split("\n");
    expect(held).toContain(
      "promotion held: 12 s left (every check passing since 2026-11-30T12:00:00.000Z); the 2^20 bit comes off then unless a check fails",
    );
    expect(held.at(-1)).toBe("demotion 1048576: our bit (2^20: held by the hold-down; every check passes)");
  });
});
