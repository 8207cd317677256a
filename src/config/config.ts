/**
 * The configuration: one zod schema is the source of truth for keys, types and defaults.
 * The file is TOML with camelCase keys, as in bunfig.toml.
 */

import { existsSync, readFileSync } from "node:fs";
import { Cron } from "croner";
import { z } from "zod";
import { CarpError, messageOf } from "../common/errors.ts";
import { DEFAULT_CONFIG_FILE, defaultPaths, hasCarp, SIMULATED, SIMULATION_DIR } from "./defaults.ts";

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

function isCronPattern(pattern: string): boolean {
  try {
    // A paused job without a callback schedules no timer; construction alone validates.
    new Cron(pattern, { paused: true }).stop();
    return true;
  } catch {
    return false;
  }
}

const path = z.string().min(1, "must be a non-empty path");
const ms = (min: number, max: number) => z.number().int().min(min).max(max);

/** Builds the schema with the platform's defaults (real paths on FreeBSD, a simulation elsewhere). */
export function configSchema(platform: string = process.platform) {
  const paths = defaultPaths(platform);
  return z.strictObject({
    hooksDir: path.default(paths.hooksDir).describe("directory of check scripts; every executable entry is a service check"),
    sysctl: path.default(paths.sysctl).describe('sysctl(8) executable, or "simulated"'),
    logger: path.default(paths.logger).describe('logger(1) executable, or "simulated"'),
    lockFile: path
      .default(paths.lockFile)
      .describe("flock(2)ed from reading the demotion to the end of the write; the stock script locks the same file"),
    lockTimeoutMs: ms(0, 3_600_000).default(30_000).describe("how long an evaluation waits for that lock before failing"),
    socket: z
      .union([z.literal(false), path])
      .default(paths.socket)
      .describe("the daemon's Unix socket, or false for none (schedule only)"),
    socketGroup: z
      .union([z.string().min(1), z.number().int().min(0)])
      .optional()
      .describe("group (name or gid) given access to the socket: mode 0660 instead of 0600"),
    schedule: z
      .union([z.literal(false), z.string().refine(isCronPattern, { message: 'must be a valid cron pattern, e.g. "*/10 * * * * *"' })])
      .default("*/10 * * * * *")
      .describe("the daemon's evaluations: croner pattern (seconds allowed), or false for none"),
    hookTimeoutMs: ms(100, 3_600_000).default(10_000).describe("a hook running longer is killed with its process group and fails"),
    killGraceMs: ms(0, 60_000).default(1_000).describe("between SIGTERM and SIGKILL of a timed-out hook's process group"),
    concurrency: z.number().int().min(1).max(256).default(8).describe("hooks run at once"),
    outputLimitBytes: z
      .number()
      .int()
      .min(0)
      .max(1_048_576)
      .default(4096)
      .describe("bytes of each hook's output (stdout and stderr) kept: the first and the last half; the rest is read and dropped"),
    scriptSecurity: z
      .boolean()
      .default(true)
      .describe("as root, refuse (and fail) hooks not owned by root or group/world-writable, or in such a directory"),
    simulationFile: path.default(`${SIMULATION_DIR}/demotion`).describe('state of the simulated sysctl (sysctl = "simulated")'),
    simulationLog: path.default(`${SIMULATION_DIR}/messages`).describe('syslog lines of the simulated logger (logger = "simulated")'),
    logLevel: z.enum(LOG_LEVELS).default("info").describe("operational log level (pino JSON on stderr)"),
  });
}

export type Config = z.infer<ReturnType<typeof configSchema>>;

/** A loaded configuration and where it came from. */
export interface LoadedConfig {
  config: Config;
  /** The file read, or null for built-in defaults. */
  file: string | null;
  /** Said once at start: e.g. that this machine has no CARP and a simulation is used. */
  notices: string[];
}

export interface LoadOptions {
  /** `--config FILE`: must exist. Without it the default file is read when present. */
  file?: string;
  platform?: string;
}

/** Validates a parsed config object; throws CarpError("config") naming every bad key. */
export function parseConfig(input: unknown, options: { platform?: string; source?: string } = {}): Config {
  const result = configSchema(options.platform).safeParse(input);
  if (!result.success) {
    const where = options.source ? `Invalid config "${options.source}"` : "Invalid config";
    throw new CarpError("config", `${where}:\n${z.prettifyError(result.error)}`);
  }
  return result.data;
}

/** Reads and validates the configuration (file or built-in defaults). */
export function loadConfig(options: LoadOptions = {}): LoadedConfig {
  const platform = options.platform ?? process.platform;
  const file = options.file ?? (existsSync(DEFAULT_CONFIG_FILE) ? DEFAULT_CONFIG_FILE : null);
  const raw = file === null ? {} : readToml(file);
  const config = parseConfig(raw, { platform, source: file ?? undefined });
  return { config, file, notices: describeSimulation(config, platform) };
}

function readToml(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new CarpError("config", `Cannot read config "${file}": ${messageOf(error)}`, { cause: error });
  }
  try {
    return Bun.TOML.parse(text);
  } catch (error) {
    throw new CarpError("config", `Cannot parse config "${file}" as TOML: ${messageOf(error)}`, { cause: error });
  }
}

function describeSimulation(config: Config, platform: string): string[] {
  const simulated: string[] = [];
  if (config.sysctl === SIMULATED) simulated.push(`net.inet.carp.demotion is simulated in "${config.simulationFile}"`);
  if (config.logger === SIMULATED) simulated.push(`syslog is simulated in "${config.simulationLog}"`);
  if (simulated.length === 0) return [];
  const why = hasCarp(platform) ? "Simulation selected in the config" : `No CARP on this machine (${platform})`;
  return [`${why}: ${simulated.join(", ")}; hooks from "${config.hooksDir}"`];
}
