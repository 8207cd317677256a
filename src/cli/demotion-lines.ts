/**
 * The demotion value explained for people, under the tables of `check`, `trigger` and `status`:
 * our 2^20 bit and the rest (engine/demotion.ts), and for a value that cannot be right the one
 * command that repairs it. Light to import: the client path uses it.
 */
import { explainDemotion } from "../engine/demotion.ts";

/**
 * One line splitting the value, and a `fix:` line for stacked or negative values, unless the
 * caller shows the same repair already (an evaluation's ANOMALY line).
 */
export function formatDemotionLines(value: number, { fix = true }: { fix?: boolean } = {}): string[] {
  const explained = explainDemotion(value);
  return [`demotion ${explained.summary}`, ...(explained.fix === null || !fix ? [] : [`fix: ${explained.fix}`])];
}
