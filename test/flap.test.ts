/**
 * Flap control and the hold-down, as pure functions: runs of raw results, the time and the
 * kernel's bit in, decisions out. Each table is one story, run by run.
 */
import { describe, expect, test } from "bun:test";
import { decide, isDemoted } from "../src/engine/decide.ts";
import { assumedHistory, type FlapHistory, NO_HISTORY, observe, type Raw } from "../src/engine/flap.ts";

const BIT = 1048576;
const S = 1000;

interface Run {
  /** Seconds since the story began. */
  at: number;
  raw: Record<string, Raw>;
  /** What the run decides. */
  expect: "demote" | "promote" | "none";
  /** Counted state of each hook after the run, when the story pins it. */
  counted?: Record<string, string>;
  held?: boolean;
}

/** Plays a story: observe, decide, apply to a kernel-like value, carry the history over. */
function play(
  runs: Run[],
  options: { fall?: number; rise?: number; promoteDelayMs?: number; history?: FlapHistory; demotion?: number } = {},
) {
  let history = options.history ?? NO_HISTORY;
  let demotion = options.demotion ?? 0;
  for (const [index, run] of runs.entries()) {
    const outcome = observe(
      history,
      Object.entries(run.raw).map(([name, raw]) => ({ name, raw })),
      {
        now: run.at * S,
        promoteDelayMs: options.promoteDelayMs ?? 0,
        thresholds: () => ({ fall: options.fall ?? 1, rise: options.rise ?? 1 }),
      },
    );
    const decision = decide(demotion, outcome.failed, { mayPromote: outcome.mayPromote });
    const where = `run ${index + 1} (at ${run.at} s)`;
    expect(`${where}: ${decision.action}`).toBe(`${where}: ${run.expect}`);
    if (decision.action !== "none") demotion += decision.delta;
    if (run.counted) {
      const counted = Object.fromEntries(
        [...outcome.counted].map(([name, c]) => [name, c.streak ? `${c.state} (${c.streak} of ${c.needed})` : c.state]),
      );
      expect(counted).toEqual(run.counted);
    }
    if (run.held !== undefined) expect(`${where}: held ${outcome.hold !== null && isDemoted(demotion)}`).toBe(`${where}: held ${run.held}`);
    history = { ...outcome.history, bitSet: isDemoted(demotion) };
  }
  return { history, demotion };
}

describe("fall and rise", () => {
  test("fall 3 with fail, pass, fail, fail, fail: demotes on the third failure in a row only", () => {
    play(
      [
        { at: 0, raw: { ospf: "pass" }, expect: "none", counted: { ospf: "pass" } },
        { at: 1, raw: { ospf: "fail" }, expect: "none", counted: { ospf: "pass (1 of 3)" } },
        { at: 2, raw: { ospf: "pass" }, expect: "none", counted: { ospf: "pass" } },
        { at: 3, raw: { ospf: "fail" }, expect: "none", counted: { ospf: "pass (1 of 3)" } },
        { at: 4, raw: { ospf: "fail" }, expect: "none", counted: { ospf: "pass (2 of 3)" } },
        { at: 5, raw: { ospf: "fail" }, expect: "demote", counted: { ospf: "fail" } },
      ],
      { fall: 3 },
    );
  });

  test("rise 2 while demoted: the first passing run is not enough", () => {
    play(
      [
        { at: 0, raw: { ospf: "fail" }, expect: "demote", counted: { ospf: "fail" } },
        { at: 1, raw: { ospf: "pass" }, expect: "none", counted: { ospf: "fail (1 of 2)" } },
        { at: 2, raw: { ospf: "fail" }, expect: "none", counted: { ospf: "fail" } },
        { at: 3, raw: { ospf: "pass" }, expect: "none", counted: { ospf: "fail (1 of 2)" } },
        { at: 4, raw: { ospf: "pass" }, expect: "promote", counted: { ospf: "pass" } },
      ],
      { rise: 2 },
    );
  });

  test("a check failing at its first observation demotes at once, whatever fall says", () => {
    play([{ at: 0, raw: { ospf: "fail", dns: "pass" }, expect: "demote", counted: { ospf: "fail", dns: "pass" } }], { fall: 5 });
  });

  test("demotion is never delayed beyond fall, however long the hold-down", () => {
    play(
      [
        { at: 0, raw: { ospf: "pass" }, expect: "none" },
        { at: 1, raw: { ospf: "fail" }, expect: "none" },
        { at: 2, raw: { ospf: "fail" }, expect: "demote" },
      ],
      { fall: 2, promoteDelayMs: 3_600_000 },
    );
  });

  test("the defaults (fall 1, rise 1, no hold-down) keep the stock behaviour: every run decides alone", () => {
    play([
      { at: 0, raw: { a: "pass" }, expect: "none" },
      { at: 1, raw: { a: "fail" }, expect: "demote" },
      { at: 2, raw: { a: "pass" }, expect: "promote" },
      { at: 3, raw: { a: "fail" }, expect: "demote" },
    ]);
  });

  test("a failed run that fall has not yet counted still stops a promotion", () => {
    play(
      [
        { at: 0, raw: { a: "fail", b: "pass" }, expect: "demote" },
        { at: 1, raw: { a: "pass", b: "fail" }, expect: "none", counted: { a: "pass", b: "pass (1 of 3)" } },
        { at: 2, raw: { a: "pass", b: "pass" }, expect: "promote" },
      ],
      { fall: 3 },
    );
  });
});

