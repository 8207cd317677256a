/**
 * The maintenance switch we own (`carp-service-status maintenance on|off`): while it is on, this
 * node is held demoted (our 2^20 bit) whatever the checks say. It lives in a file of its own,
 * `maintenanceFile` (/var/db/carp_service_status.maintenance), not in the state file: /var/run,
 * where the state file lives, is cleared at every boot, and a switch an admin turned on must
 * still be on after a reboot. Written atomically under the evaluation lock, by the daemon (its
 * socket route) or, when no daemon answers, by the command itself; read under the lock by every
 * evaluation. Off is no file.
 *
 *   {"version": 1, "reason": "upgrading FRR", "since": "2026-12-06T08:00:00.000Z"}
 *
 * A file that cannot be read or is not ours to understand says nothing either way: the evaluation
 * then leaves our bit as it is (never promotes for it, never demotes for it) and says why.
 */
import { mkdirSync, unlinkSync } from "node:fs";
import { dirname } from "node:path";
import { CarpError, messageOf, withKind } from "../common/errors.ts";
import { FileRefused, refusalFix, refusedTarget } from "../common/read-file.ts";
import { SIMULATION_DIR } from "../config/defaults.ts";
import { type Maintenance, reasonProblem } from "../protocol/wire.ts";
import { writeFileAtomicSync } from "../system/atomic-file.ts";
import { acquireLock } from "../system/lock-file.ts";
import { ensurePrivateDir, readNoFollow } from "../system/private-dir.ts";

export const MAINTENANCE_VERSION = 1;

/** The most of the file we read: a reason and a time. */
const MAINTENANCE_FILE_MAX_BYTES = 4096;

/** What the switch says. */
export type MaintenanceRead =
  | { status: "off" }
  | { status: "on"; maintenance: Maintenance }
  /** The file cannot be read or understood: the switch cannot be told. */
  | { status: "unknown"; problem: string };

function isMaintenance(value: unknown): value is Maintenance & { version: number } {
  if (typeof value !== "object" || value === null) return false;
  const { version, reason, since } = value as Record<string, unknown>;
  return (
    version === MAINTENANCE_VERSION &&
    (reason === null || (typeof reason === "string" && reasonProblem(reason) === null)) &&
    typeof since === "string" &&
    !Number.isNaN(Date.parse(since))
  );
}

function reasonOf(file: string, error: unknown): string {
  return error instanceof FileRefused ? `${error.message}; ${refusalFix(error.stats, file, "maintenanceFile")}` : messageOf(error);
}

/** The switch as `file` says it; never throws. */
export function readMaintenance(file: string, { privateDir = SIMULATION_DIR } = {}): MaintenanceRead {
  let text: string;
  try {
    if (dirname(file) === privateDir) ensurePrivateDir(privateDir);
    text = readNoFollow(file, MAINTENANCE_FILE_MAX_BYTES);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return { status: "off" };
    return { status: "unknown", problem: `Cannot read the maintenance file "${file}": ${reasonOf(file, error)}` };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = null;
  }
  if (!isMaintenance(parsed)) {
    return { status: "unknown", problem: `The maintenance file "${file}" is not a maintenance switch of version ${MAINTENANCE_VERSION}` };
  }
  return { status: "on", maintenance: { reason: parsed.reason, since: parsed.since } };
}

/**
 * Turns the switch on (`maintenance`) or off (null), atomically. Call it holding the evaluation
 * lock. Throws an Error naming the file when it cannot be written.
 */
export function writeMaintenance(file: string, maintenance: Maintenance | null, { privateDir = SIMULATION_DIR } = {}): void {
  const fail = (why: string) => new Error(`Cannot ${maintenance ? "turn maintenance on" : "turn maintenance off"}: "${file}": ${why}`);
  const dir = dirname(file);
  try {
    if (dir === privateDir) ensurePrivateDir(dir);
    const refused = refusedTarget(file, "maintenanceFile");
    if (refused !== null) throw fail(refused);
    if (maintenance === null) {
      try {
        unlinkSync(file);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
      }
      return;
    }
    if (dir !== privateDir) mkdirSync(dir, { recursive: true, mode: 0o755 });
    const text = `${JSON.stringify({ version: MAINTENANCE_VERSION, reason: maintenance.reason, since: maintenance.since })}\n`;
    writeFileAtomicSync(file, text, { mode: 0o600, durable: true });
  } catch (error) {
    if (error instanceof Error && error.message.startsWith("Cannot turn maintenance")) throw error;
    throw fail(messageOf(error));
  }
}

/** The switch after `maintenance on`: `since` kept when it was on already, the reason replaced when one is given. */
export function switchedOn(before: MaintenanceRead, { reason, now }: { reason: string | null; now: Date }): Maintenance {
  if (before.status === "on") return { reason: reason ?? before.maintenance.reason, since: before.maintenance.since };
  return { reason, since: now.toISOString() };
}

export interface SwitchOptions {
  on: boolean;
  /** With `on`: why; null keeps the reason it had when it was on already. */
  reason?: string | null;
  now?: Date;
  /** Default: flock on the config's lockFile, as an evaluation takes it. */
  acquireLock?: typeof acquireLock;
  signal?: AbortSignal;
}

/**
 * Turns the switch on or off under the evaluation lock (so no evaluation reads it half-way), and
 * returns it as it is now (null: off). Throws CarpError: kind `lock` when the lock is not had in
 * `lockTimeoutMs`, `state` when the file cannot be written. The caller evaluates next.
 */
export async function switchMaintenance(
  config: { maintenanceFile: string; lockFile: string; lockTimeoutMs: number },
  options: SwitchOptions,
): Promise<Maintenance | null> {
  const reason = options.reason ?? null;
  if (reason !== null) {
    const problem = reasonProblem(reason);
    if (problem !== null) throw new CarpError("usage", problem);
  }
  const lock = await (options.acquireLock ?? acquireLock)(config.lockFile, {
    timeoutMs: config.lockTimeoutMs,
    signal: options.signal,
  }).catch((error: unknown) => {
    throw withKind(error, "lock");
  });
  try {
    const next = options.on ? switchedOn(readMaintenance(config.maintenanceFile), { reason, now: options.now ?? new Date() }) : null;
    try {
      writeMaintenance(config.maintenanceFile, next);
    } catch (error) {
      throw new CarpError("system", messageOf(error), { cause: error, kind: "state" });
    }
    return next;
  } finally {
    lock.release();
  }
}
