/**
 * The demotion value explained for people, under the tables of `check`, `trigger` and `status`:
 * our 2^20 bit and the rest (engine/demotion.ts), and for a value that cannot be right the one
 * command that repairs it. Light to import: the client path uses it.
 */
import { explainDemotion } from "../engine/demotion.ts";

/** One line splitting the value, and a `fix:` line for stacked or negative values. */
export function formatDemotionLines(value: number): string[] {
  const explained = explainDemotion(value);
  return [`demotion ${explained.summary}`, ...(explained.fix === null ? [] : [`fix: ${explained.fix}`])];
}
