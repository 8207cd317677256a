/** Why a promotion is withheld: one reason for each thing an evaluation could not know, never on a failing check. */
import { describe, expect, test } from "bun:test";
import { msUntil, type Unknowns, type WithholdFacts, withheldPromotion } from "../src/engine/evaluation-report.ts";

const KNOWN: Unknowns = { lostHistory: null, maintenanceProblem: null, unreadGateways: [] };
const PASSING: WithholdFacts = { stillDemoted: true, everyObservedPasses: true, failed: [] };

describe("withheldPromotion", () => {
  const cases: Array<[string, Partial<Unknowns>, Partial<WithholdFacts>, string | null]> = [
    ["everything known: nothing withheld (the hold-down or a failure keeps the bit)", {}, {}, null],
    ["the gateway status not read", { unreadGateways: ["gateway:WAN_GW"] }, {}, "the gateway status could not be read, so gateway:WAN_GW"],
    ["the switch cannot be told", { maintenanceProblem: "Cannot read the maintenance file" }, {}, "Cannot read the maintenance file, so"],
    [
      "a lost history, every check counted as failing",
      { lostHistory: "Cannot read the state file" },
      { failed: ["a"] },
      "Cannot read the state file, so this run",
    ],
    ["a lost history comes first", { lostHistory: "lost", unreadGateways: ["gateway:WAN_GW"] }, {}, ": lost, so this run"],
    [
      "an unread gateway while a check counts as failed: the failure keeps the bit",
      { unreadGateways: ["gateway:WAN_GW"] },
      { failed: ["gateway:WAN_GW"] },
      null,
    ],
    ["a hook failing this run: not withheld, failing", { unreadGateways: ["gateway:WAN_GW"] }, { everyObservedPasses: false }, null],
    ["the bit is not set, or was changed", { unreadGateways: ["gateway:WAN_GW"] }, { stillDemoted: false }, null],
  ];
  for (const [what, unknowns, facts, expected] of cases) {
    test(what, () => {
      const withheld = withheldPromotion({ ...KNOWN, ...unknowns }, { ...PASSING, ...facts });
      if (expected === null) expect(withheld).toBeNull();
      else {
        expect(withheld!.message).toStartWith("The 2^20 bit stays set although every check passes");
        expect(withheld!.message).toContain(expected);
      }
    });
  }
});

describe("msUntil: what is left of a hold-down, in whole ms", () => {
  test("a hold-down that starts now has exactly its length left, whatever floating-point noise the sum carries", () => {
    const now = 8127299.96; // (now + 300000) - now is 300000.00000000093
    expect(now + 300_000 - now).toBeGreaterThan(300_000);
    expect(msUntil(now + 300_000, now)).toBe(300_000);
  });

  test("a part of a ms left rounds up, so a timer set to it never fires early", () => {
    expect(msUntil(1000.25, 0)).toBe(1001);
    expect(msUntil(10, 10)).toBe(0);
  });
});
