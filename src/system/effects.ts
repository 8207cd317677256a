/** Picks the real sysctl/logger or their simulations, as the config says. */
import type { Config } from "../config/config.ts";
import { SIMULATED } from "../config/defaults.ts";
import { createSimulatedOidReader, createSimulatedSysctl, createSimulatedSyslog } from "./simulation.ts";
import { createOidReader, createSysctl, type DemotionSysctl, type OidReader } from "./sysctl.ts";
import { createSyslog, type Syslog } from "./syslog.ts";

export function createEffects(config: Config): { sysctl: DemotionSysctl; syslog: Syslog } {
  return {
    sysctl: config.sysctl === SIMULATED ? createSimulatedSysctl(config.simulationFile) : createSysctl(config.sysctl),
    syslog: config.logger === SIMULATED ? createSimulatedSyslog(config.simulationLog) : createSyslog(config.logger),
  };
}

/** Reads other oids (net.inet.carp.preempt) with the config's sysctl, or from the simulation. */
export function createOidReaderFor(config: Config): OidReader {
  return config.sysctl === SIMULATED ? createSimulatedOidReader(config.simulationFile) : createOidReader(config.sysctl);
}
