/**
 * What each of doctor's checks returns: one finding, with a status, what was seen and, where
 * there is one, the command that fixes it. Pure helpers to judge and summarise a list of them.
 */

/** ok and info need nothing; warn is worth a look; problem will bite; skipped could not be checked. */
export type FindingStatus = "ok" | "info" | "warn" | "problem" | "skipped";

export interface Finding {
  /** The check's name, as in the table: "config", "preempt", "dry run". */
  check: string;
  status: FindingStatus;
  detail: string;
  /** A command or step that fixes it, or null. */
  fix: string | null;
}

/** A finding; `fix` only where there is one. */
export function finding(check: string, status: FindingStatus, detail: string, fix: string | null = null): Finding {
  return { check, status, detail, fix };
}

/** doctor's exit status: 0 all good, 1 warnings (or checks skipped), 2 problems. */
export function doctorExitCode(findings: readonly Finding[]): 0 | 1 | 2 {
  if (findings.some((f) => f.status === "problem")) return 2;
  if (findings.some((f) => f.status === "warn" || f.status === "skipped")) return 1;
  return 0;
}

function count(n: number, what: string): string {
  return `${n} ${what}${n === 1 ? "" : "s"}`;
}

/** One closing line: "all good", or how many problems, warnings and skipped checks there are. */
export function summarize(findings: readonly Finding[]): string {
  const problems = findings.filter((f) => f.status === "problem").length;
  const warnings = findings.filter((f) => f.status === "warn").length;
  const skipped = findings.filter((f) => f.status === "skipped").length;
  if (problems + warnings + skipped === 0) return `All ${findings.length} checks passed`;
  const parts = [problems && count(problems, "problem"), warnings && count(warnings, "warning"), skipped && count(skipped, "check")];
  const said = parts.filter(Boolean).join(", ");
  return `${said}${skipped ? " skipped" : ""}`;
}
