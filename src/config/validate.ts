/**
 * A config file's text validated in full: parsed as TOML, checked by the zod schema, and its value
 * warnings. What the validated-config cache stores (system/config-cache.ts), loaded only on a miss.
 */
import { type Config, parseConfig } from "./config.ts";
import type { ConfigWarning } from "./notices.ts";
import { parseToml } from "./toml.ts";
import { valueWarnings } from "./warnings.ts";

/** Parses and validates `text`, read from `file`; throws CarpError("config") as loadConfig does. */
export function validateConfigText(
  text: string,
  options: { file: string; platform?: string },
): { config: Config; warnings: ConfigWarning[] } {
  const config = parseConfig(parseToml(text, options.file), { platform: options.platform, source: options.file });
  return { config, warnings: valueWarnings(config) };
}
