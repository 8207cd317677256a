/**
 * The result of one evaluation, as `check --json` prints it and the daemon replies with it.
 */

/** One entry of the hooks directory and what became of it. */
export interface ServiceResult {
  name: string;
  status: "pass" | "fail" | "skipped";
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  durationMs: number;
  /**
   * stdout and stderr, interleaved as they arrived; past outputLimitBytes its first and last
   * halves around a "[… N bytes dropped …]" line.
   */
  output: string;
  outputDroppedBytes: number;
  /** Why it failed without an exit status, or why it was skipped; null for a plain exit. */
  reason: string | null;
}

export type Action = "demoted" | "promoted" | "none";

export interface Evaluation {
  /** What was done: always "none" with --dry-run. */
  action: Action;
  /** What the decision was, done or not. */
  decision: "demote" | "promote" | "none";
  dryRun: boolean;
  /** Failed service names in byte order, as they appear in the syslog line. */
  failed: string[];
  demotionBefore: number;
  demotionAfter: number;
  /** The 2^20 bit is set after this evaluation. */
  demoted: boolean;
  /** The syslog line sent, or that would be sent with --dry-run; null when nothing changed. */
  message: string | null;
  services: ServiceResult[];
  /** Something about the demotion value that needs a human (stacked or negative). */
  anomalies: string[];
  /** Things that did not stop the evaluation (unreadable hooks dir, syslog failure). */
  warnings: string[];
  hooksDir: string;
  startedAt: string;
  durationMs: number;
}
