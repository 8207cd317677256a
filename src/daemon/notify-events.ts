/**
 * What notify scripts are told, as pure functions: the events of one evaluation (a hook changed
 * state, we changed our bit), and for each event the arguments and the environment a script
 * gets. Events are plain data, so any source (today the daemon's pass/fail transitions, later
 * flap control's counted states) can put them in the same queue.
 */
import { escapeControl, escapeText } from "../common/escape.ts";
import { HOOK_ENV } from "../engine/evaluate.ts";
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

/** One event: argv `demoted`, `promoted`, or `hook NAME pass|fail`. */
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
    } & NotifyContext);

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
 * The events of one evaluation, in the order they happened: the hooks that changed state (in
 * name order), then our bit, which changed because of them. A hook first seen passing is the
 * normal start, not an event; entries that are skipped are not checks and change nothing.
 */
export function notifyEventsOf(evaluation: Evaluation, transitions: readonly Transition[]): NotifyEvent[] {
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
      ...context,
    });
  }
  if (evaluation.action !== "none") events.push({ kind: evaluation.action, ...context });
  return events;
}

/** The arguments after the script's path. The hook's name is passed raw: argv holds any name. */
export function notifyArgs(event: NotifyEvent): string[] {
  return event.kind === "hook" ? ["hook", event.hook, event.state] : [event.kind];
}

/** A short label for logs: `demoted`, `hook "dns" fail`. */
export function describeEvent(event: NotifyEvent): string {
  return event.kind === "hook" ? `hook "${escapeText(event.hook)}" ${event.state}` : event.kind;
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
    ...(event.kind === "hook"
      ? {
          CARP_HOOK: escapeText(event.hook),
          CARP_HOOK_STATE: event.state,
          CARP_HOOK_OUTPUT: event.output,
          CARP_HOOK_REASON: event.reason,
        }
      : { CARP_CHANGES_FOLDED: String(event.folded ?? 0) }),
  };
}
