/**
 * `configd evaluate|status|maintenance-on|maintenance-off`: what the configd actions run
 * (actions_carp_service_status.conf, and the GUI's maintenance switch), and what the shim falls
 * back to. configd logs any stderr output of a `script_output` action as an
 * error, and answers "Execute error" (logging a Python traceback) for a non-zero exit status. So
 * nothing here writes to stderr, and every state this tool expects exits 0: the daemon up or
 * down, services passing or failing, no daemon to ask for its status. Notes go to syslog at info
 * level; a real failure (sysctl, lock, config) is one syslog line at err, with ident
 * carp-service-status, and stdout says so in words configctl passes on.
 */
import { existsSync, readFileSync } from "node:fs";
import { EXIT, messageOf } from "../common/errors.ts";
import { DEFAULT_CONFIG_FILE, FREEBSD_PATHS, hasCarp, SIMULATED, SIMULATION_DIR } from "../config/defaults.ts";
import { findSocket } from "../config/socket.ts";
import { callDaemon, DaemonFailed, DaemonIncompatible, DaemonUnreachable } from "../protocol/client.ts";
import { reasonProblem, STATUS_TIMEOUT_MS } from "../protocol/wire.ts";
import { loadConfigCached } from "../system/config-cache.ts";
import { createSyslogWriter, LOG_IDENT, type SyslogTarget } from "../system/log-syslog.ts";
import { evaluateHere } from "./evaluate-here.ts";
import type { Flags } from "./flags.ts";
import { formatEvaluation } from "./report.ts";

/** The reply of `configd status` when no daemon answers, or none can be asked. */
export interface NoDaemonStatus {
  daemonRunning: boolean | null;
  socket: string | false | null;
  message: string;
  /** The maintenance switch as its file says (no daemon needed); absent when it cannot be told. */
  maintenance?: { reason: string | null; since: string } | null;
}

/** The maintenance switch from its file, for a status without a daemon: what the GUI's switch shows. */
async function maintenanceFromFile(configFile: string | undefined): Promise<Pick<NoDaemonStatus, "maintenance">> {
  try {
    const { readMaintenance } = await import("../engine/maintenance.ts");
    const read = readMaintenance((await loadConfigCached({ file: configFile })).config.maintenanceFile);
    return read.status === "unknown" ? {} : { maintenance: read.status === "on" ? read.maintenance : null };
  } catch {
    return {};
  }
}

/** A multi-line message (a config error lists every bad key) as one syslog record. */
export function oneLine(message: string): string {
  return message
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "")
    .join(" ");
}

/**
 * Where the syslog line of a failure goes when the config itself failed to load: only where the
 * file says (its `logger`, and `simulationLog` for a simulated one, read as plain TOML however bad
 * its other keys), else the system's logger(1) on a node with CARP. Never the built-in simulation's
 * shared directory, which the admin did not choose: on such a machine the line is not logged.
 */
export function logTargetOfBrokenConfig(configFile: string | undefined, platform: string = process.platform): SyslogTarget | null {
  const system = hasCarp(platform) ? { logger: FREEBSD_PATHS.logger, simulationLog: `${SIMULATION_DIR}/messages` } : null;
  const file = configFile ?? (existsSync(DEFAULT_CONFIG_FILE) ? DEFAULT_CONFIG_FILE : undefined);
  let keys: Record<string, unknown>;
  try {
    keys = file === undefined ? {} : (Bun.TOML.parse(readFileSync(file, "utf8")) as Record<string, unknown>);
  } catch {
    return system;
  }
  const isPath = (value: unknown): value is string => typeof value === "string" && value.startsWith("/");
  if (keys.logger === SIMULATED) {
    return isPath(keys.simulationLog) ? { logger: SIMULATED, simulationLog: keys.simulationLog } : system;
  }
  return isPath(keys.logger) ? { logger: keys.logger, simulationLog: `${SIMULATION_DIR}/messages` } : system;
}

/**
 * Logs a failure as one syslog line at err, with the config's logger (or, when the config is what
 * failed, the one logTargetOfBrokenConfig finds), and returns the text configctl shows for it.
 */
async function reportFailure(what: string, error: unknown, configFile: string | undefined): Promise<string> {
  const message = `${what} failed: ${oneLine(messageOf(error))}`;
  let target: SyslogTarget | null;
  try {
    target = (await loadConfigCached({ file: configFile })).config;
  } catch {
    target = logTargetOfBrokenConfig(configFile);
  }
  if (target === null) return `${LOG_IDENT}: ${message} (not logged: the config names no logger)`;
  const syslog = createSyslogWriter(target);
  syslog.send("err", message);
  await syslog.flush();
  return `${LOG_IDENT}: ${message} (logged to syslog)`;
}

