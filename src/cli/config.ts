/** `config`: the effective configuration, validated (like relayd -n). */

import { EXIT } from "../common/errors.ts";
import { loadConfig } from "../config/config.ts";
import type { Flags } from "./flags.ts";

export async function run(flags: Flags): Promise<number> {
  const { config, file, notices } = loadConfig({ file: flags.config as string | undefined });
  console.log(`# ${file ? `from "${file}"` : "built-in defaults (no config file)"}`);
  for (const notice of notices) console.log(`# ${notice}`);
  for (const [key, value] of Object.entries(config)) console.log(`${key} = ${JSON.stringify(value)}`);
  console.log("configuration OK");
  return EXIT.ok;
}
