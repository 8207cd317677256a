/**
 * The `schedule` key: a croner pattern, checked by croner itself. When croner refuses one, the
 * message names the field that is wrong and what it takes, which croner's own does not say in
 * the user's terms ("Invalid value for day: 60" for a day of month written as 61).
 */
import { Cron } from "croner";
import { escapeControl } from "../common/escape.ts";

/** The schedule's default, and the example in its messages. */
export const SCHEDULE_EXAMPLE = "*/10 * * * * *";

interface Field {
  name: string;
  allowed: string;
}

const SECOND: Field = { name: "second", allowed: "0-59" };
const MINUTE: Field = { name: "minute", allowed: "0-59" };
const HOUR: Field = { name: "hour", allowed: "0-23" };
const DAY_OF_MONTH: Field = { name: "day of month", allowed: "1-31, L (last day), W (nearest weekday: 15W)" };
const MONTH: Field = { name: "month", allowed: "1-12 or JAN-DEC" };
const DAY_OF_WEEK: Field = { name: "day of week", allowed: "0-7 (0 and 7 are Sunday) or SUN-SAT, # (MON#1), L (5L: the last Friday)" };
const YEAR: Field = { name: "year", allowed: "1-9999" };

/** croner's layouts by number of fields: seconds first when there are 6 or 7, a year last when 7. */
const LAYOUTS: Record<number, Field[]> = {
  5: [MINUTE, HOUR, DAY_OF_MONTH, MONTH, DAY_OF_WEEK],
  6: [SECOND, MINUTE, HOUR, DAY_OF_MONTH, MONTH, DAY_OF_WEEK],
  7: [SECOND, MINUTE, HOUR, DAY_OF_MONTH, MONTH, DAY_OF_WEEK, YEAR],
};

/** The croner job of a pattern (paused: it schedules nothing), or croner's error. */
function cronOf(pattern: string): Cron | Error {
  try {
    // A paused job without a callback schedules no timer; construction alone validates.
    return new Cron(pattern, { paused: true });
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error));
  }
}

function accepts(pattern: string): boolean {
  const job = cronOf(pattern);
  if (job instanceof Error) return false;
  job.stop();
  return true;
}

function layoutOf(fields: readonly Field[]): string {
  return fields.map((field) => field.name.replaceAll(" ", "-")).join(" ");
}

/** Why croner refused a pattern, in terms of its fields: which one, what it holds, what it takes. */
export function describeCronError(pattern: string, cronerMessage: string): string {
  const shown = `"${escapeControl(pattern)}"`;
  const parts = pattern.trim().split(/\s+/);
  if (pattern.trim().startsWith("@")) {
    return `${shown} is not a nickname croner knows (@yearly, @monthly, @weekly, @daily, @hourly); or use a pattern, e.g. "${SCHEDULE_EXAMPLE}"`;
  }
  const layout = LAYOUTS[parts.length];
  if (layout === undefined) {
    return (
      `${shown} has ${parts.length} field${parts.length === 1 ? "" : "s"}; a cron pattern has 5 (${layoutOf(LAYOUTS[5]!)}), ` +
      `6 (second first) or 7 (second first, year last), e.g. "${SCHEDULE_EXAMPLE}"`
    );
  }
  // Each field alone, the others "*": the first that croner refuses on its own is the wrong one.
  for (const [i, field] of layout.entries()) {
    const alone = layout.map((_, j) => (j === i ? parts[j] : "*")).join(" ");
    if (!accepts(alone)) {
      return (
        `The ${field.name}, field ${i + 1} of ${parts.length}, is "${escapeControl(parts[i]!)}": allowed ${field.allowed}; ` +
        `fields: ${layoutOf(layout)}`
      );
    }
  }
  return `${shown} is not a valid cron pattern (${escapeControl(cronerMessage)}), e.g. "${SCHEDULE_EXAMPLE}"`;
}

/** Why a cron pattern is unusable, or null: it must parse and fire at least once from now on. */
export function scheduleProblem(pattern: string): string | null {
  const job = cronOf(pattern);
  if (job instanceof Error) return describeCronError(pattern, job.message);
  // A valid pattern can still name no real date (February 30): the daemon would never evaluate.
  const next = job.nextRun();
  job.stop();
  return next === null
    ? `"${escapeControl(pattern)}" never fires; use a pattern that matches a real date, e.g. "${SCHEDULE_EXAMPLE}"`
    : null;
}
