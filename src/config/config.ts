/**
 * The configuration: one zod schema is the source of truth for keys, types and defaults.
 * The file is TOML with camelCase keys, as in bunfig.toml.
 */

import { existsSync } from "node:fs";
import { isAbsolute } from "node:path";
import { z } from "zod";
import { CarpError, messageOf } from "../common/errors.ts";
import { escapeControl } from "../common/escape.ts";
import { DEFAULT_CONFIG_FILE, defaultPaths, FREEBSD_PATHS, SIMULATED, SIMULATION_DIR } from "./defaults.ts";
import {
  DEFAULT_FAIL_ON,
  DEFAULT_GATEWAY_STATUS_COMMAND,
  FAIL_ON_STATUSES,
  GATEWAY_CHECK_PREFIX,
  GATEWAY_NAME_PATTERN,
  gatewayOfCheck,
} from "./gateways.ts";
import { findGid, GROUP_FILE } from "./group.ts";
import { type ConfigWarning, describeSimulation } from "./notices.ts";
import { readConfigText } from "./read-config.ts";
import { SCHEDULE_EXAMPLE, scheduleProblem } from "./schedule.ts";
import { unknownKeysMessage } from "./suggest.ts";
import { parseToml } from "./toml.ts";
import { PASSWD_FILE, userProblem } from "./users.ts";

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
const LOG_FORMATS = ["text", "json"] as const;

/** Where OPNsense's node_exporter plugin reads `*.prom` files. */
export const METRICS_FILE_EXAMPLE = "/var/tmp/node_exporter/carp_service_status.prom";
/** Beside the hooks directory, named like it. */
export const NOTIFY_DIR_EXAMPLE = "/usr/local/etc/rc.carp_service_status.notify.d";

/** Why a socket group is unusable, or null: a name must exist in the group file, a gid is taken as it is. */
function groupProblem(group: string | number, groupFile: string): string | null {
  try {
    if (findGid(group, groupFile) !== null) return null;
    return `no group "${group}" in "${groupFile}"; create it or give a numeric gid`;
  } catch (error) {
    return `cannot look up group "${group}" in "${groupFile}": ${messageOf(error)}; give a numeric gid`;
  }
}

/**
 * A path key: absolute, so it means the same whatever the cwd of `config`, the daemon and its hooks
 * (a relative hooksDir makes every hook fail with a misleading "interpreter not found").
 */
function absolutePath(example: string) {
  return z.string().refine(isAbsolute, { message: `must be an absolute path, e.g. "${example}"` });
}

/** A path key that also takes "simulated" (sysctl, logger). */
function toolPath(example: string) {
  return z.union([z.literal(SIMULATED), absolutePath(example)], {
    error: `must be an absolute path, e.g. "${example}", or "${SIMULATED}"`,
  });
}

const ms = (min: number, max: number) => z.number().int().min(min).max(max);
/** A count of consecutive runs (fall, rise). */
const runs = z.number().int().min(1).max(1000);

/** Why a `hookEnv` entry cannot be passed to a hook, or null: a portable name, and no NUL in the value (exec would cut it). */
function hookEnvProblem(name: string, value: string): string | null {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
    return `"${name}" is not an environment variable name; use letters, digits and _, not starting with a digit`;
  }
  return value.includes("\0") ? `the value of "${name}" contains a NUL character` : null;
}

/** Why a `[hooks."NAME"]` name can never be a hook's, or null: the gateway checks' prefix is theirs alone. */
function hookNameProblem(name: string): string | null {
  const gateway = gatewayOfCheck(name);
  if (gateway === null) return null;
  return `"${escapeControl(name)}" cannot name a hook: names starting with "${GATEWAY_CHECK_PREFIX}" are gateway checks, set in [gateways."${gateway}"]`;
}

