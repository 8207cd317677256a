/** doctor's findings for a person: a table with the fixes under the line they belong to, and a summary. */
import { escapeControl } from "../common/escape.ts";
import { type Finding, summarize } from "./finding.ts";

const LABELS: Record<Finding["status"], string> = { ok: "ok", info: "info", warn: "WARN", problem: "PROBLEM", skipped: "skipped" };

/** The table: CHECK, RESULT, DETAIL; a fix goes on its own line below, under DETAIL. */
export function formatFindings(findings: readonly Finding[]): string {
  const checkWidth = Math.max("CHECK".length, ...findings.map((f) => f.check.length));
  const resultWidth = Math.max("RESULT".length, ...findings.map((f) => LABELS[f.status].length));
  const indent = " ".repeat(checkWidth + resultWidth + 4);
  const lines = [`${"CHECK".padEnd(checkWidth)}  ${"RESULT".padEnd(resultWidth)}  DETAIL`];
  for (const f of findings) {
    lines.push(`${f.check.padEnd(checkWidth)}  ${LABELS[f.status].padEnd(resultWidth)}  ${escapeControl(f.detail)}`);
    if (f.fix !== null) lines.push(`${indent}fix: ${escapeControl(f.fix)}`);
  }
  lines.push("", summarize(findings));
  return lines.join("\n");
}
