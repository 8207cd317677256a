/** `config`: the effective configuration, validated (like relayd -n). */
import type { Flags } from "./cli.ts";
import { loadConfig } from "./config.ts";
import { EXIT } from "./errors.ts";

export async function run(flags: Flags): Promise<number> {
  const { config, file, notices } = loadConfig({ file: flags.config as string | undefined });
  console.log(`# ${file ? `from "${file}"` : "built-in defaults (no config file)"}`);
  for (const notice of notices) console.log(`# ${notice}`);
  for (const [key, value] of Object.entries(config)) console.log(`${key} = ${JSON.stringify(value)}`);
  console.log("configuration OK");
  return EXIT.ok;
}
