/** Results kept for intervalMs: when one still counts, what of it is kept, and what makes it stale. */
import { describe, expect, test } from "bun:test";
import { parseConfig } from "../src/config/config.ts";
import {
  canonicalJson,
  configHash,
  intervalSlackMs,
  KEPT_OUTPUT_MAX_CHARS,
  keepResult,
  keptResultFor,
  keptResultsOf,
  keptService,
} from "../src/engine/result-cache.ts";
import { serviceResult } from "./wire-builders.ts";

const kept = { ranAt: 1_000, fingerprint: "f", result: { ...serviceResult("x", "pass"), name: undefined } } as never;

describe("keptResultFor", () => {
  const cases: Array<[string, { fingerprint: string | null; now: number }, boolean]> = [
    ["within the interval, same file and config", { fingerprint: "f", now: 50_000 }, true],
    ["another file or config", { fingerprint: "g", now: 2_000 }, false],
    ["a file that cannot be looked at", { fingerprint: null, now: 2_000 }, false],
    ["the interval less the slack has passed", { fingerprint: "f", now: 1_000 + 60_000 - intervalSlackMs(60_000) }, false],
    ["just before that", { fingerprint: "f", now: 1_000 + 60_000 - intervalSlackMs(60_000) - 1 }, true],
    ["a time this clock cannot place (later than now)", { fingerprint: "f", now: 500 }, false],
  ];
  for (const [what, at, counts] of cases) {
    test(`${what}: ${counts ? "kept" : "runs"}`, () => {
      expect(keptResultFor(kept, { ...at, intervalMs: 60_000 }) !== null).toBe(counts);
    });
  }

  test("the slack is a tenth of the interval, at most a second", () => {
    expect([intervalSlackMs(1_000), intervalSlackMs(5_000), intervalSlackMs(60_000)]).toEqual([100, 500, 1_000]);
  });
});

describe("what is kept", () => {
  test("the raw result, its output cut for the state file; as a service it says kept, since when and how old", () => {
    const service = {
      ...serviceResult("slow", "fail", { exitCode: 2, output: "x".repeat(KEPT_OUTPUT_MAX_CHARS + 10) }),
      counted: { state: "fail" as const, streak: 0, needed: 1 },
    };
    const entry = keepResult(service, { ranAt: 1_000, fingerprint: "f" });
    expect(entry.result.output).toHaveLength(KEPT_OUTPUT_MAX_CHARS);
    expect(entry.result.outputDroppedBytes).toBe(10);
    expect("counted" in entry.result || "name" in entry.result).toBe(false);
    expect(keptService("slow", entry, { now: 43_000, wallTime: (ms) => `T${ms}` })).toMatchObject({
      name: "slow",
      status: "fail",
      exitCode: 2,
      cached: true,
      ageMs: 42_000,
      ranAt: "T1000",
    });
  });

  test("entries that are not kept results are left out; the rest stand", () => {
    const good = { ranAt: 5, fingerprint: "f", result: keepResult(serviceResult("a", "pass"), { ranAt: 5, fingerprint: "f" }).result };
    const read = keptResultsOf({ a: good, b: { ...good, ranAt: 99 }, c: { ...good, result: { status: "maybe" } }, d: 1 }, 10);
    expect(Object.keys(read)).toEqual(["a"]);
    expect(keptResultsOf("nonsense", 10)).toEqual({});
  });
});

describe("the configuration's hash", () => {
  test("does not depend on the order of keys, and changes with any value", () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { f: 2, e: 3 }], c: null } })).toBe('{"a":{"c":null,"d":[1,{"e":3,"f":2}]},"b":1}');
    const config = parseConfig({});
    const reordered = Object.fromEntries(Object.entries(config).reverse());
    expect(configHash(reordered)).toBe(configHash(config));
    expect(configHash({ ...config, hookEnv: { A: "1" } })).not.toBe(configHash(config));
    expect(configHash(parseConfig({ hooks: { slow: { intervalMs: 60_000 } } }))).not.toBe(configHash(config));
  });
});