/** Why a `failOn` list cannot be taken, or null: each status once. */
function failOnProblem(statuses: readonly string[]): string | null {
  const twice = statuses.find((status, i) => statuses.indexOf(status) !== i);
  return twice === undefined ? null : `lists "${twice}" twice`;
}

/**
 * A table that refuses keys it does not take, naming the nearest one it does ("did you mean").
 * `topLevel` gives the top-level keys to a table's message: one of them written below the table's
 * header belongs to the table, the commonest TOML slip.
 */
function strictTable<Shape extends z.ZodRawShape>(shape: Shape, topLevel?: () => readonly string[]) {
  return z.strictObject(shape, {
    error: (issue) =>
      issue.code === "unrecognized_keys" ? unknownKeysMessage(issue.keys, { keys: Object.keys(shape), topLevel: topLevel?.() }) : undefined,
  });
}

/** Where the schema looks things up on this machine; tests point it at their own files. */
export interface SchemaOptions {
  /** Group names of `socketGroup`, and the groups of a check's `user` (default /etc/group). */
  groupFile?: string;
  /** User names of a check's `user` (default /etc/passwd). */
  passwdFile?: string;
}

/** Builds the schema with the platform's defaults (real paths on FreeBSD, a simulation elsewhere). */
export function configSchema(platform: string = process.platform, options: SchemaOptions = {}) {
  const paths = defaultPaths(platform);
  const groupFile = options.groupFile ?? GROUP_FILE;
  const passwdFile = options.passwdFile ?? PASSWD_FILE;
  // Filled in below, read only when a hook's table has a key it does not take.
  let topLevelKeys: readonly string[] = [];
  const shape = {
    hooksDir: absolutePath(FREEBSD_PATHS.hooksDir)
      .default(paths.hooksDir)
      .describe("directory of check scripts; every executable entry is a service check"),
    sysctl: toolPath(FREEBSD_PATHS.sysctl).default(paths.sysctl).describe('sysctl(8) executable, or "simulated"'),
    logger: toolPath(FREEBSD_PATHS.logger).default(paths.logger).describe('logger(1) executable, or "simulated"'),
    lockFile: absolutePath(FREEBSD_PATHS.lockFile)
      .default(paths.lockFile)
      .describe("flock(2)ed from reading the demotion to the end of the write; the stock script locks the same file"),
    lockTimeoutMs: ms(0, 3_600_000).default(30_000).describe("how long an evaluation waits for that lock before failing"),
    socket: z
      .union([z.literal(false), absolutePath(FREEBSD_PATHS.socket)], {
        error: `must be an absolute path, e.g. "${FREEBSD_PATHS.socket}", or false`,
      })
      .default(paths.socket)
      .describe("the daemon's Unix socket, or false for none (schedule only)"),
    socketGroup: z
      .union([z.string().min(1), z.number().int().min(0)])
      .superRefine((group, ctx) => {
        const problem = groupProblem(group, groupFile);
        if (problem) ctx.addIssue({ code: "custom", message: problem });
      })
      .optional()
      .describe("group (name or gid) given access to the socket: mode 0660 instead of 0600"),
    schedule: z
      .union([
        z.literal(false),
        z.string().superRefine((pattern, ctx) => {
          const problem = scheduleProblem(pattern);
          if (problem) ctx.addIssue({ code: "custom", message: problem });
        }),
      ])
      .default(SCHEDULE_EXAMPLE)
      .describe("the daemon's evaluations: croner pattern (seconds allowed), or false for none"),
    hookTimeoutMs: ms(100, 3_600_000).default(10_000).describe("a hook running longer is killed with its process group and fails"),
    killGraceMs: ms(0, 60_000)
      .default(1_000)
      .describe("between SIGTERM and SIGKILL of a hook's process group (timed out, or left running after the hook exited)"),
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
      .describe(
        "as root, refuse (and fail) a hook that anyone but root could change: the file, a link's target, or a directory above them",
      ),
    fall: runs.default(1).describe("consecutive failed runs before a passing hook counts as failed (keepalived's fall)"),
    rise: runs.default(1).describe("consecutive passing runs before a failed hook counts as passing again (keepalived's rise)"),
    promoteDelayMs: ms(0, 86_400_000)
      .default(0)
      .describe("hold-down: every hook must count as passing, without a failed run, this long before the 2^20 bit is taken off"),
    stateFile: absolutePath(FREEBSD_PATHS.stateFile)
      .default(paths.stateFile)
      .describe("flap-control counters and the hold-down's start, kept under the lock so daemon, trigger and check agree"),
    maintenanceFile: absolutePath(FREEBSD_PATHS.maintenanceFile)
      .default(paths.maintenanceFile)
      .describe(
        "the maintenance switch (carp-service-status maintenance on|off): while the file says on, this node is held demoted; outside /var/run, which is cleared at boot",
      ),
    metricsFile: absolutePath(METRICS_FILE_EXAMPLE)
      .optional()
      .describe("Prometheus text file written atomically after every daemon evaluation, for node_exporter's textfile collector"),
    notifyDir: absolutePath(NOTIFY_DIR_EXAMPLE)
      .optional()
      .describe(
        "directory of notify scripts, run one at a time after every change of our demotion bit and of a hook's state; script security applies",
      ),
    notifyTimeoutMs: ms(100, 3_600_000)
      .default(10_000)
      .describe("a notify script running longer is killed with its process group (after killGraceMs) and logged"),
    hookEnv: z
      .record(z.string(), z.string())
      .superRefine((env, ctx) => {
        for (const [name, value] of Object.entries(env)) {
          const problem = hookEnvProblem(name, value);
          if (problem) ctx.addIssue({ code: "custom", message: problem, path: [name] });
        }
      })
      .default({})
      .describe(
        'extra environment variables for hooks, set over their PATH and HOME, e.g. { REQUESTS_CA_BUNDLE = "/usr/local/etc/ssl/cert.pem" }',
      ),
    gatewayStatusCommand: absolutePath(DEFAULT_GATEWAY_STATUS_COMMAND)
      .default(DEFAULT_GATEWAY_STATUS_COMMAND)
      .describe(
        "prints every gateway's status as JSON (OPNsense's gateway_status.php); run without a shell once per evaluation, only while a gateway is listed",
      ),
    gatewayStatusTimeoutMs: ms(100, 600_000)
      .default(10_000)
      .describe(
        "the gateway status command running longer is killed with all it started, and the evaluation fails (exit 3) leaving the demotion as it is",
      ),
    simulationFile: absolutePath(`${SIMULATION_DIR}/demotion`)
      .default(`${SIMULATION_DIR}/demotion`)
      .describe('state of the simulated sysctl (sysctl = "simulated")'),
    simulationLog: absolutePath(`${SIMULATION_DIR}/messages`)
      .default(`${SIMULATION_DIR}/messages`)
      .describe('syslog lines of the simulated logger (logger = "simulated")'),
    logFormat: z
      .enum(LOG_FORMATS)
      .default("text")
      .describe(
        'operational logs: "text" (a readable line on a terminal, key=value lines in syslog and pipes) or "json" (pino lines, for log shippers)',
      ),
    logLevel: z.enum(LOG_LEVELS).default("info").describe("operational log level"),
    // Tables last: in TOML every key after a [table] header belongs to that table.
    hooks: z
      .record(
        z
          .string()
          .min(1)
          .superRefine((name, ctx) => {
            const problem = hookNameProblem(name);
            if (problem) ctx.addIssue({ code: "custom", message: problem });
          }),
        strictTable(
          {
            fall: runs.optional(),
            rise: runs.optional(),
            timeoutMs: ms(100, 3_600_000).optional(),
            enabled: z.boolean().optional(),
            intervalMs: ms(1000, 86_400_000).optional(),
            user: z
              .string()
              .min(1)
              .superRefine((name, ctx) => {
                const problem = userProblem(name, { passwdFile, groupFile });
                if (problem) ctx.addIssue({ code: "custom", message: problem });
              })
              .optional(),
          },
          () => topLevelKeys,
        ),
      )
      .default({})
      .describe(
        "per-hook settings by file name: fall, rise, timeoutMs (overrides hookTimeoutMs), enabled = false (listed as skipped), intervalMs (runs at most that often; the last result counts between runs) and user (runs with that user's uid, gid, groups and HOME)",
      ),
    gateways: z
      .record(
        z.string().superRefine((name, ctx) => {
          if (!GATEWAY_NAME_PATTERN.test(name)) {
            const message = `"${escapeControl(name)}" is not a gateway name: up to 64 letters, digits, "_" and "-", as System > Gateways names them (e.g. WAN_GW)`;
            ctx.addIssue({ code: "custom", message });
          }
        }),
        strictTable(
          {
            enabled: z.boolean().optional(),
            fall: runs.optional(),
            rise: runs.optional(),
            failOn: z
              .array(z.enum(FAIL_ON_STATUSES), { error: `must be a list of statuses: ${FAIL_ON_STATUSES.map((s) => `"${s}"`).join(", ")}` })
              .min(1, { message: "must list at least one status; to stop checking a gateway set enabled = false" })
              .superRefine((statuses, ctx) => {
                const problem = failOnProblem(statuses);
                if (problem) ctx.addIssue({ code: "custom", message: problem });
              })
              .default(() => [...DEFAULT_FAIL_ON]),
          },
          () => topLevelKeys,
        ),
      )
      .default({})
      .describe(
        'gateway checks by gateway name, each the check "gateway:NAME": failOn (the statuses that fail it), fall, rise and enabled = false (listed as skipped)',
      ),
  };
  topLevelKeys = Object.keys(shape);
  return strictTable(shape);
}

