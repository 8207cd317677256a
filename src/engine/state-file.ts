/**
 * The flap history between processes (`stateFile`): read and written under the evaluation lock,
 * so the daemon, a fallback trigger and a manual check count the same runs. Written atomically (a
 * temporary file, then rename). A missing or unreadable file is "no history", never a crash: the
 * kernel's bit stays the truth, and the next observation of each hook sets its state directly.
 */
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { z } from "zod";
import { messageOf } from "../common/errors.ts";
import { SIMULATION_DIR } from "../config/defaults.ts";
import { writeFileAtomicSync } from "../system/atomic-file.ts";
import { ensurePrivateDir, readNoFollow } from "../system/private-dir.ts";
import { type FlapHistory, NO_HISTORY } from "./flap.ts";

const STATE_VERSION = 1;

const stateSchema = z.strictObject({
  version: z.literal(STATE_VERSION),
  hooks: z.record(z.string(), z.strictObject({ state: z.enum(["pass", "fail"]), streak: z.number().int().min(0) })),
  passingSince: z.number().int().nullable(),
  bitSet: z.boolean().nullable(),
});

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
    text = readNoFollow(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return { history: NO_HISTORY, warning: null };
    return { history: NO_HISTORY, warning: `Cannot read the state file "${file}" (${messageOf(error)}): starting without flap history` };
  }
  let parsed: ReturnType<typeof stateSchema.safeParse>;
  try {
    parsed = stateSchema.safeParse(JSON.parse(text));
  } catch {
    return { history: NO_HISTORY, warning: `The state file "${file}" is not JSON: starting without flap history` };
  }
  if (!parsed.success) {
    return { history: NO_HISTORY, warning: `The state file "${file}" is not a state of this version: starting without flap history` };
  }
  const { hooks, passingSince, bitSet } = parsed.data;
  return { history: { hooks, passingSince, bitSet }, warning: null };
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
