/** `check`: one evaluation, here and now. */

import { loadConfig } from "../config/config.ts";
import { evaluate } from "../engine/evaluate.ts";
import { createEffects } from "../system/effects.ts";
import { createLog } from "../system/log.ts";
import type { Flags } from "./flags.ts";
import { exitCodeOfEvaluation, printEvaluation } from "./report.ts";

export async function run(flags: Flags): Promise<number> {
  const { config, notices } = loadConfig({ file: flags.config as string | undefined });
  const log = createLog(config.logLevel);
  for (const notice of notices) log.info(notice);
  const evaluation = await evaluate(config, { ...createEffects(config), log }, { dryRun: flags["dry-run"] === true });
  printEvaluation(evaluation, flags.json === true);
  return exitCodeOfEvaluation(evaluation);
}
