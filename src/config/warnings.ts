/**
 * What a valid configuration may still have wrong in its values: durations most likely meant in
 * seconds, a setting written below [hookEnv]. Warnings, not errors: the daemon runs as configured.
 * `config` and doctor say them (hook-names.ts has the tables that name no hook). Pure.
 */
import { type Config, configKeys } from "./config.ts";
import { hookTable } from "./hook-names.ts";
import type { ConfigWarning } from "./notices.ts";

/** Below this, a duration in milliseconds was most likely meant in seconds. */
export const LIKELY_SECONDS_BELOW_MS = 1000;

/** `promoteDelayMs = 30` (someone meaning 30 s) means 30 ms: say so. 0 is "off", not a slip. */
function millisecondsWarning(label: string, key: string, value: number | undefined): ConfigWarning[] {
  if (value === undefined || value === 0 || value >= LIKELY_SECONDS_BELOW_MS) return [];
  return [
    {
      message: `${label} = ${value} is in milliseconds (${value / 1000} s)`,
      fix: `for ${value} s write ${key} = ${value * 1000}`,
    },
  ];
}

/** Warnings about the values of a valid configuration (not about the hooks directory). */
export function valueWarnings(config: Config): ConfigWarning[] {
  const warnings = [
    ...millisecondsWarning("promoteDelayMs", "promoteDelayMs", config.promoteDelayMs),
    ...millisecondsWarning("hookTimeoutMs", "hookTimeoutMs", config.hookTimeoutMs),
    ...millisecondsWarning("notifyTimeoutMs", "notifyTimeoutMs", config.notifyTimeoutMs),
  ];
  for (const [name, settings] of Object.entries(config.hooks)) {
    warnings.push(...millisecondsWarning(`${hookTable(name)} timeoutMs`, "timeoutMs", settings.timeoutMs));
  }
  // A top-level key written below [hookEnv] becomes an environment variable and is lost as a setting.
  const keys = configKeys();
  for (const name of Object.keys(config.hookEnv).filter((name) => keys.includes(name))) {
    warnings.push({
      message: `[hookEnv] sets ${name}, which is a config key: below the [hookEnv] header it is an environment variable for hooks, not a setting`,
      fix: `move ${name} above the first [table]`,
    });
  }
  return warnings;
}
