/**
 * The flap history between processes (`stateFile`): read and written under the evaluation lock,
 * so the daemon, a fallback trigger and a manual check count the same runs. Written atomically (a
 * temporary file, then rename), read bounded (common/read-file.ts): a FIFO, a device or a huge
 * file is refused, never waited on.
 *
 * Times in it are CLOCK_MONOTONIC readings (system/clock.ts), stamped with the clock that took
 * them: its boot id, the writing process, and one reading of both clocks. Another process uses
 * them only when it can tell they are on its own clock (the same boot); otherwise the hold-down
 * starts over. Run counts (streaks, counted states) hold whatever the clocks did.
 *
 * Version 2 (this one):
 *
 *   {"version": 2,
 *    "clock": {"boot": "0bf8...", "process": "5f1c...", "monotonicMs": 723211.5, "wallMs": 1796542170357},
 *    "hooks": {"ospf": {"state": "fail", "streak": 1}},
 *    "passingSince": 700000.25, "observedAt": 723100.75, "bitSet": true,
 *    "runs": {"slow": {"ranAt": 723100.75, "fingerprint": "...", "result": {"status": "pass", ...}}}}
 *
 * `runs` (results kept for `intervalMs`, result-cache.ts) came later in version 2: a reader
 * without it ignores it, and a file without it keeps no result; its times are dropped with the
 * hold-down's when they are not on this process's clock, so such a check runs again.
 *
 * Version 1 held wall-clock times: its counters are read as before, its times are dropped (a
 * hold-down in progress starts over). Anything else is not a history this version can use.
 */
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { messageOf } from "../common/errors.ts";
import { FileRefused, refusalFix, refusedTarget } from "../common/read-file.ts";
import { SIMULATION_DIR } from "../config/defaults.ts";
import { writeFileAtomicSync } from "../system/atomic-file.ts";
import type { ClockReading } from "../system/clock.ts";
import { ensurePrivateDir, readNoFollow } from "../system/private-dir.ts";
import { type FlapHistory, type HookHistory, NO_HISTORY } from "./flap.ts";
import { keptResultsOf } from "./result-cache.ts";

export const STATE_VERSION = 2;

/**
 * The most of a state file we read: a hook's entry takes some 50 bytes plus its name, so this is
 * thousands of hooks; anything bigger is not our file.
 */
export const STATE_FILE_MAX_BYTES = 1024 * 1024;

/**
 * Without a boot id on both sides, the boot is told by the wall clock's time of boot (wall minus
 * monotonic), which moves only when the wall clock is stepped or the machine restarts. A second
 * covers the time between the two readings and a leap second.
 */
export const CLOCK_STEP_TOLERANCE_MS = 1000;

/** The clock a stored history's times were taken on. */
export type StoredClock = Pick<ClockReading, "boot" | "process" | "monotonicMs" | "wallMs">;

/** What readHistory found. */
export type HistoryRead =
  /** A history: its times on this process's clock, or dropped (`note` says why). */
  | { status: "read"; history: FlapHistory; note: string | null }
  /** No file: no history, as at boot. */
  | { status: "missing"; history: FlapHistory }
  /** A file that could not be read or used: the history is lost (`reason`). */
  | { status: "unreadable"; history: FlapHistory; reason: string };

function isHookHistory(value: unknown): value is HookHistory {
  if (typeof value !== "object" || value === null) return false;
  const { state, streak } = value as Record<string, unknown>;
  return (state === "pass" || state === "fail") && Number.isSafeInteger(streak) && (streak as number) >= 0;
}

/** A time a Date can hold (0 to year 275760), as epoch ms. */
function isEpochMs(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0 && (value as number) <= MAX_EPOCH_MS;
}

const MAX_EPOCH_MS = 8.64e15;

/** A monotonic reading: finite, not negative (a boot's whole span fits a double's integer range many times). */
function isMonotonicMs(value: unknown): value is number {
  return typeof value === "number" && Number.isFinite(value) && value >= 0 && value <= MAX_EPOCH_MS;
}

function isIdentity(value: unknown): value is string {
  return typeof value === "string" && value.length > 0 && value.length <= 128;
}