/** The daemon's evaluation, or one here when no daemon answers: the table, whatever the services say. */
export async function evaluateForConfigd(configFile: string | undefined): Promise<string> {
  let unreachable: DaemonUnreachable;
  try {
    const socket = findSocket(configFile);
    if (socket === false) throw new DaemonUnreachable("The config sets no socket");
    return formatEvaluation(await callDaemon(socket, "evaluate"));
  } catch (error) {
    // The daemon logged its own failure already: one line in syslog is enough.
    if (error instanceof DaemonFailed) return `${LOG_IDENT}: ${oneLine(error.message)}`;
    if (!(error instanceof DaemonUnreachable)) return reportFailure("evaluation", error, configFile);
    unreachable = error;
  }
  try {
    const evaluation = await evaluateHere({ configFile, syslog: true, notes: [`${unreachable.message}: evaluating here`] });
    return formatEvaluation(evaluation);
  } catch (error) {
    return reportFailure("evaluation", error, configFile);
  }
}

/** The daemon's status as JSON, or a JSON object saying why there is none. */
export async function statusForConfigd(configFile: string | undefined): Promise<string> {
  const json = (value: unknown) => JSON.stringify(value, null, 2);
  let socket: string | false | null = null;
  try {
    socket = findSocket(configFile);
    if (socket === false) {
      return json({ daemonRunning: false, socket, message: "The config sets no socket, so there is no daemon to ask" });
    }
    return json(await callDaemon(socket, "status", { timeoutMs: STATUS_TIMEOUT_MS }));
  } catch (error) {
    if (error instanceof DaemonIncompatible) return json({ daemonRunning: true, socket, message: error.message } satisfies NoDaemonStatus);
    if (error instanceof DaemonUnreachable) {
      const message = `${error.message}; start it with: service carp_service_status start`;
      return json({ daemonRunning: false, socket, message, ...(await maintenanceFromFile(configFile)) } satisfies NoDaemonStatus);
    }
    return json({ daemonRunning: null, socket, message: await reportFailure("status", error, configFile) } satisfies NoDaemonStatus);
  }
}

/** What `configd maintenance-on|off` prints: the switch and the evaluation that followed, or why not. */
export interface MaintenanceForConfigd {
  ok: boolean;
  maintenance: { reason: string | null; since: string } | null;
  /** The evaluation's table, as `configd evaluate` prints it ("" when there was none). */
  output: string;
  message: string;
}

/**
 * Turns the maintenance switch through the daemon, or here when none answers (as `maintenance`
 * does), and prints JSON for the GUI: `ok`, the switch, the evaluation's table; or `ok: false` and
 * why (also logged to syslog, as configd's other failures are).
 */
export async function maintenanceForConfigd(configFile: string | undefined, on: boolean, reasonFlag: string | undefined): Promise<string> {
  const json = (value: MaintenanceForConfigd) => JSON.stringify(value, null, 2);
  const failed = (message: string) => json({ ok: false, maintenance: null, output: "", message });
  const reason = !on || reasonFlag === undefined || reasonFlag === "" ? null : reasonFlag;
  const problem = reason === null ? null : reasonProblem(reason);
  if (problem !== null) return failed(problem);
  let unreachable: DaemonUnreachable;
  try {
    const socket = findSocket(configFile);
    if (socket === false) throw new DaemonUnreachable("The config sets no socket");
    const reply = await callDaemon(socket, "maintenance", { body: reason === null ? { on } : { on, reason } });
    return json({ ok: true, maintenance: reply.maintenance, output: formatEvaluation(reply.evaluation), message: "" });
  } catch (error) {
    if (error instanceof DaemonIncompatible || error instanceof DaemonFailed) return failed(oneLine(error.message));
    if (!(error instanceof DaemonUnreachable)) return failed(await reportFailure("maintenance", error, configFile));
    unreachable = error;
  }
  try {
    const { switchMaintenance } = await import("../engine/maintenance.ts");
    const { config } = await loadConfigCached({ file: configFile });
    await switchMaintenance(config, { on, reason });
    const evaluation = await evaluateHere({ configFile, syslog: true, notes: [`${unreachable.message}: switching maintenance here`] });
    return json({ ok: true, maintenance: evaluation.maintenance ?? null, output: formatEvaluation(evaluation), message: "" });
  } catch (error) {
    return failed(await reportFailure("maintenance", error, configFile));
  }
}

export async function run(flags: Flags): Promise<number> {
  const configFile = flags.config as string | undefined;
  const action = flags.action as string;
  if (action === "maintenance-on" || action === "maintenance-off") {
    console.log(await maintenanceForConfigd(configFile, action === "maintenance-on", flags.reason as string | undefined));
  } else {
    console.log(action === "status" ? await statusForConfigd(configFile) : await evaluateForConfigd(configFile));
  }
  return EXIT.ok;
}
