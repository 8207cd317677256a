/**
 * The configuration when there is no config file, without loading zod or croner: the cold path of
 * `check`, and of the shim's fallback at boot, where every millisecond of start-up counts. The
 * values are the schema's own defaults, taken when the code is transpiled or bundled (a Bun macro,
 * schema-defaults.ts), so they cannot drift from it; the platform's paths are filled in at run time
 * as the schema fills them in. A config file is read and validated by config.ts, loaded only then
 * (system/config-cache.ts, which also keeps the validation for the next run).
 */
import type { Config } from "./config.ts";
import { defaultPaths } from "./defaults.ts";
import { schemaDefaults } from "./schema-defaults.ts" with { type: "macro" };

/** The configuration an empty config file means on this platform. */
export function builtInConfig(platform: string = process.platform): Config {
  return { ...schemaDefaults(), ...defaultPaths(platform) };
}
