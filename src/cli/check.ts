/** `check`: one evaluation, here and now (evaluate-here.ts). */
import { checkHere } from "./evaluate-here.ts";
import type { Flags } from "./flags.ts";

export async function run(flags: Flags): Promise<number> {
  return await checkHere({
    configFile: flags.config as string | undefined,
    dryRun: flags["dry-run"] === true,
    all: flags.all === true,
    json: flags.json === true,
  });
}
