/**
 * What a loaded configuration says once at start: that this machine has no CARP and a simulation
 * stands in for sysctl or syslog; and the shape of a warning about a valid configuration. Takes
 * only the keys it reads, so both loaders (the zod one and the built-in one of the cold path) can
 * use it without loading the other.
 */
import { hasCarp, SIMULATED } from "./defaults.ts";

/** The keys the notice is about. */
export interface SimulationKeys {
  hooksDir: string;
  sysctl: string;
  logger: string;
  simulationFile: string;
  simulationLog: string;
}

/** One line naming what is simulated and why, or nothing when neither sysctl nor syslog is. */
export function describeSimulation(config: SimulationKeys, platform: string): string[] {
  const simulated: string[] = [];
  if (config.sysctl === SIMULATED) simulated.push(`net.inet.carp.demotion is simulated in "${config.simulationFile}"`);
  if (config.logger === SIMULATED) simulated.push(`syslog is simulated in "${config.simulationLog}"`);
  if (simulated.length === 0) return [];
  const why = hasCarp(platform) ? "Simulation selected in the config" : `No CARP on this machine (${platform})`;
  return [`${why}: ${simulated.join(", ")}; hooks from "${config.hooksDir}"`];
}

/** One warning: what looks wrong, and the edit that fixes it when there is one. */
export interface ConfigWarning {
  message: string;
  fix: string | null;
}

/** The warning as one line: the message, then the fix. */
export function formatWarning(warning: ConfigWarning): string {
  return warning.fix === null ? warning.message : `${warning.message}; ${warning.fix}`;
}
