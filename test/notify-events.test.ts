/** What notify scripts are told: the events of an evaluation, their arguments and environment. */
import { describe, expect, test } from "bun:test";
import { firstLine, type NotifyEvent, notifyArgs, notifyEnv, notifyEventsOf } from "../src/daemon/notify-events.ts";
import type { Transition } from "../src/daemon/status-book.ts";
import type { Evaluation, ServiceResult } from "../src/protocol/wire.ts";
import { evaluationOf, serviceResult } from "./wire-builders.ts";

function service(name: string, status: ServiceResult["status"], extra: Partial<ServiceResult> = {}): ServiceResult {
  return serviceResult(name, status, extra);
}

function evaluation(services: ServiceResult[], extra: Partial<Evaluation> = {}): Evaluation {
  return evaluationOf(services, {
    demotionBefore: 240,
    demotionAfter: 240,
    startedAt: "2026-11-30T12:00:00.000Z",
    durationMs: 5,
    ...extra,
  });
}

const t = (name: string, from: Transition["from"], to: Transition["to"]): Transition => ({ name, from, to });

describe("notifyEventsOf", () => {
  test("hook changes come first, in the order given, then the bit they caused", () => {
    const e = evaluation(
      [service("a", "fail", { output: "\n  a is down \nmore" }), service("b", "fail", { reason: "timed out after 10000 ms" })],
      {
        action: "demoted",
        demotionAfter: 240 + 1048576,
      },
    );
    const events = notifyEventsOf(e, [t("a", "pass", "fail"), t("b", "pass", "fail")]);
    expect(events.map(notifyArgs)).toEqual([["hook", "a", "fail"], ["hook", "b", "fail"], ["demoted"]]);
    expect(events[0]).toMatchObject({ output: "a is down", reason: "", failed: ["a", "b"], demotionBefore: 240, demotionAfter: 1048816 });
    expect(events[1]).toMatchObject({ output: "", reason: "timed out after 10000 ms" });
  });

  test("a hook first seen passing is the normal start, not an event; first seen failing is one", () => {
    const e = evaluation([service("new-ok", "pass"), service("new-bad", "fail")]);
    expect(notifyEventsOf(e, [t("new-bad", null, "fail"), t("new-ok", null, "pass")]).map(notifyArgs)).toEqual([
      ["hook", "new-bad", "fail"],
    ]);
  });

  test("entries becoming skipped are no hook state change", () => {
    const e = evaluation([service("dir", "skipped", { reason: "directory" })]);
    expect(notifyEventsOf(e, [t("dir", "pass", "skipped")])).toEqual([]);
  });

  test("a hook event carries the exit status of the run that changed its state", () => {
    const e = evaluation([service("a", "fail", { exitCode: 2 }), service("b", "fail", { exitCode: null, timedOut: true })]);
    expect(
      notifyEventsOf(e, [t("a", "pass", "fail"), t("b", "pass", "fail")]).map((event) => notifyEnv(event).CARP_HOOK_EXIT_CODE),
    ).toEqual(["2", ""]);
  });

  const BIT = 1048576;
  const hold = (started: boolean) => ({
    passingSince: "2026-11-30T12:00:00.000Z",
    until: "2026-11-30T12:00:30.000Z",
    remainingMs: 30_000,
    started,
  });

  test("a hold-down that starts is one held event, after the hook changes that started it; while it lasts, none", () => {
    const e = evaluation([service("ospf", "pass", { counted: { state: "pass", streak: 0, needed: 3 } })], {
      demotionBefore: BIT,
      demotionAfter: BIT,
      demoted: true,
      promotionHeld: hold(true),
    });
    const events = notifyEventsOf(e, [t("ospf", "fail", "pass")], { heldBefore: false });
    expect(events.map(notifyArgs)).toEqual([
      ["hook", "ospf", "pass"],
      ["held", "2026-11-30T12:00:30.000Z"],
    ]);
    expect(events[1]).toMatchObject({ since: "2026-11-30T12:00:00.000Z", remainingMs: 30_000 });
    const lasting = { ...e, promotionHeld: hold(false) };
    expect(notifyEventsOf(lasting, [], { heldBefore: true })).toEqual([]);
    // A daemon that finds a hold-down in progress when it starts (or after a check began it) tells it.
    expect(notifyEventsOf(lasting, [], { heldBefore: false }).map(notifyArgs)).toEqual([["held", "2026-11-30T12:00:30.000Z"]]);
  });

  test("a failed run ends a hold-down: held-cancelled names the runs that failed, even those still counted as passing", () => {
    const flapping = service("ospf", "fail", { counted: { state: "pass", streak: 1, needed: 3 } });
    const e = evaluation([flapping, service("dns", "pass")], { demotionBefore: BIT, demotionAfter: BIT, demoted: true, failed: [] });
    const events = notifyEventsOf(e, [], { heldBefore: true });
    expect(events.map(notifyArgs)).toEqual([["held-cancelled"]]);
    expect(events[0]).toMatchObject({ brokenBy: ["ospf"], failed: [] });
  });

  test("a hold-down that ends in the promotion is told as the promotion, not as cancelled", () => {
    const e = evaluation([service("ospf", "pass")], { action: "promoted", demotionBefore: BIT, demotionAfter: 0 });
    expect(notifyEventsOf(e, [], { heldBefore: true }).map(notifyArgs)).toEqual([["promoted"]]);
  });

  test("a promotion with no hook change is one event; a quiet evaluation none", () => {
    expect(notifyEventsOf(evaluation([], { action: "promoted" }), []).map(notifyArgs)).toEqual([["promoted"]]);
    expect(notifyEventsOf(evaluation([service("a", "pass")]), [])).toEqual([]);
  });
});

