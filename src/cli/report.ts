/**
 * Renders results for a person at a terminal (`check`, `trigger`, `status`). Imports only types
 * and small helpers, so the lean client commands can use it. Every text that a hook (its name, its
 * output) or the system chose is escaped: an escape sequence must not reach the terminal.
 */
import { EXIT } from "../common/errors.ts";
import { escapeControl, escapeText } from "../common/escape.ts";
import type { BitReason } from "../engine/demotion.ts";
import type {
  DaemonStatus,
  Evaluation,
  EvaluationError,
  Maintenance,
  PromotionHold,
  ServiceResult,
  WithheldReason,
} from "../protocol/wire.ts";
import { formatDemotionLines } from "./demotion-lines.ts";

function exitColumn(service: ServiceResult): string {
  if (service.timedOut) return "timeout";
  if (service.signal) return service.signal;
  return service.exitCode === null ? "-" : String(service.exitCode);
}

function detailColumn(service: ServiceResult): string {
  const firstLine =
    service.output
      .split("\n")
      .find((line) => line.trim() !== "")
      ?.trim() ?? "";
  const reason = service.reason === null ? null : escapeControl(service.reason);
  const output = escapeText(firstLine);
  // Escaped before the cut, so the cut counts the characters actually shown.
  const detail = reason && output ? `${reason}: ${output}` : (reason ?? output);
  return detail.length > 100 ? `${detail.slice(0, 99)}…` : detail;
}

/** How long the run took; for a result kept for `intervalMs`, also how long ago it ran: "1203 ms, 42 s ago". */
function timeColumn(service: ServiceResult): string {
  const took = `${service.durationMs} ms`;
  return service.cached && service.ageMs !== undefined ? `${took}, ${formatAgo(service.ageMs)} ago` : took;
}

/** The raw result, and under flap control what it counts as while a change is pending: "fail, counts as pass (failing 1 of 3)". */
function resultColumn(service: ServiceResult): string {
  const counted = service.counted;
  // Not judged this run (a gateway whose status could not be read), yet it counts as it did.
  if (counted && service.status === "skipped") return `skipped, counts as ${counted.state}`;
  if (!counted || counted.streak === 0) return service.status;
  const towards = counted.state === "pass" ? "failing" : "passing";
  return `${service.status}, counts as ${counted.state} (${towards} ${counted.streak} of ${counted.needed})`;
}

/**
 * A held promotion, as a person reads it: the time left is the daemon's own (measured on its
 * monotonic clock, as of the reply), never `until` against this machine's wall clock. `since`
 * shows the time the hold-down started (default: as the daemon sent it).
 */
export function holdLine(held: PromotionHold, { since = (iso: string) => iso }: { since?: (iso: string) => string } = {}): string {
  const seconds = Math.max(0, Math.ceil(held.remainingMs / 1000));
  return `promotion held: ${seconds} s left (every check passing since ${since(held.passingSince)})`;
}

/**
 * Why our bit is set, for the explanation line: the hold-down, a lost flap history, the maintenance
 * switch (when no check fails), or (default) a failed check.
 */
export function bitReasonOf(report: {
  promotionHeld?: PromotionHold | null;
  promotionWithheld?: string | null;
  promotionWithheldBy?: WithheldReason | null;
  maintenance?: Maintenance | null;
  failed?: readonly string[];
  lastRun?: { failed: readonly string[] } | null;
}): BitReason {
  if (report.promotionHeld) return "held";
  const failed = report.failed ?? report.lastRun?.failed ?? [];
  if (report.maintenance && failed.length === 0) return "maintenance";
  if (!report.promotionWithheld) return "failed";
  if (report.promotionWithheldBy === "gateways") return "withheld_gateways";
  return report.promotionWithheldBy === "maintenance" ? "withheld_switch" : "withheld";
}

/** An age for people: "42 s", "12 min", "3 h". */
export function formatAgo(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  return `${Math.round(s / 3600)} h`;
}

/** The maintenance switch while it is on, one line: since when, why, and what ends it. */
export function maintenanceLine(
  maintenance: Maintenance,
  { since = (iso: string) => iso }: { since?: (iso: string) => string } = {},
): string {
  const reason = maintenance.reason === null ? "" : `: ${escapeControl(maintenance.reason)}`;
  return `maintenance on since ${since(maintenance.since)}${reason} (this node stays demoted; carp-service-status maintenance off ends it)`;
}

function renderTable(rows: string[][]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows
    .map((row) =>
      row
        .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!)))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

/** The hook table (one row per entry), with an optional SINCE column. */
export function formatServices<S extends ServiceResult>(
  services: readonly S[],
  { hooksDir, since }: { hooksDir: string; since?: (s: S) => string },
): string {
  if (services.length === 0) return `No hooks in "${hooksDir}"`;
  const header = ["HOOK", "RESULT", "EXIT", "TIME", ...(since ? ["SINCE"] : []), "OUTPUT / REASON"];
  const rows = services.map((s) => [
    escapeText(s.name),
    resultColumn(s),
    s.status === "skipped" ? "-" : exitColumn(s),
    s.status === "skipped" ? "-" : timeColumn(s),
    ...(since ? [since(s)] : []),
    detailColumn(s),
  ]);
  return renderTable([header, ...rows]);
}

