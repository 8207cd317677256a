/**
 * Constants shared by the engine and the lean client path. This module imports nothing, so
 * `trigger` and `status` can find the socket without loading zod, pino or croner.
 */
/** The sysctl our bit lives in. */
export const DEMOTION_OID = "net.inet.carp.demotion";
/** Whether this node takes mastership back from a peer that advertises worse: without it on the peer, demotion moves nothing. */
export const PREEMPT_OID = "net.inet.carp.preempt";

/**
 * 2^20: far above every kernel contributor (240 each), so the bit alone tells whether we
 * demoted, with no state kept between runs. The stock script uses the same value.
 */
export const DEMOTION_BIT = 1_048_576;

/** The config file read when `--config` is not given and the file exists. */
export const DEFAULT_CONFIG_FILE = "/usr/local/etc/carp_service_status.toml";

/** The most we read of a config file: a config is a few KiB, this is room for comments, not for /dev/zero. */
export const CONFIG_MAX_BYTES = 1024 * 1024;

/** Paths on a real OPNsense/FreeBSD node; the lock file and hooks dir are the stock script's. */
export const FREEBSD_PATHS = {
  hooksDir: "/usr/local/etc/rc.carp_service_status.d",
  sysctl: "/sbin/sysctl",
  logger: "/usr/bin/logger",
  lockFile: "/var/run/carp_service_status.lock",
  socket: "/var/run/carp_service_status.sock",
  /** Flap-control counters and the hold-down's start, shared by the daemon, trigger and check. */
  stateFile: "/var/run/carp_service_status.state",
  /** The maintenance switch: in /var/db, which survives a reboot (/var/run is cleared at boot). */
  maintenanceFile: "/var/db/carp_service_status.maintenance",
} as const;

/** Value of `sysctl` or `logger` that selects the built-in simulation of it. */
export const SIMULATED = "simulated";

// Plain strings rather than node:os/node:path: this module is on the lean client path.

/** Where the simulation keeps its state on machines without CARP (fixed, so every user and run agrees). */
export const SIMULATION_DIR = "/tmp/carp-service-status";

/**
 * The repository's example hooks (src/config/../../hooks) when this module runs from the source
 * tree, as in the quick start; null when it runs from anywhere else. Told by the entry script
 * (`main`): a TypeScript file only from the source tree. Not by the module's directory alone: in
 * CommonJS output (the port's bundle, the compiled executable) import.meta.dir is the directory
 * the code was built from, which on the build machine holds the repository.
 */
export function repoHooksDir(moduleDir: string = import.meta.dir, main: string = Bun.main): string | null {
  if (!main.endsWith(".ts")) return null;
  const match = /^(.+)\/src\/config$/.exec(moduleDir);
  return match ? `${match[1]}/hooks` : null;
}

/**
 * Paths on a machine without CARP (anything but FreeBSD): a simulated sysctl and syslog that keep
 * their state in SIMULATION_DIR, and the repository's hooks from the source tree (else the stock
 * hooks directory, as on a node).
 */
export const SIMULATED_PATHS = {
  hooksDir: repoHooksDir() ?? FREEBSD_PATHS.hooksDir,
  sysctl: SIMULATED,
  logger: SIMULATED,
  lockFile: `${SIMULATION_DIR}/lock`,
  socket: `${SIMULATION_DIR}/sock`,
  stateFile: `${SIMULATION_DIR}/state`,
  maintenanceFile: `${SIMULATION_DIR}/maintenance`,
} as const;

/** True where the kernel has carp(4): the real paths apply. */
export function hasCarp(platform: string = process.platform): boolean {
  return platform === "freebsd";
}

/** The platform's default paths. */
export function defaultPaths(platform: string = process.platform) {
  return hasCarp(platform) ? FREEBSD_PATHS : SIMULATED_PATHS;
}
