/**
 * The daemon's log lines about hooks: one per hook that changed in an evaluation, never one per
 * run. A change of its counted state (what decides) is a warning when it fails; a change of its
 * raw result while `fall` or `rise` holds the counted state (flapping) is an info line. Names,
 * reasons and output are escaped here, at the source: a plain-text log format would not cope.
 */
import { escapeControl, escapeText } from "../common/escape.ts";
import { describeFailedRun } from "../engine/change-line.ts";
import type { CountedState, Evaluation, ServiceResult } from "../protocol/wire.ts";
import type { Logger } from "../system/log.ts";
import type { Changes, Transition } from "./status-book.ts";

/** What a line about a hook carries: its result, and why. */
function hookFields(service: ServiceResult, transition: Transition) {
  return {
    hook: escapeText(service.name),
    from: transition.from,
    to: transition.to,
    exitCode: service.exitCode,
    reason: service.reason === null ? null : escapeControl(service.reason),
    output: escapeText(service.output.slice(0, 200)),
  };
}

/** A change of the counted state under way: `failing 1 of 3 (fall)`, `passing 2 of 3 (rise)`. */
function progressOf(counted: CountedState): string {
  return counted.state === "pass"
    ? `failing ${counted.streak} of ${counted.needed} (fall)`
    : `passing ${counted.streak} of ${counted.needed} (rise)`;
}

/** A hook's counted state changed. A daemon's first run keeps a stored failure of a hook that passes now: said, or "fail" with exit 0 puzzles. */
function logCountedChange(log: Logger, service: ServiceResult, transition: Transition): void {
  const fields = hookFields(service, transition);
  const c = service.counted;
  const despite =
    c && service.status !== "skipped" && service.status !== c.state
      ? `: its last run ${service.status === "pass" ? "passed" : "failed"}, ${progressOf(c)}`
      : "";
  const message = `hook "${fields.hook}" ${transition.from ?? "new"} -> ${transition.to}${despite}`;
  if (transition.to === "fail") log.warn(fields, message);
  else log.info(fields, message);
}

/** A hook's raw result changed while its counted state held: a change under way, or one given up. */
function logResultChange(log: Logger, service: ServiceResult, transition: Transition): void {
  const fields = hookFields(service, transition);
  const ran = transition.to === "fail" ? `failed its run (${describeFailedRun(service)})` : "passed its run";
  const c = service.counted;
  if (c === undefined) {
    log.info(fields, `hook "${fields.hook}" ${ran}`);
    return;
  }
  const counts = c.state === transition.to ? `, as it counts (${c.state})` : `, still counts as ${c.state}: ${progressOf(c)}`;
  log.info({ ...fields, counted: c.state, streak: c.streak, needed: c.needed }, `hook "${fields.hook}" ${ran}${counts}`);
}

/**
 * The one line of a change of the maintenance switch: on (or found on at start) at warn, as it
 * demotes; off at info. Said before the line of the demotion it causes.
 */
function logMaintenance(log: Logger, change: "on" | "off", evaluation: Evaluation): void {
  const on = evaluation.maintenance ?? null;
  if (change === "on" && on !== null) {
    const reason = on.reason === null ? "" : `: ${escapeControl(on.reason)}`;
    log.warn(
      { maintenance: "on", reason: on.reason === null ? null : escapeControl(on.reason), since: on.since },
      `maintenance on since ${on.since}${reason}; this node is held demoted until carp-service-status maintenance off`,
    );
  } else if (change === "off") {
    log.info({ maintenance: "off" }, "maintenance off: the checks decide again (with a hold-down, promoteDelayMs runs first)");
  }
}

/** The lines for one evaluation's changes (status-book.ts): hooks first seen passing are the normal start, and say nothing. */
export function logChanges(log: Logger, { changes, evaluation }: { changes: Changes; evaluation: Evaluation }): void {
  if (changes.maintenance !== null) logMaintenance(log, changes.maintenance, evaluation);
  const serviceOf = (name: string) => evaluation.services.find((s) => s.name === name)!;
  for (const transition of changes.counted) {
    if (transition.from === null && transition.to !== "fail") continue;
    logCountedChange(log, serviceOf(transition.name), transition);
  }
  const counted = new Set(changes.counted.map((t) => t.name));
  for (const transition of changes.results) {
    if (!counted.has(transition.name)) logResultChange(log, serviceOf(transition.name), transition);
  }
}
