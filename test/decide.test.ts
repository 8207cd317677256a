import { describe, expect, test } from "bun:test";
import { decide, demotionMessage, findAnomalies, isDemoted, PROMOTION_MESSAGE } from "../src/engine/decide.ts";

const BIT = 1048576;

describe("decide", () => {
  const table: Array<{ name: string; demotion: number; failed: string[]; action: string; delta?: number }> = [
    { name: "failure with the bit clear demotes", demotion: 0, failed: ["a"], action: "demote", delta: BIT },
    { name: "failure with the bit set does nothing (no double demotion)", demotion: BIT, failed: ["a"], action: "none" },
    { name: "recovery with the bit set promotes", demotion: BIT, failed: [], action: "promote", delta: -BIT },
    { name: "all passing with the bit clear does nothing", demotion: 0, failed: [], action: "none" },
    { name: "other contributors do not look like our bit", demotion: 240, failed: [], action: "none" },
    { name: "demotes on top of other contributors", demotion: 2880, failed: ["a", "b"], action: "demote", delta: BIT },
    { name: "promotes and leaves other contributors", demotion: BIT + 240, failed: [], action: "promote", delta: -BIT },
    { name: "a stacked 2^21 has the bit clear, so a failure sets it", demotion: 2 * BIT, failed: ["a"], action: "demote", delta: BIT },
    { name: "negative values are tested by the bit too", demotion: -BIT, failed: [], action: "promote", delta: -BIT },
  ];
  for (const row of table) {
    test(row.name, () => {
      const decision = decide(row.demotion, row.failed);
      expect(decision.action).toBe(row.action as never);
      if (decision.action !== "none") expect(decision.delta).toBe(row.delta!);
    });
  }

  test("writes the stock script's exact demotion text, names joined by a comma", () => {
    const decision = decide(0, ["frr", "unbound"]);
    expect(decision.action === "demote" && decision.message).toBe(
      "carp demoted by 1048576 due to service disruption (services: frr,unbound)",
    );
  });

  test("a name with a newline or a terminal sequence stays on one line, escaped", () => {
    const message = demotionMessage(["a\nb", "\u001b[31mred"]);
    expect(message).toBe("carp demoted by 1048576 due to service disruption (services: a\\nb,\\x1b[31mred)");
    expect(message).not.toContain("\n");
    expect(message).not.toContain("\u001b");
  });

  test("normal names keep the stock text byte for byte, non-ASCII included", () => {
    expect(demotionMessage(["frr ospf", "unbound", "prüfung"])).toBe(
      "carp demoted by 1048576 due to service disruption (services: frr ospf,unbound,prüfung)",
    );
  });

  test("writes the stock script's exact promotion text", () => {
    expect(PROMOTION_MESSAGE).toBe("carp promoted by 1048576 due to service recovery");
    const decision = decide(BIT, []);
    expect(decision.action === "promote" && decision.message).toBe(PROMOTION_MESSAGE);
  });
});

describe("isDemoted", () => {
  test("tests only bit 20", () => {
    expect(isDemoted(BIT + 240)).toBe(true);
    expect(isDemoted(240)).toBe(false);
    expect(isDemoted(2 * BIT)).toBe(false);
  });
});

describe("findAnomalies", () => {
  test("a normal value has none", () => {
    expect(findAnomalies(0)).toEqual([]);
    expect(findAnomalies(BIT + 2880)).toEqual([]);
  });
  test("reports a stacked value", () => {
    expect(findAnomalies(2 * BIT + 240)[0]).toContain("2^21 or more");
  });
  test("reports a negative value", () => {
    expect(findAnomalies(-BIT)[0]).toContain("negative");
  });
});

describe("decide with the maintenance switch on", () => {
  const on = { reason: "upgrading FRR" };
  test("every check passing and the bit clear: demotes, with the reason in the line", () => {
    expect(decide(240, [], { maintenance: on })).toEqual({
      action: "demote",
      delta: BIT,
      message: "carp demoted by 1048576 due to carp-service-status maintenance (upgrading FRR)",
    });
    expect(decide(0, [], { maintenance: { reason: null } })).toMatchObject({
      message: "carp demoted by 1048576 due to carp-service-status maintenance",
    });
  });
  test("a check failing too: the stock line, naming it", () => {
    expect(decide(0, ["ospf"], { maintenance: on })).toMatchObject({ action: "demote", message: demotionMessage(["ospf"]) });
  });
  test("the bit set: never promoted while it is on, hold-down over or not", () => {
    expect(decide(BIT, [], { maintenance: on, mayPromote: true })).toEqual({ action: "none" });
  });
  test("a reason cannot split the syslog line", () => {
    expect(decide(0, [], { maintenance: { reason: "a\nb" } })).toMatchObject({
      message: "carp demoted by 1048576 due to carp-service-status maintenance (a\\nb)",
    });
  });
});
