/** `check`: one evaluation, here and now. */
import type { Flags } from "./cli.ts";
import { loadConfig } from "./config.ts";
import { createEffects } from "./effects.ts";
import { EXIT } from "./errors.ts";
import { evaluate } from "./evaluate.ts";
import { createLog } from "./log.ts";
import { formatEvaluation } from "./report.ts";
import type { Evaluation } from "./result.ts";

/** check's exit status: 1 when a service failed, whatever was written. */
export function exitCodeOfEvaluation(evaluation: Evaluation): number {
  return evaluation.failed.length > 0 ? EXIT.serviceFailed : EXIT.ok;
}

/** Prints an evaluation as JSON or as the table. */
export function printEvaluation(evaluation: Evaluation, json: boolean): void {
  console.log(json ? JSON.stringify(evaluation, null, 2) : formatEvaluation(evaluation));
}

export async function run(flags: Flags): Promise<number> {
  const { config, notices } = loadConfig({ file: flags.config as string | undefined });
  const log = createLog(config.logLevel);
  for (const notice of notices) log.info(notice);
  const evaluation = await evaluate(config, { ...createEffects(config), log }, { dryRun: flags["dry-run"] === true });
  printEvaluation(evaluation, flags.json === true);
  return exitCodeOfEvaluation(evaluation);
}
