/**
 * What notify scripts are told, as pure functions: the events of one evaluation (a hook's counted
 * state changed, a hold-down started or was cancelled, we changed our bit), and for each event the
 * arguments and the environment a script gets. Events are plain data, queued in order.
 */
import { escapeControl, escapeText } from "../common/escape.ts";
import { HOOK_ENV } from "../engine/run-hooks.ts";
import type { Evaluation } from "../protocol/wire.ts";
import type { Transition } from "./status-book.ts";

/** What every event carries: the evaluation it came from. */
export interface NotifyContext {
  /** When that evaluation started (ISO 8601). */
  at: string;
  /** The hooks failing in that evaluation, in byte order. */
  failed: string[];
  demotionBefore: number;
  demotionAfter: number;
}

/** One event: argv `demoted`, `promoted`, `hook NAME pass|fail`, `held UNTIL`, `held-cancelled` or `maintenance on|off`. */
export type NotifyEvent =
  | ({
      kind: "demoted" | "promoted";
      /**
       * Earlier changes of our bit folded into this one, untold one by one: the notify queue was
       * full of changes alone (notify-queue.ts). None (0) normally.
       */
      folded?: number;
    } & NotifyContext)
  | ({
      kind: "hook";
      hook: string;
      state: "pass" | "fail";
      /** The hook's first non-empty output line, or "". */
      output: string;
      /** Why it failed without a plain exit status (timed out, refused, cannot execute), or "". */
      reason: string;
      /** The exit status of the run that changed its state; null when it had none (killed, timed out, refused). */
      exitCode: number | null;
    } & NotifyContext)
  | ({
      /** A hold-down started: every check passes, our bit comes off at `until` unless a check fails. */
      kind: "held";
      /** Since when every check has passed (ISO 8601). */
      since: string;
      /** When the bit comes off (ISO 8601, the daemon's wall clock as it read then). */
      until: string;
      /** The same, as what was left of it then, measured on the monotonic clock. */
      remainingMs: number;
    } & NotifyContext)
  | ({
      /** The maintenance switch was turned on (this node is held demoted) or off. Also told when the daemon starts and finds it on. */
      kind: "maintenance";
      state: "on" | "off";
      /** Why, as given to `maintenance on --reason` ("" for none, and for off). */
      reason: string;
      /** When it was turned on (ISO 8601); "" for off. */
      since: string;
    } & NotifyContext)
  | ({
      /** A failed run ended a hold-down: the bit stays set. */
      kind: "held-cancelled";
      /** The hooks whose run failed, in name order (counted as failed or not: any failed run ends a hold-down). */
      brokenBy: string[];
    } & NotifyContext);

/** Changes of our bit: never dropped by a full queue (notify-queue.ts). */
export type ChangeEvent = Extract<NotifyEvent, { kind: "demoted" | "promoted" }>;

/** Whether an event tells a change of our bit. */
export function isChangeEvent(event: NotifyEvent): event is ChangeEvent {
  return event.kind === "demoted" || event.kind === "promoted";
}

/** Longest output line passed on: a notify script mails or posts it, it does not parse it. */
const OUTPUT_LINE_MAX = 200;

/** The first non-empty line, escaped (escape.ts; an environment value cannot hold NUL), cut. */
export function firstLine(output: string): string {
  const line = escapeText(
    output
      .split("\n")
      .find((l) => l.trim() !== "")
      ?.trim() ?? "",
  );
  return line.length > OUTPUT_LINE_MAX ? `${line.slice(0, OUTPUT_LINE_MAX - 1)}…` : line;
}

/**
 * The events of one evaluation, in the order they happened: the hooks whose counted state changed
 * (in name order); the maintenance switch turned on or off (`maintenance`, as the status book saw
 * it change); a hold-down that started (`held`), or one that lasted before this evaluation
 * (`heldBefore`) and that a failed run or the maintenance switch ended (`held-cancelled`); then our
 * bit, which changed because of them. A hook first seen passing is the normal start, not an event; entries that are
 * skipped are not checks and change nothing.
 */
