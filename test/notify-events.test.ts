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

  test("a promotion with no hook change is one event; a quiet evaluation none", () => {
    expect(notifyEventsOf(evaluation([], { action: "promoted" }), []).map(notifyArgs)).toEqual([["promoted"]]);
    expect(notifyEventsOf(evaluation([service("a", "pass")]), [])).toEqual([]);
  });
});

describe("notifyEnv", () => {
  const hookEvent: NotifyEvent = {
    kind: "hook",
    hook: "odd\nname",
    state: "fail",
    output: "boom",
    reason: "",
    at: "2026-11-30T12:00:00.000Z",
    failed: ["odd\nname", "x,y"],
    demotionBefore: 0,
    demotionAfter: 1048576,
  };

  test("a hook event carries the hook, its state and first output line, the failed hooks and the demotion", () => {
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
      CARP_HOOK_OUTPUT: "boom",
      CARP_HOOK_REASON: "",
    });
    // argv holds the raw name: a script that needs the exact file has it.
    expect(notifyArgs(hookEvent)).toEqual(["hook", "odd\nname", "fail"]);
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
