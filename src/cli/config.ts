/** `config`: the effective configuration, validated (like relayd -n); `--json` prints it as one object. */

import { EXIT } from "../common/errors.ts";
import { loadConfig } from "../config/config.ts";
import type { Flags } from "./flags.ts";

export async function run(flags: Flags): Promise<number> {
  const { config, file, notices } = loadConfig({ file: flags.config as string | undefined });
  if (flags.json) {
    // Every key with its effective value, for programs (the OPNsense plugin's import reads it).
    console.log(JSON.stringify(config, null, 2));
    return EXIT.ok;
  }
  console.log(`# ${file ? `from "${file}"` : "built-in defaults (no config file)"}`);
  for (const notice of notices) console.log(`# ${notice}`);
  for (const [key, value] of Object.entries(config)) console.log(`${key} = ${JSON.stringify(value)}`);
  console.log("configuration OK");
  return EXIT.ok;
}