export function notifyEventsOf(
  evaluation: Evaluation,
  transitions: readonly Transition[],
  { heldBefore = false, maintenance = null }: { heldBefore?: boolean; maintenance?: "on" | "off" | null } = {},
): NotifyEvent[] {
  const context: NotifyContext = {
    at: evaluation.startedAt,
    failed: evaluation.failed,
    demotionBefore: evaluation.demotionBefore,
    demotionAfter: evaluation.demotionAfter,
  };
  const events: NotifyEvent[] = [];
  for (const { name, from, to } of transitions) {
    if (to === "skipped" || (from === null && to === "pass")) continue;
    const service = evaluation.services.find((s) => s.name === name);
    events.push({
      kind: "hook",
      hook: name,
      state: to,
      output: firstLine(service?.output ?? ""),
      reason: escapeControl(service?.reason ?? ""),
      exitCode: service?.exitCode ?? null,
      ...context,
    });
  }
  if (maintenance !== null) {
    const on = evaluation.maintenance ?? null;
    events.push({
      kind: "maintenance",
      state: maintenance,
      reason: on?.reason ? escapeControl(on.reason) : "",
      since: on?.since ?? "",
      ...context,
    });
  }
  const held = evaluation.promotionHeld;
  const hold = holdChangeOf(evaluation, { heldBefore });
  if (held && hold === "started") {
    events.push({ kind: "held", since: held.passingSince, until: held.until, remainingMs: held.remainingMs, ...context });
  } else if (hold === "cancelled") {
    events.push({ kind: "held-cancelled", brokenBy: brokenRuns(evaluation), ...context });
  }
  if (evaluation.action !== "none") events.push({ kind: evaluation.action, ...context });
  return events;
}

/** The hooks whose run failed in an evaluation, counted as failed or not: any of them ends a hold-down. */
export function brokenRuns(evaluation: Evaluation): string[] {
  return evaluation.services.filter((s) => s.status === "fail").map((s) => s.name);
}

/**
 * What an evaluation did to the hold-down, as the daemon saw it (`heldBefore`: one lasted after its
 * previous evaluation): "started" (this run started one, or it is the first the daemon sees),
 * "cancelled" (a failed run, or the maintenance switch turned on, ended it; the bit stays set), or null. A hold-down that ends in the
 * promotion is the promotion.
 */
export function holdChangeOf(evaluation: Evaluation, { heldBefore }: { heldBefore: boolean }): "started" | "cancelled" | null {
  const held = evaluation.promotionHeld;
  if (held) return held.started === true || !heldBefore ? "started" : null;
  const ended = brokenRuns(evaluation).length > 0 || (evaluation.maintenance ?? null) !== null;
  return heldBefore && evaluation.action !== "promoted" && ended ? "cancelled" : null;
}

/** The arguments after the script's path. The hook's name is passed raw: argv holds any name. */
export function notifyArgs(event: NotifyEvent): string[] {
  if (event.kind === "hook") return ["hook", event.hook, event.state];
  if (event.kind === "held") return ["held", event.until];
  if (event.kind === "maintenance") return ["maintenance", event.state];
  return [event.kind];
}

/** A short label for logs: `demoted`, `hook "dns" fail`, `held 2026-11-30T12:01:00.000Z`. */
export function describeEvent(event: NotifyEvent): string {
  if (event.kind === "hook") return `hook "${escapeText(event.hook)}" ${event.state}`;
  if (event.kind === "held") return `held ${event.until}`;
  if (event.kind === "maintenance") return `maintenance ${event.state}`;
  return event.kind;
}

/** The variables of each kind of event, beyond those every event has. */
function eventEnv(event: NotifyEvent): Record<string, string> {
  switch (event.kind) {
    case "hook":
      return {
        CARP_HOOK: escapeText(event.hook),
        CARP_HOOK_STATE: event.state,
        CARP_HOOK_EXIT_CODE: event.exitCode === null ? "" : String(event.exitCode),
        CARP_HOOK_OUTPUT: event.output,
        CARP_HOOK_REASON: event.reason,
      };
    case "held":
      return { CARP_HOLD_SINCE: event.since, CARP_HOLD_UNTIL: event.until, CARP_HOLD_REMAINING_MS: String(event.remainingMs) };
    case "held-cancelled":
      return { CARP_HOLD_BROKEN_BY: event.brokenBy.map(escapeText).join("\n") };
    case "maintenance":
      return { CARP_MAINTENANCE: event.state, CARP_MAINTENANCE_REASON: event.reason, CARP_MAINTENANCE_SINCE: event.since };
    case "demoted":
    case "promoted":
      return { CARP_CHANGES_FOLDED: String(event.folded ?? 0) };
  }
}

/**
 * The environment of a notify script: the hooks' own (PATH, HOME; nothing of the daemon's), and
 * the event's context. Hook names and output are escaped (escape.ts): in CARP_FAILED_HOOKS, one
 * per line, a name with a newline stays one line.
 */
export function notifyEnv(event: NotifyEvent): Record<string, string> {
  return {
    ...HOOK_ENV,
    CARP_EVENT: event.kind,
    CARP_EVENT_TIME: event.at,
    CARP_FAILED_HOOKS: event.failed.map(escapeText).join("\n"),
    CARP_DEMOTION_BEFORE: String(event.demotionBefore),
    CARP_DEMOTION_AFTER: String(event.demotionAfter),
    ...eventEnv(event),
  };
}
