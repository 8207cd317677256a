/** Renders an evaluation for a person at a terminal (`check`, `trigger`). */
import type { Evaluation, ServiceResult } from "./result.ts";

function exitColumn(service: ServiceResult): string {
  if (service.timedOut) return "timeout";
  if (service.signal) return service.signal;
  return service.exitCode === null ? "-" : String(service.exitCode);
}

function detailColumn(service: ServiceResult): string {
  const firstLine = service.output.split("\n").find((line) => line.trim() !== "")?.trim() ?? "";
  const detail = service.reason && firstLine ? `${service.reason}: ${firstLine}` : (service.reason ?? firstLine);
  return detail.length > 100 ? `${detail.slice(0, 99)}…` : detail;
}

function renderTable(rows: string[][]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join("  ").trimEnd()).join("\n");
}

/** The hook table, then what was done to the demotion. */
export function formatEvaluation(evaluation: Evaluation): string {
  const lines: string[] = [];
  if (evaluation.services.length === 0) {
    lines.push(`No hooks in "${evaluation.hooksDir}"`);
  } else {
    const header = ["HOOK", "RESULT", "EXIT", "TIME", "OUTPUT / REASON"];
    const rows = evaluation.services.map((s) => [
      s.name,
      s.status,
      s.status === "skipped" ? "-" : exitColumn(s),
      s.status === "skipped" ? "-" : `${s.durationMs} ms`,
      detailColumn(s),
    ]);
    lines.push(renderTable([header, ...rows]));
  }
  lines.push("");
  const change = `demotion ${evaluation.demotionBefore} -> ${evaluation.demotionAfter}`;
  if (evaluation.dryRun) {
    lines.push(`dry run: demotion ${evaluation.demotionBefore}, would ${evaluation.decision === "none" ? "change nothing" : evaluation.decision}`);
  } else if (evaluation.action === "none") {
    lines.push(`demotion ${evaluation.demotionAfter}: no change (${evaluation.demoted ? "demoted" : "not demoted"} by this tool)`);
  } else {
    lines.push(`${change}: ${evaluation.action}`);
  }
  if (evaluation.message) lines.push(`${evaluation.dryRun ? "would log" : "syslog"}: ${evaluation.message}`);
  for (const warning of evaluation.warnings) lines.push(`warning: ${warning}`);
  for (const anomaly of evaluation.anomalies) lines.push(`ANOMALY: ${anomaly}`);
  return lines.join("\n");
}
