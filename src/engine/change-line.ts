/**
 * The daemon's own log line for a demotion or a promotion. The stock syslog line (decide.ts) says
 * only that it happened; this one says why: which hooks failed, how, and the first line they
 * printed, or which checks now pass. Pure, for a table-driven test.
 */
import { escapeControl, escapeText } from "../common/escape.ts";
import { countsAsFailed, type ServiceResult } from "../protocol/wire.ts";

/** Characters of a hook's first output line kept in the line. */
const FIRST_LINE_CHARS = 120;

/** A hook's first non-empty output line, trimmed and cut. */
export function firstOutputLine(output: string): string {
  const line =
    output
      .split("\n")
      .find((candidate) => candidate.trim() !== "")
      ?.trim() ?? "";
  return line.length > FIRST_LINE_CHARS ? `${line.slice(0, FIRST_LINE_CHARS - 1)}…` : line;
}

/** How a failed run failed, escaped: `exit 2: no Full neighbour`, `timed out after 10000 ms`. */
export function describeFailedRun(service: ServiceResult): string {
  const how =
    service.reason ?? (service.signal ? `killed by ${service.signal}` : `exit ${service.exitCode === null ? "?" : service.exitCode}`);
  const first = firstOutputLine(service.output);
  return `${escapeControl(how)}${first && !service.reason?.includes(first) ? `: ${escapeText(first)}` : ""}`;
}

/**
 * One hook that counts as failed, as a person reads it: `name (exit 2: no Full neighbour)`, or,
 * for one that passed its last run but has not passed `rise` runs in a row yet,
 * `name (passed its last run, still counts as failed: passing 1 of 3)`.
 */
export function describeFailure(service: ServiceResult): string {
  if (service.status === "pass") {
    const progress = service.counted ? `: passing ${service.counted.streak} of ${service.counted.needed}` : "";
    return `${escapeText(service.name)} (passed its last run, still counts as failed${progress})`;
  }
  return `${escapeText(service.name)} (${describeFailedRun(service)})`;
}

/** The message and fields of the daemon's line for a change of the demotion. */
export function describeChange(
  action: "demoted" | "promoted",
  evaluation: {
    demotionBefore: number;
    demotionAfter: number;
    services: readonly ServiceResult[];
    /** The maintenance switch, when it is on (since it demotes too). */
    maintenance?: { reason: string | null } | null;
  },
): { message: string; fields: Record<string, unknown> } {
  const { demotionBefore, demotionAfter, services, maintenance } = evaluation;
  if (action === "demoted") {
    const failed = services.filter(countsAsFailed);
    const held = maintenance ? [`maintenance on${maintenance.reason ? ` (${escapeText(maintenance.reason)})` : ""}`] : [];
    return {
      message: `demoted this node: ${[...held, ...failed.map(describeFailure)].join(", ")}`,
      fields: {
        demotionBefore,
        demotionAfter,
        failed: failed.map((service) => escapeText(service.name)),
        ...(maintenance ? { maintenance: true } : {}),
      },
    };
  }
  const passing = services
    .filter((service) => service.status !== "skipped" && !countsAsFailed(service))
    .map((service) => escapeText(service.name));
  const which = passing.length === 0 ? "no hooks to run" : `${passing.length} passing: ${passing.join(", ")}`;
  return { message: `promoted this node: every check passes (${which})`, fields: { demotionBefore, demotionAfter } };
}