describe("notifyEnv", () => {
  const hookEvent: Extract<NotifyEvent, { kind: "hook" }> = {
    kind: "hook",
    hook: "odd\nname",
    state: "fail",
    output: "boom",
    reason: "",
    exitCode: 2,
    at: "2026-11-30T12:00:00.000Z",
    failed: ["odd\nname", "x,y"],
    demotionBefore: 0,
    demotionAfter: 1048576,
  };

  test("a hook event carries the hook, its state, exit status and first output line, the failed hooks and the demotion", () => {
    expect(notifyEnv(hookEvent)).toEqual({
      PATH: "/sbin:/bin:/usr/sbin:/usr/bin:/usr/local/sbin:/usr/local/bin",
      HOME: "/",
      CARP_EVENT: "hook",
      CARP_EVENT_TIME: "2026-11-30T12:00:00.000Z",
      CARP_FAILED_HOOKS: "odd\\nname\nx,y",
      CARP_DEMOTION_BEFORE: "0",
      CARP_DEMOTION_AFTER: "1048576",
      CARP_HOOK: "odd\\nname",
      CARP_HOOK_STATE: "fail",
      CARP_HOOK_EXIT_CODE: "2",
      CARP_HOOK_OUTPUT: "boom",
      CARP_HOOK_REASON: "",
    });
    // argv holds the raw name: a script that needs the exact file has it.
    expect(notifyArgs(hookEvent)).toEqual(["hook", "odd\nname", "fail"]);
  });

  test("a hook that ended without an exit status (timed out, killed, refused) has an empty CARP_HOOK_EXIT_CODE", () => {
    const env = notifyEnv({ ...hookEvent, exitCode: null, reason: "timed out after 2000 ms" });
    expect(env).toMatchObject({ CARP_HOOK_EXIT_CODE: "", CARP_HOOK_REASON: "timed out after 2000 ms" });
  });

  test("a hold-down's start tells when it ends, as a time and as what was left; its cancelling tells which runs failed", () => {
    const context = { at: "2026-11-30T12:00:00.000Z", failed: [], demotionBefore: 1048576, demotionAfter: 1048576 };
    const held: NotifyEvent = {
      kind: "held",
      since: "2026-11-30T12:00:00.000Z",
      until: "2026-11-30T12:00:30.000Z",
      remainingMs: 30_000,
      ...context,
    };
    expect(notifyArgs(held)).toEqual(["held", "2026-11-30T12:00:30.000Z"]);
    expect(notifyEnv(held)).toMatchObject({
      CARP_EVENT: "held",
      CARP_HOLD_SINCE: "2026-11-30T12:00:00.000Z",
      CARP_HOLD_UNTIL: "2026-11-30T12:00:30.000Z",
      CARP_HOLD_REMAINING_MS: "30000",
    });
    const cancelled: NotifyEvent = { kind: "held-cancelled", brokenBy: ["frr\nospf", "dns"], ...context };
    expect(notifyArgs(cancelled)).toEqual(["held-cancelled"]);
    expect(notifyEnv(cancelled)).toMatchObject({
      CARP_EVENT: "held-cancelled",
      CARP_HOLD_BROKEN_BY: "frr\\nospf\ndns",
      CARP_FAILED_HOOKS: "",
    });
  });

  test("a bit event has no hook variables", () => {
    const env = notifyEnv({ kind: "promoted", at: "2026-11-30T12:00:00.000Z", failed: [], demotionBefore: 1048576, demotionAfter: 0 });
    expect(Object.keys(env).filter((k) => k.startsWith("CARP_HOOK"))).toEqual([]);
    expect(env).toMatchObject({ CARP_EVENT: "promoted", CARP_FAILED_HOOKS: "", CARP_CHANGES_FOLDED: "0" });
  });

  test("a change event tells how many earlier changes were folded into it by a full queue", () => {
    const env = notifyEnv({ kind: "demoted", folded: 4, at: "", failed: [], demotionBefore: 0, demotionAfter: 1048576 });
    expect(env.CARP_CHANGES_FOLDED).toBe("4");
  });

  test("names are escaped unambiguously: a backslash and an n is not a newline", () => {
    const env = notifyEnv({ ...hookEvent, hook: "a\\nb", failed: ["a\\nb", "a\nb"] });
    expect(env.CARP_HOOK).toBe("a\\\\nb");
    expect(env.CARP_FAILED_HOOKS).toBe("a\\\\nb\na\\nb");
  });
});

