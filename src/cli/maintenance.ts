/**
 * `maintenance on [--reason TEXT] | off | status`: the switch we own (engine/maintenance.ts). On and
 * off ask the daemon (POST /maintenance), which turns the switch under the evaluation lock and
 * evaluates at once; when no daemon answers, they do the same here, as trigger does. A daemon that
 * answers but does not know the switch (an older protocol) is an error, not a reason to switch
 * here: it would not heed the switch, and its next run would promote. Status reads the file.
 */
import { CarpError, EXIT } from "../common/errors.ts";
import { escapeControl } from "../common/escape.ts";
import { findSocket } from "../config/socket.ts";
import { callDaemon, DaemonIncompatible, DaemonUnreachable } from "../protocol/client.ts";
import { type Evaluation, type MaintenanceReply, reasonProblem } from "../protocol/wire.ts";
import type { Flags } from "./flags.ts";
import { exitCodeOfEvaluation, formatEvaluation, maintenanceLine } from "./report.ts";

/** What a person reads after the switch was turned: the evaluation that followed, and for off, what now decides. */
export function formatSwitched(reply: MaintenanceReply, { on }: { on: boolean }): string {
  const lines = [formatEvaluation(reply.evaluation)];
  if (!on) lines.push("maintenance off: the checks decide again");
  return lines.join("\n");
}

function print(reply: MaintenanceReply, { on, json }: { on: boolean; json: boolean }): void {
  console.log(json ? JSON.stringify(reply, null, 2) : formatSwitched(reply, { on }));
}

/** `maintenance status`: the switch as its file says, here (no daemon needed). */
async function showStatus(flags: Flags): Promise<number> {
  const { loadConfigCached } = await import("../system/config-cache.ts");
  const { readMaintenance } = await import("../engine/maintenance.ts");
  const { config } = await loadConfigCached({ file: flags.config as string | undefined });
  const read = readMaintenance(config.maintenanceFile);
  if (flags.json === true) {
    const maintenance = read.status === "on" ? read.maintenance : null;
    const problem = read.status === "unknown" ? read.problem : null;
    console.log(JSON.stringify({ maintenance, problem, maintenanceFile: config.maintenanceFile }, null, 2));
  } else if (read.status === "on") {
    console.log(maintenanceLine(read.maintenance));
  } else if (read.status === "off") {
    console.log("maintenance off: the checks decide");
  } else {
    console.log(`maintenance unknown: ${escapeControl(read.problem)}`);
  }
  return read.status === "unknown" ? EXIT.system : EXIT.ok;
}

/** Turns the switch here, under the lock, then evaluates here: what the daemon does, without one. */
async function switchHere(flags: Flags, request: { on: boolean; reason: string | null }, why: string): Promise<number> {
  console.error(`carp-service-status: ${why}: switching maintenance here`);
  const { loadConfigCached } = await import("../system/config-cache.ts");
  const { switchMaintenance } = await import("../engine/maintenance.ts");
  const here = await import("./evaluate-here.ts");
  const configFile = flags.config as string | undefined;
  const { config } = await loadConfigCached({ file: configFile });
  await switchMaintenance(config, request);
  const evaluation: Evaluation = await here.evaluateHere({ configFile });
  print({ maintenance: evaluation.maintenance ?? null, evaluation }, { on: request.on, json: flags.json === true });
  return here.exitCodeOfLocalEvaluation(evaluation);
}

export async function run(flags: Flags): Promise<number> {
  const state = flags.state as "on" | "off" | "status";
  const reason = flags.reason as string | undefined;
  if (reason !== undefined && state !== "on") throw new CarpError("usage", `--reason goes with "maintenance on", not "${state}"`);
  const problem = reason === undefined ? null : reasonProblem(reason);
  if (problem !== null) throw new CarpError("usage", `${problem}; give a shorter --reason`);
  if (state === "status") return showStatus(flags);
  const on = state === "on";
  // An empty reason is none (configd passes "" when the GUI's field is empty).
  const request = { on, reason: reason === undefined || reason === "" ? null : reason };
  const socket = findSocket(flags.config as string | undefined);
  try {
    if (socket === false) throw new DaemonUnreachable("The config sets no socket");
    const body = on && request.reason !== null ? { on, reason: request.reason } : { on };
    const reply = await callDaemon(socket, "maintenance", { body });
    print(reply, { on, json: flags.json === true });
    return exitCodeOfEvaluation(reply.evaluation);
  } catch (error) {
    // A daemon of another major runs, and would not heed a switch turned here.
    if (error instanceof DaemonIncompatible) throw new CarpError("system", error.message, { kind: "socket" });
    if (!(error instanceof DaemonUnreachable)) throw error;
    if (flags["no-fallback"]) throw new CarpError("system", `${error.message}; not switching here (--no-fallback)`, { kind: "socket" });
    return switchHere(flags, request, error.message);
  }
}
