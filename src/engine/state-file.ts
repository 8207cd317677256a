/**
 * The flap history between processes (`stateFile`): read and written under the evaluation lock,
 * so the daemon, a fallback trigger and a manual check count the same runs. Written atomically (a
 * temporary file, then rename). A missing or unreadable file is "no history", never a crash: the
 * kernel's bit stays the truth, and the next observation of each hook sets its state directly.
 */
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { messageOf } from "../common/errors.ts";
import { SIMULATION_DIR } from "../config/defaults.ts";
import { writeFileAtomicSync } from "../system/atomic-file.ts";
import { ensurePrivateDir, readNoFollow } from "../system/private-dir.ts";
import { type FlapHistory, type HookHistory, NO_HISTORY } from "./flap.ts";

const STATE_VERSION = 1;

/** The most of a state file we read: thousands of hooks; anything bigger is not our file. */
const STATE_FILE_MAX_BYTES = 1024 * 1024;

function isHookHistory(value: unknown): value is HookHistory {
  if (typeof value !== "object" || value === null) return false;
  const { state, streak } = value as Record<string, unknown>;
  return (state === "pass" || state === "fail") && Number.isSafeInteger(streak) && (streak as number) >= 0;
}

/**
 * The history in a parsed state file, or null when it is not one of this version. Checked by hand:
 * `check`, the cold path at boot, loads no schema library for it.
 */
function historyOf(parsed: unknown): FlapHistory | null {
  if (typeof parsed !== "object" || parsed === null) return null;
  const { version, hooks, passingSince, bitSet, observedAt } = parsed as Record<string, unknown>;
  if (version !== STATE_VERSION || typeof hooks !== "object" || hooks === null || Array.isArray(hooks)) return null;
  if (!Object.values(hooks).every(isHookHistory)) return null;
  if (passingSince !== null && !isEpochMs(passingSince)) return null;
  if (bitSet !== null && typeof bitSet !== "boolean") return null;
  if (observedAt !== undefined && observedAt !== null && !isEpochMs(observedAt)) return null;
  // No prototype, so a hook called "__proto__" is a key like any other.
  const history: Record<string, HookHistory> = Object.assign(Object.create(null), hooks);
  return { hooks: history, passingSince, bitSet, observedAt: observedAt ?? null };
}

/** A time a Date can hold (0 to year 275760), as epoch ms. */
function isEpochMs(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0 && (value as number) <= MAX_EPOCH_MS;
}

const MAX_EPOCH_MS = 8.64e15;

function prepareDirectory(file: string, privateDir: string): void {
  const dir = dirname(file);
  if (dir === privateDir) ensurePrivateDir(dir);
  else mkdirSync(dir, { recursive: true, mode: 0o755 });
}

/** The history in `file`; with a warning when the file was there but could not be used. */
export function readHistory(file: string, { privateDir = SIMULATION_DIR } = {}): { history: FlapHistory; warning: string | null } {
  let text: string;
  try {
    prepareDirectory(file, privateDir);
    text = readNoFollow(file, STATE_FILE_MAX_BYTES);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return { history: NO_HISTORY, warning: null };
    return { history: NO_HISTORY, warning: `Cannot read the state file "${file}" (${messageOf(error)}): starting without flap history` };
  }
  let history: FlapHistory | null;
  try {
    history = historyOf(JSON.parse(text));
  } catch {
    return { history: NO_HISTORY, warning: `The state file "${file}" is not JSON: starting without flap history` };
  }
  if (history === null) {
    return { history: NO_HISTORY, warning: `The state file "${file}" is not a state of this version: starting without flap history` };
  }
  return { history, warning: null };
}

/** Replaces `file` with the history, atomically; a failure is returned as a warning, not thrown. */
export function writeHistory(file: string, history: FlapHistory, { privateDir = SIMULATION_DIR } = {}): string | null {
  try {
    prepareDirectory(file, privateDir);
    writeFileAtomicSync(file, `${JSON.stringify({ version: STATE_VERSION, ...history })}\n`, 0o600);
    return null;
  } catch (error) {
    return `Cannot write the state file "${file}" (${messageOf(error)}): flap counters of this run are not kept`;
  }
}