function isStoredClock(value: unknown): value is StoredClock {
  if (typeof value !== "object" || value === null) return false;
  const { boot, process, monotonicMs, wallMs } = value as Record<string, unknown>;
  return (boot === null || isIdentity(boot)) && isIdentity(process) && isMonotonicMs(monotonicMs) && isEpochMs(wallMs);
}

/** The hooks of a parsed state, without a prototype (a hook may be called "__proto__"); null when malformed. */
function hooksOf(hooks: unknown): Record<string, HookHistory> | null {
  if (typeof hooks !== "object" || hooks === null || Array.isArray(hooks)) return null;
  if (!Object.values(hooks).every(isHookHistory)) return null;
  return Object.assign(Object.create(null), hooks);
}

/** A parsed state file: the history with its times as stored, and the clock they were taken on. */
export interface StoredHistory {
  history: FlapHistory;
  /** Null for version 1, whose times were wall-clock: they are not used. */
  clock: StoredClock | null;
}

/**
 * The history in a parsed state file, or null when it is not one this version can use. Checked by
 * hand: `check`, the cold path at boot, loads no schema library for it.
 */
function storedHistoryOf(parsed: unknown): StoredHistory | null {
  if (typeof parsed !== "object" || parsed === null) return null;
  const { version, hooks: rawHooks, passingSince, bitSet, observedAt, clock, runs } = parsed as Record<string, unknown>;
  const hooks = hooksOf(rawHooks);
  if (hooks === null || (bitSet !== null && typeof bitSet !== "boolean")) return null;
  if (version === 1) {
    // Wall-clock times: no way to tell whether the clock was stepped since. The counters stand.
    if (passingSince !== null && !isEpochMs(passingSince)) return null;
    if (observedAt !== undefined && observedAt !== null && !isEpochMs(observedAt)) return null;
    // Its times go with clock: null (historyAsOf drops them, saying so when a hold-down was running).
    return { history: { hooks, passingSince, bitSet, observedAt: null }, clock: null };
  }
  if (version !== STATE_VERSION || !isStoredClock(clock)) return null;
  // Times after the reading that stamped them are not ours.
  const isTime = (time: unknown) => time === null || (isMonotonicMs(time) && time <= clock.monotonicMs);
  if (!isTime(passingSince) || !isTime(observedAt)) return null;
  const history: FlapHistory = { hooks, passingSince: passingSince as number | null, bitSet, observedAt: observedAt as number | null };
  // Only a cache: an entry that is not one is left out, the history stands.
  const kept = keptResultsOf(runs, clock.monotonicMs);
  if (Object.keys(kept).length > 0) history.runs = kept;
  return { history, clock };
}

function formatMs(ms: number): string {
  const seconds = Math.round(ms / 1000);
  return `${seconds >= 0 ? "+" : ""}${seconds} s`;
}

/**
 * Pure: why times taken on `stored` cannot be compared with `now`, or null when they can. The same
 * process always can. Otherwise the monotonic clock must be the same boot's: told by the boot ids
 * where both are known, else by the wall clock's time of boot, which moves when the wall clock is
 * stepped (so a stepped clock starts the hold-down over rather than ending it early).
 */
export function clockMismatch(stored: StoredClock, now: ClockReading): string | null {
  if (stored.process === now.process) return null;
  if (stored.boot !== null && now.boot !== null && stored.boot !== now.boot) return "the machine has restarted since it was written";
  if (now.monotonicMs < stored.monotonicMs) return "the monotonic clock is behind the one it was written with (a restart)";
  if (stored.boot !== null && now.boot !== null) return null;
  const moved = now.wallMs - now.monotonicMs - (stored.wallMs - stored.monotonicMs);
  if (Math.abs(moved) <= CLOCK_STEP_TOLERANCE_MS) return null;
  return `the wall clock has moved ${formatMs(moved)} against the monotonic clock since it was written (stepped, or a restart), and no boot id tells which`;
}

/**
 * Pure: a stored history as this process can use it. Its times stand when they are on this
 * process's clock; otherwise they are dropped, so a hold-down in progress starts over in full
 * (never ends early), and `note` says why. Run counts are kept either way.
 */
