/**
 * The demotion value explained for people, under the tables of `check`, `trigger` and `status`:
 * our 2^20 bit and the rest (engine/demotion.ts), and for a value that cannot be right the one
 * command that repairs it. Light to import: the client path uses it.
 */
import { type BitReason, explainDemotion } from "../engine/demotion.ts";

/**
 * One line splitting the value, and a `fix:` line for stacked or negative values, unless the
 * caller shows the same repair already (an evaluation's ANOMALY line). `why` says why our bit is
 * set: a check failed (default), the hold-down holds it, or a lost flap history keeps it.
 */
export function formatDemotionLines(value: number, { fix = true, why }: { fix?: boolean; why?: BitReason } = {}): string[] {
  const explained = explainDemotion(value, { why });
  return [`demotion ${explained.summary}`, ...(explained.fix === null || !fix ? [] : [`fix: ${explained.fix}`])];
}