test("firstLine escapes control characters (an environment cannot hold NUL) and backslashes, and cuts long lines", () => {
  expect(firstLine("\u0000nul\u001b[31m\n")).toBe("\\x00nul\\x1b[31m");
  expect(firstLine("C:\\n is no newline\n")).toBe("C:\\\\n is no newline");
  expect(firstLine("x".repeat(500))).toHaveLength(200);
});

describe("the maintenance switch's events", () => {
  const on = { reason: "upgrading\nFRR", since: "2026-12-06T08:00:00.000Z" };
  test("turned on: `maintenance on` with its reason and since, before the demotion it causes", () => {
    const e = evaluation([service("ospf", "pass")], { action: "demoted", demotionAfter: 240 + 1048576, maintenance: on });
    const events = notifyEventsOf(e, [], { maintenance: "on" });
    expect(events.map(notifyArgs)).toEqual([["maintenance", "on"], ["demoted"]]);
    expect(notifyEnv(events[0]!)).toMatchObject({
      CARP_EVENT: "maintenance",
      CARP_MAINTENANCE: "on",
      CARP_MAINTENANCE_REASON: "upgrading\\nFRR",
      CARP_MAINTENANCE_SINCE: "2026-12-06T08:00:00.000Z",
    });
  });

  test("turned off: `maintenance off`, then the hold-down it starts (or the promotion)", () => {
    const held = { passingSince: "2026-12-06T09:00:00.000Z", until: "2026-12-06T09:01:00.000Z", remainingMs: 60_000, started: true };
    const e = evaluation([service("ospf", "pass")], { demoted: true, promotionHeld: held, maintenance: null });
    const events = notifyEventsOf(e, [], { maintenance: "off" });
    expect(events.map(notifyArgs)).toEqual([
      ["maintenance", "off"],
      ["held", "2026-12-06T09:01:00.000Z"],
    ]);
    expect(notifyEnv(events[0]!)).toMatchObject({ CARP_MAINTENANCE: "off", CARP_MAINTENANCE_REASON: "", CARP_MAINTENANCE_SINCE: "" });
  });

  test("turned on during a hold-down: the hold-down is cancelled, though no run failed", () => {
    const e = evaluation([service("ospf", "pass")], { demoted: true, demotionBefore: 1048576, demotionAfter: 1048576, maintenance: on });
    const events = notifyEventsOf(e, [], { heldBefore: true, maintenance: "on" });
    expect(events.map(notifyArgs)).toEqual([["maintenance", "on"], ["held-cancelled"]]);
    expect(events[1]).toMatchObject({ brokenBy: [] });
  });
});