/** Warnings (the evaluation's, then each hook's) and anomalies, one line each. */
function formatNotes({
  warnings,
  anomalies,
  services,
  errors = [],
}: {
  warnings: readonly string[];
  anomalies: readonly string[];
  services: readonly ServiceResult[];
  errors?: readonly EvaluationError[];
}): string[] {
  const hookWarnings = services.flatMap((s) => (s.warnings ?? []).map((w) => `hook "${escapeText(s.name)}" ${w}`));
  return [
    ...errors.map((e) => `ERROR: ${escapeControl(e.message)}`),
    ...[...warnings, ...hookWarnings].map((w) => `warning: ${escapeControl(w)}`),
    ...anomalies.map((a) => `ANOMALY: ${escapeControl(a)}`),
  ];
}

/** check's exit status: 3 for a system error the evaluation went on past, else 1 when a service failed, whatever was written. */
export function exitCodeOfEvaluation(evaluation: Evaluation): number {
  if ((evaluation.errors ?? []).length > 0) return EXIT.system;
  return evaluation.failed.length > 0 ? EXIT.serviceFailed : EXIT.ok;
}

/** Prints an evaluation as JSON or as the table. */
export function printEvaluation(evaluation: Evaluation, json: boolean): void {
  console.log(json ? JSON.stringify(evaluation, null, 2) : formatEvaluation(evaluation));
}

/**
 * Whether the status carries an anomaly of the demotion's own (a stacked or negative value, whose
 * text already holds the fix); the stock script's return is an anomaly of the node, not of the value.
 */
function hasDemotionAnomaly(status: DaemonStatus): boolean {
  const stockBack = status.stockScript?.state === "stock-back" ? 1 : 0;
  return status.anomalies.length > stockBack;
}

/** The daemon's status: what it last saw, when it runs next, counters. */
export function formatStatus(status: DaemonStatus): string {
  const demotion =
    status.demotion === null ? "not read yet" : `${status.demotion} (${status.demoted ? "demoted" : "not demoted"} by this tool)`;
  const lines = [
    `carp-service-status ${status.version}, pid ${status.pid}, up ${Math.round(status.uptimeMs / 1000)} s`,
    `demotion:  ${demotion}`,
    `last run:  ${status.lastRun ? `${status.lastRun.startedAt} (${status.lastRun.durationMs} ms, ${status.lastRun.action})` : "none yet"}${status.running ? ", running now" : ""}`,
    `next run:  ${status.nextRun ?? "on trigger only"}`,
    ...(status.maintenance ? [maintenanceLine(status.maintenance)] : []),
    ...(status.promotionHeld ? [`${holdLine(status.promotionHeld)}; the 2^20 bit comes off then unless a check fails`] : []),
    `counters:  ${Object.entries(status.counters)
      .map(([k, v]) => `${k} ${v}`)
      .join(", ")}`,
    "",
    formatServices(status.services, { hooksDir: status.hooksDir, since: (s) => s.since }),
  ];
  if (status.demotion !== null) {
    lines.push("", ...formatDemotionLines(status.demotion, { fix: !hasDemotionAnomaly(status), why: bitReasonOf(status) }));
  }
  if (status.lastError) lines.push("", `last error (${status.lastError.at}): ${escapeControl(status.lastError.message)}`);
  lines.push(...formatNotes(status));
  return lines.join("\n");
}

/** The hook table, then what was done to the demotion. */
export function formatEvaluation(evaluation: Evaluation): string {
  const lines: string[] = [formatServices(evaluation.services, { hooksDir: evaluation.hooksDir })];
  lines.push("");
  const change = `demotion ${evaluation.demotionBefore} -> ${evaluation.demotionAfter}`;
  if (evaluation.dryRun) {
    lines.push(
      `dry run: demotion ${evaluation.demotionBefore}, would ${evaluation.decision === "none" ? "change nothing" : evaluation.decision}`,
    );
  } else if (evaluation.action === "none") {
    lines.push(`demotion ${evaluation.demotionAfter}: no change (${evaluation.demoted ? "demoted" : "not demoted"} by this tool)`);
  } else {
    lines.push(`${change}: ${evaluation.action}`);
  }
  // The message is escaped already (decide.ts); again here for a daemon of another version, harmlessly.
  if (evaluation.message) lines.push(`${evaluation.dryRun ? "would log" : "syslog"}: ${escapeControl(evaluation.message)}`);
  if (evaluation.maintenance) lines.push(maintenanceLine(evaluation.maintenance));
  if (evaluation.promotionHeld) lines.push(`${holdLine(evaluation.promotionHeld)}; the 2^20 bit comes off then unless a check fails`);
  lines.push(...formatDemotionLines(evaluation.demotionAfter, { fix: evaluation.anomalies.length === 0, why: bitReasonOf(evaluation) }));
  lines.push(...formatNotes(evaluation));
  return lines.join("\n");
}