describe("the hold-down (promoteDelayMs)", () => {
  test("a promotion waits until every check has passed for the whole delay", () => {
    play(
      [
        { at: 0, raw: { ospf: "fail" }, expect: "demote" },
        { at: 10, raw: { ospf: "pass" }, expect: "none", held: true },
        { at: 69, raw: { ospf: "pass" }, expect: "none", held: true },
        { at: 70, raw: { ospf: "pass" }, expect: "promote", held: false },
      ],
      { promoteDelayMs: 60 * S },
    );
  });

  test("one failure restarts it, even one that fall does not count", () => {
    play(
      [
        { at: 0, raw: { ospf: "fail" }, expect: "demote" },
        { at: 10, raw: { ospf: "pass" }, expect: "none", held: true },
        { at: 40, raw: { ospf: "fail" }, expect: "none", counted: { ospf: "pass (1 of 3)" }, held: false },
        { at: 50, raw: { ospf: "pass" }, expect: "none", held: true },
        { at: 100, raw: { ospf: "pass" }, expect: "none", held: true },
        { at: 110, raw: { ospf: "pass" }, expect: "promote" },
      ],
      { fall: 3, promoteDelayMs: 60 * S },
    );
  });

  test("a restart that finds the bit set and no history holds from the restart, never from the demotion", () => {
    play(
      [
        { at: 1000, raw: { ospf: "pass" }, expect: "none", held: true },
        { at: 1059, raw: { ospf: "pass" }, expect: "none", held: true },
        { at: 1060, raw: { ospf: "pass" }, expect: "promote" },
      ],
      { promoteDelayMs: 60 * S, demotion: BIT + 240 },
    );
  });

  test("someone clearing the bit while a check counts as failed: the next run sets it again", () => {
    const { history } = play([{ at: 0, raw: { ospf: "fail" }, expect: "demote" }]);
    expect(history.bitSet).toBe(true);
    // Leaving CARP maintenance mode writes the demotion back to 0.
    play([{ at: 1, raw: { ospf: "fail" }, expect: "demote", counted: { ospf: "fail" } }], { history, demotion: 0 });
  });

  test("a hook that disappears takes its history with it", () => {
    const { history } = play([{ at: 0, raw: { a: "pass", gone: "fail" }, expect: "demote" }]);
    const outcome = observe(history, [{ name: "a", raw: "pass" }], { now: S, promoteDelayMs: 0, thresholds: () => ({ fall: 1, rise: 1 }) });
    expect(Object.keys(outcome.history.hooks)).toEqual(["a"]);
    expect(outcome.failed).toEqual([]);
  });
});

describe("a fresh start (the daemon's first run)", () => {
  const thresholds = () => ({ fall: 3, rise: 2 });
  const stored = (state: Raw, streak = 0): FlapHistory => ({ ...NO_HISTORY, hooks: { ospf: { state, streak } }, passingSince: 0 });

  test("a failing hook counts as failed at once, whatever its pending count", () => {
    const outcome = observe(stored("pass", 1), [{ name: "ospf", raw: "fail" }], {
      now: 10 * S,
      promoteDelayMs: 0,
      thresholds,
      fresh: true,
    });
    expect(outcome.failed).toEqual(["ospf"]);
  });

  test("a passing hook keeps a stored failure and still needs its rise: a restart never promotes early", () => {
    const outcome = observe(stored("fail"), [{ name: "ospf", raw: "pass" }], { now: 10 * S, promoteDelayMs: 0, thresholds, fresh: true });
    expect(outcome.counted.get("ospf")).toEqual({ state: "fail", streak: 1, needed: 2 });
    expect(outcome.mayPromote).toBe(false);
  });

  test("the hold-down starts at the restart, not at a stored time", () => {
    const history = { ...NO_HISTORY, hooks: { ospf: { state: "pass" as const, streak: 0 } }, passingSince: 0 };
    const outcome = observe(history, [{ name: "ospf", raw: "pass" }], { now: 100 * S, promoteDelayMs: 60 * S, thresholds, fresh: true });
    expect(outcome.hold).toEqual({ passingSince: 100 * S, until: 160 * S });
  });
});

