/**
 * A Bun macro (imported `with { type: "macro" }`): it runs when the importing code is transpiled or
 * bundled, never at run time, and its result is inlined as a literal. So the built-in
 * configuration (built-in.ts) takes its values from the schema itself without loading zod or
 * croner when a command starts.
 */
import { type Config, configSchema } from "./config.ts";
import { FREEBSD_PATHS } from "./defaults.ts";

/** The keys whose defaults depend on the platform: filled in at run time from defaults.ts. */
type PathKey = keyof typeof FREEBSD_PATHS;

/** The schema's default of every key but the platform's paths. */
export function schemaDefaults(): Omit<Config, PathKey> {
  const all: Record<string, unknown> = configSchema("freebsd").parse({});
  for (const key of Object.keys(FREEBSD_PATHS)) delete all[key];
  return all as Omit<Config, PathKey>;
}
