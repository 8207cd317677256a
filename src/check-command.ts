/** `check`: one evaluation, here and now. */
import type { Flags } from "./cli.ts";
import { loadConfig } from "./config.ts";
import { createEffects } from "./effects.ts";
import { evaluate } from "./evaluate.ts";
import { createLog } from "./log.ts";
import { exitCodeOfEvaluation, printEvaluation } from "./report.ts";

export async function run(flags: Flags): Promise<number> {
  const { config, notices } = loadConfig({ file: flags.config as string | undefined });
  const log = createLog(config.logLevel);
  for (const notice of notices) log.info(notice);
  const evaluation = await evaluate(config, { ...createEffects(config), log }, { dryRun: flags["dry-run"] === true });
  printEvaluation(evaluation, flags.json === true);
  return exitCodeOfEvaluation(evaluation);
}