describe("odd histories", () => {
  test("a passing-since in the future (the clock stepped back) is taken as now", () => {
    const history = { ...NO_HISTORY, hooks: { ospf: { state: "pass" as const, streak: 0 } }, passingSince: 999_999 * S };
    const outcome = observe(history, [{ name: "ospf", raw: "pass" }], {
      now: 100 * S,
      promoteDelayMs: 10 * S,
      thresholds: () => ({ fall: 1, rise: 1 }),
    });
    expect(outcome.hold).toEqual({ passingSince: 100 * S, until: 110 * S });
  });

  test('a hook called "__proto__" keeps its history like any other', () => {
    const settings = { now: 0, promoteDelayMs: 0, thresholds: () => ({ fall: 3, rise: 1 }) };
    const first = observe(NO_HISTORY, [{ name: "__proto__", raw: "pass" }], settings);
    const second = observe(first.history, [{ name: "__proto__", raw: "fail" }], settings);
    expect(Object.keys(second.history.hooks)).toEqual(["__proto__"]);
    expect(second.counted.get("__proto__")).toEqual({ state: "pass", streak: 1, needed: 3 });
  });
});

describe("the history assumed when the real one is lost", () => {
  test("with our bit set every hook counts as failed: a promotion needs every rise and the whole hold-down again", () => {
    const history = assumedHistory(["ospf", "dns"], { demoted: true });
    play(
      [
        { at: 0, raw: { ospf: "pass", dns: "pass" }, expect: "none", counted: { ospf: "fail (1 of 2)", dns: "fail (1 of 2)" } },
        { at: 10, raw: { ospf: "pass", dns: "pass" }, expect: "none", counted: { ospf: "pass", dns: "pass" }, held: true },
        { at: 69, raw: { ospf: "pass", dns: "pass" }, expect: "none", held: true },
        { at: 70, raw: { ospf: "pass", dns: "pass" }, expect: "promote" },
      ],
      { rise: 2, promoteDelayMs: 60 * S, history, demotion: BIT },
    );
  });

  test("with the bit clear it is no history: a failing check demotes at once, whatever fall says", () => {
    expect(assumedHistory(["ospf"], { demoted: false })).toEqual(NO_HISTORY);
    play([{ at: 0, raw: { ospf: "fail" }, expect: "demote" }], { fall: 3, history: assumedHistory(["ospf"], { demoted: false }) });
  });

  test("without flap control it changes nothing: a passing run promotes at once, as the stock script does", () => {
    play([{ at: 0, raw: { ospf: "pass" }, expect: "promote" }], { history: assumedHistory(["ospf"], { demoted: true }), demotion: BIT });
  });
});

describe("checks not observed in a run (the gateway status could not be read)", () => {
  const thresholds = () => ({ fall: 3, rise: 2 });
  const settings = { now: 10 * S, promoteDelayMs: 0, thresholds };
  const before: FlapHistory = {
    ...NO_HISTORY,
    hooks: { "gateway:WAN_GW": { state: "fail", streak: 1 }, unbound: { state: "pass", streak: 0 } },
    passingSince: null,
  };

  test("keeps its counted state and streak, counts as failed, and the bit may not come off", () => {
    const outcome = observe(before, [{ name: "unbound", raw: "pass" }], { ...settings, unobserved: ["gateway:WAN_GW"], holdDemoted: true });
    expect(outcome.history.hooks["gateway:WAN_GW"]).toEqual({ state: "fail", streak: 1 });
    expect(outcome.counted.get("gateway:WAN_GW")).toEqual({ state: "fail", streak: 1, needed: 2 });
    expect(outcome.failed).toEqual(["gateway:WAN_GW"]);
    expect(outcome.changes).toEqual([]);
    expect(outcome.mayPromote).toBe(false);
  });

  test("one with no history has no counted state, and is not taken as failed", () => {
    const outcome = observe(NO_HISTORY, [{ name: "unbound", raw: "pass" }], {
      ...settings,
      unobserved: ["gateway:WAN_GW"],
      holdDemoted: true,
    });
    expect(outcome.counted.has("gateway:WAN_GW")).toBe(false);
    expect(outcome.failed).toEqual([]);
    expect(outcome.mayPromote).toBe(false);
    expect(outcome.hold).toBeNull();
  });
});
