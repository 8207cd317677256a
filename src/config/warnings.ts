/**
 * What a valid configuration may still have wrong in its values: durations most likely meant in
 * seconds, a setting written below [hookEnv], a gateway's failOn that lets a worse status pass. Warnings, not errors: the daemon runs as configured.
 * `config` and doctor say them (hook-names.ts has the tables that name no hook). Pure.
 */
import { type Config, configKeys } from "./config.ts";
import { type FailOnStatus, gatewayTable } from "./gateways.ts";
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

/**
 * A failOn that lets a worse status pass. OPNsense reports one status per gateway, the worst that
 * applies (dpinger.inc): past the high loss or latency threshold it is "down", not "loss" or
 * "delay"; over both low thresholds it is "delay+loss", neither "delay" nor "loss".
 */
function failOnWarnings(gateway: string, failOn: readonly FailOnStatus[]): ConfigWarning[] {
  const list = `${gatewayTable(gateway)} failOn = [${failOn.map((status) => `"${status}"`).join(", ")}]`;
  const warnings: ConfigWarning[] = [];
  if (!failOn.includes("down")) {
    warnings.push({
      message: `${list} leaves out "down": past its high loss or latency threshold a gateway reads "down", so the check passes while the gateway is down`,
      fix: 'add "down" to failOn',
    });
  }
  const partial = failOn.filter((status) => status === "delay" || status === "loss");
  if (partial.length > 0 && !failOn.includes("delay+loss")) {
    warnings.push({
      message: `${list} leaves out "delay+loss": a gateway over both its latency and loss thresholds reads "delay+loss", not "${partial[0]}", and passes`,
      fix: 'add "delay+loss" to failOn',
    });
  }
  return warnings;
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
  for (const [gateway, settings] of Object.entries(config.gateways)) warnings.push(...failOnWarnings(gateway, settings.failOn));
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
