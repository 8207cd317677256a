/**
 * The kinds of the `evaluation_errors_total{kind}` metric: what an evaluation can end in, read
 * from the error's own `kind` (common/errors.ts), set where it was thrown, never from its message.
 * An alert on "sysctl" needs someone other than one on "hooks_dir".
 */
import { type ErrorKind, kindOf } from "../common/errors.ts";

/** The label values, each always exported (zero until it happens); any other kind counts as "other". */
export const EVALUATION_ERROR_KINDS = [
  "hooks_dir",
  "lock",
  "sysctl",
  "gateways",
  "resources",
  "other",
] as const satisfies readonly ErrorKind[];

export type EvaluationErrorKind = (typeof EVALUATION_ERROR_KINDS)[number];

/** The label an evaluation error counts under. */
export function evaluationErrorKind(error: unknown): EvaluationErrorKind {
  return errorKindLabel(kindOf(error));
}

/** The label of a kind by its name, as an Evaluation's `errors` carry it (a system error the evaluation went on past). */
export function errorKindLabel(kind: string): EvaluationErrorKind {
  return (EVALUATION_ERROR_KINDS as readonly string[]).includes(kind) ? (kind as EvaluationErrorKind) : "other";
}

/** A count for every kind, all zero. */
export function zeroErrorCounts(): Record<EvaluationErrorKind, number> {
  return Object.fromEntries(EVALUATION_ERROR_KINDS.map((kind) => [kind, 0])) as Record<EvaluationErrorKind, number>;
}
