/**
 * What kind of evaluation error a message tells of, for the `evaluation_errors_total{kind}` metric:
 * an alert on "sysctl" needs someone other than one on "hooks_dir". Read from the messages the
 * engine throws (each names its tool or file), so no throw site needs to change.
 */

/** The kinds, each one a label value that is always exported (zero until it happens). */
export const ERROR_KINDS = ["hooks_dir", "lock", "sysctl", "resources", "other"] as const;

export type ErrorKind = (typeof ERROR_KINDS)[number];

/**
 * Patterns in the order they are tried: a sysctl call stopped by the lock phase's deadline names
 * the lock too, and is a sysctl problem.
 */
const PATTERNS: ReadonlyArray<[ErrorKind, RegExp]> = [
  ["resources", /out of resources/],
  ["sysctl", /\bsysctl\b|simulated demotion/],
  ["hooks_dir", /hooks directory/i],
  ["lock", /lock file|flock/i],
];

/** The kind of an evaluation error, from its message; "other" when no pattern matches. */
export function errorKindOf(message: string): ErrorKind {
  return PATTERNS.find(([, pattern]) => pattern.test(message))?.[0] ?? "other";
}

/** A count for every kind, all zero. */
export function zeroErrorCounts(): Record<ErrorKind, number> {
  return Object.fromEntries(ERROR_KINDS.map((kind) => [kind, 0])) as Record<ErrorKind, number>;
}