export type Config = z.infer<ReturnType<typeof configSchema>>;

/** Every top-level key, in the schema's order. */
export function configKeys(): string[] {
  return Object.keys(configSchema("freebsd").shape);
}

/** A loaded configuration and where it came from. */
export interface LoadedConfig {
  config: Config;
  /** The file read, or null for built-in defaults. */
  file: string | null;
  /** Said once at start: e.g. that this machine has no CARP and a simulation is used. */
  notices: string[];
  /** What a valid configuration may still have wrong (warnings.ts), when the loader computed them. */
  warnings?: ConfigWarning[];
}

export interface LoadOptions {
  /** `--config FILE`: must exist. Without it the default file is read when present. */
  file?: string;
  platform?: string;
}

/**
 * Each unknown key on a line of its own (strictTable's message has one line per key), and a table
 * name that cannot be taken (`[gateways."WAN GW"]`) said as what is wrong with it, not as zod's
 * "Invalid key in record".
 */
function oneIssuePerUnknownKey(error: z.ZodError): z.ZodError {
  const issues = error.issues.flatMap((issue): z.core.$ZodIssue[] => {
    if (issue.code === "unrecognized_keys") return issue.message.split("\n").map((message) => ({ ...issue, message }));
    if (issue.code === "invalid_key" && issue.issues.length > 0) return issue.issues.map((inner) => ({ ...inner, path: issue.path }));
    return [issue];
  });
  return new z.ZodError(issues);
}

/** Validates a parsed config object; throws CarpError("config") naming every bad key. */
export function parseConfig(input: unknown, options: SchemaOptions & { platform?: string; source?: string } = {}): Config {
  const result = configSchema(options.platform, options).safeParse(input);
  if (!result.success) {
    const where = options.source ? `Invalid config "${options.source}"` : "Invalid config";
    throw new CarpError("config", `${where}:\n${z.prettifyError(oneIssuePerUnknownKey(result.error))}`);
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

export { readConfigText };

function readToml(file: string): unknown {
  return parseToml(readConfigText(file), file);
}