export function historyAsOf(stored: StoredHistory, now: ClockReading): { history: FlapHistory; note: string | null } {
  const { history, clock } = stored;
  const mismatch = clock === null ? "it was written by a version that kept wall-clock times" : clockMismatch(clock, now);
  if (mismatch === null) return { history, note: null };
  const note = history.passingSince === null ? null : `The hold-down starts over: ${mismatch}`;
  // Kept results go too: their times cannot be placed either, so those checks run again.
  const { runs: _runs, ...rest } = history;
  return { history: { ...rest, passingSince: null, observedAt: null }, note };
}

function prepareDirectory(file: string, privateDir: string): void {
  const dir = dirname(file);
  if (dir === privateDir) ensurePrivateDir(dir);
  else mkdirSync(dir, { recursive: true, mode: 0o755 });
}

/** The error's message, with the fix when the file was refused for what it is. */
function reasonOf(file: string, error: unknown): string {
  return error instanceof FileRefused ? `${error.message}; ${refusalFix(error.stats, file, "stateFile")}` : messageOf(error);
}

/**
 * The history in `file`, with its times on `now`'s clock. A missing file is no history; a file
 * that cannot be read or used is reported as lost, with the reason, never thrown.
 */
export function readHistory(file: string, now: ClockReading, { privateDir = SIMULATION_DIR } = {}): HistoryRead {
  let text: string;
  try {
    if (dirname(file) === privateDir) ensurePrivateDir(privateDir);
    text = readNoFollow(file, STATE_FILE_MAX_BYTES);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return { status: "missing", history: NO_HISTORY };
    return { status: "unreadable", history: NO_HISTORY, reason: `Cannot read the state file "${file}": ${reasonOf(file, error)}` };
  }
  let stored: StoredHistory | null;
  try {
    stored = storedHistoryOf(JSON.parse(text));
  } catch {
    return { status: "unreadable", history: NO_HISTORY, reason: `The state file "${file}" is not JSON` };
  }
  if (stored === null) {
    return {
      status: "unreadable",
      history: NO_HISTORY,
      reason: `The state file "${file}" is not a state of version ${STATE_VERSION} or 1`,
    };
  }
  return { status: "read", ...historyAsOf(stored, now) };
}

/** The text of a state file holding `history`, its times stamped with `now`'s clock. */
export function formatState(history: FlapHistory, now: ClockReading): string {
  const clock: StoredClock = { boot: now.boot, process: now.process, monotonicMs: now.monotonicMs, wallMs: now.wallMs };
  const { hooks, passingSince, observedAt, bitSet, runs } = history;
  const text = (kept: FlapHistory["runs"]) =>
    `${JSON.stringify({ version: STATE_VERSION, clock, hooks, passingSince, observedAt, bitSet, ...(kept && Object.keys(kept).length > 0 ? { runs: kept } : {}) })}\n`;
  const full = text(runs);
  if (runs === undefined || Buffer.byteLength(full) <= STATE_FILE_MAX_BYTES) return full;
  // Never a file its own reader refuses: the kept results' output goes first (the status loses a line, nothing decides on it).
  const lean = Object.fromEntries(Object.entries(runs).map(([name, run]) => [name, { ...run, result: { ...run.result, output: "" } }]));
  return text(lean);
}

/** Replaces `file` with the history, atomically; a failure is returned as the reason, not thrown. */
export function writeHistory(file: string, history: FlapHistory, now: ClockReading, { privateDir = SIMULATION_DIR } = {}): string | null {
  try {
    prepareDirectory(file, privateDir);
    const refused = refusedTarget(file, "stateFile");
    if (refused !== null) return `Cannot write the state file "${file}": ${refused}`;
    writeFileAtomicSync(file, formatState(history, now), { mode: 0o600, durable: true });
    return null;
  } catch (error) {
    return `Cannot write the state file "${file}": ${withoutPath(messageOf(error))}`;
  }
}

/**
 * "EROFS: read-only file system, open '/var/run/.x.123.ab.tmp'" without the temporary file's name,
 * which changes at every write: the same problem reads the same, and is logged once.
 */
function withoutPath(message: string): string {
  return message.replace(/^([A-Z][A-Z0-9]+: [^,]+), \w+ '.*'$/s, "$1");
}
