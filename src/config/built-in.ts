/**
 * The configuration when there is no config file, without loading zod or croner: the cold path of
 * `check`, and of the shim's fallback at boot, where every millisecond of start-up counts. The
 * values are the schema's own defaults, taken when the code is transpiled or bundled (a Bun macro,
 * schema-defaults.ts), so they cannot drift from it; the platform's paths are filled in at run time
 * as the schema fills them in. A config file is read and validated by config.ts, loaded only then.
 */
import { existsSync } from "node:fs";
import type { Config, LoadedConfig, LoadOptions } from "./config.ts";
import { DEFAULT_CONFIG_FILE, defaultPaths } from "./defaults.ts";
import { describeSimulation } from "./notices.ts";
import { schemaDefaults } from "./schema-defaults.ts" with { type: "macro" };

/** The configuration an empty config file means on this platform. */
export function builtInConfig(platform: string = process.platform): Config {
  return { ...schemaDefaults(), ...defaultPaths(platform) };
}

/**
 * Loads the configuration like config.ts's loadConfig, but without zod when no file is given and
 * the default file does not exist: the built-in configuration needs no validation.
 */
export async function loadConfigLazily(options: LoadOptions = {}): Promise<LoadedConfig> {
  const platform = options.platform ?? process.platform;
  if (options.file === undefined && !existsSync(DEFAULT_CONFIG_FILE)) {
    const config = builtInConfig(platform);
    return { config, file: null, notices: describeSimulation(config, platform) };
  }
  const { loadConfig } = await import("./config.ts");
  return loadConfig(options);
}
