/**
 * The one sink for what an evaluation has to say beside its results: a warning is kept for the
 * Evaluation and logged, once, at its level, with its fields; a system error it went on past is
 * kept in `errors` and logged at error level with its kind. Notes about this process rather than
 * this run (its descriptor limit, its clock) are logged once per process and not kept.
 */

import type { ErrorKind } from "../common/errors.ts";
import type { EvaluationError } from "../protocol/wire.ts";
import type { Logger } from "../system/log.ts";

export type NoteLevel = "info" | "warn" | "error";

export interface AddOptions {
  /** The log level (default warn). */
  level?: NoteLevel;
  /** The log line's fields. */
  fields?: Record<string, unknown>;
  /** Logged once per process rather than at every evaluation (kept in every Evaluation all the same). */
  once?: boolean;
  /** Logged already where it arose (the flap history's own warnings): only kept. */
  logged?: boolean;
}

export interface EvaluationNotes {
  /** Where the notes are logged: the evaluation's logger. */
  readonly log: Logger;
  /** The warnings to report, in the order they were added. */
  readonly warnings: string[];
  /** The system errors the evaluation went on past. */
  readonly errors: EvaluationError[];
  /** Keeps a warning for the Evaluation and logs it. */
  warn(message: string, options?: AddOptions): void;
  /** Keeps a system error the evaluation went on past, logged at error level with its kind. */
  error(kind: ErrorKind, message: string, fields?: Record<string, unknown>): void;
  /** Logs a note about this process once per process; not kept. */
  once(note: string): void;
}

/** Notes worth one log line per process, not one per evaluation. */
const said = new Set<string>();

/** A sink for one evaluation, logging to `log`. */
export function evaluationNotes(log: Logger): EvaluationNotes {
  const warnings: string[] = [];
  const errors: EvaluationError[] = [];
  const once = (note: string, level: NoteLevel = "warn", fields: Record<string, unknown> = {}) => {
    if (said.has(note)) return;
    said.add(note);
    log[level](fields, note);
  };
  return {
    log,
    warnings,
    errors,
    warn(message, { level = "warn", fields = {}, once: onlyOnce = false, logged = false } = {}) {
      warnings.push(message);
      if (logged) return;
      if (onlyOnce) once(message, level, fields);
      else log[level](fields, message);
    },
    error(kind, message, fields = {}) {
      errors.push({ kind, message });
      log.error({ kind, ...fields }, message);
    },
    once: (note) => once(note),
  };
}
