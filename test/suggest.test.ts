/** "Did you mean": the known name nearest to a mistyped one, or none when nothing is near. */
import { describe, expect, test } from "bun:test";
import { nearestName, unknownKeysMessage } from "../src/config/suggest.ts";

const KEYS = ["hooksDir", "hookTimeoutMs", "hookEnv", "hooks", "fall", "rise", "promoteDelayMs", "notifyTimeoutMs", "logLevel"];

describe("nearestName", () => {
  const cases: Array<[typo: string, candidates: string[], expected: string | null]> = [
    ["hookDir", KEYS, "hooksDir"],
    ["hooksdir", KEYS, "hooksDir"],
    ["hook_timeout_ms", KEYS, "hookTimeoutMs"],
    ["promoteDelay", KEYS, "promoteDelayMs"],
    ["fal", KEYS, "fall"],
    ["rsie", KEYS, "rise"],
    ["hook", KEYS, "hooks"],
    ["frr-ospf", ["frr_ospf", "frr_ospf6", "unbound"], "frr_ospf"],
    ["frr_ospf6x", ["frr_ospf", "frr_ospf6", "unbound"], "frr_ospf6"],
    ["unbound", ["unbound.sh", "haproxy"], "unbound.sh"],
    ["delay", KEYS, null],
    ["frobnicate", KEYS, null],
    ["x", ["y", "ab"], "y"],
    // A known name is no typo.
    ["hooks", KEYS, null],
  ];
  for (const [typo, candidates, expected] of cases) {
    test(`${typo} -> ${expected}`, () => {
      expect(nearestName(typo, candidates)).toBe(expected);
    });
  }

  test("of equals, the first in the order given", () => {
    expect(nearestName("ab", ["ac", "ad"])).toBe("ac");
  });
});

describe("unknownKeysMessage", () => {
  test("one line per key, a guess where one is near", () => {
    expect(unknownKeysMessage(["hookDir", "frobnicate"], { keys: KEYS })).toBe(
      'Unknown key "hookDir"; did you mean "hooksDir"?\nUnknown key "frobnicate"',
    );
  });

  test("a top-level key inside a table is told to move up", () => {
    expect(unknownKeysMessage(["logLevel"], { keys: ["fall", "rise"], topLevel: KEYS })).toStartWith(
      'Unknown key "logLevel" in this table: it is a top-level key',
    );
  });

  test("control characters in a key are shown escaped", () => {
    expect(unknownKeysMessage(["a\nb"], { keys: [] })).toBe('Unknown key "a\\nb"');
  });
});
