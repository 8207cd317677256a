/**
 * An exclusive flock(2) on the stock script's lock file, so this tool, the stock script and any
 * number of manual checks never read-then-add at once (which would stack 2^20 twice).
 * flock through bun:ffi (system/libc.ts), polled with LOCK_NB: a blocking flock would freeze the
 * event loop. The engine takes it through EvaluationDeps.acquireLock.
 */
import { closeSync, constants, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { CarpError, messageOf } from "../common/errors.ts";
import { SIMULATION_DIR } from "../config/defaults.ts";
import { libc } from "./libc.ts";
import { ensurePrivateDir, openNoFollow } from "./private-dir.ts";

const LOCK_EX = 2;
const LOCK_NB = 4;
const POLL_MIN_MS = 2;
const POLL_MAX_MS = 50;

function flock(fd: number, operation: number): number {
  return libc().flock(fd, operation);
}

/** A held lock; release() closes the descriptor, which drops the lock. */
export interface HeldLock {
  release(): void;
}

export interface LockOptions {
  timeoutMs: number;
  signal?: AbortSignal;
  /** The simulation's shared directory, which must be ours (default SIMULATION_DIR); tests pass a scratch one. */
  privateDir?: string;
}

/**
 * Takes an exclusive flock on `file`, creating it (and its directory) when missing. A symbolic link
 * in place of the file is refused: a lock file never is one, and following it would create or
 * lock a file of someone else's choosing.
 */
export async function acquireLock(file: string, options: LockOptions): Promise<HeldLock> {
  let fd: number;
  try {
    if (dirname(file) === (options.privateDir ?? SIMULATION_DIR)) ensurePrivateDir(dirname(file));
    else mkdirSync(dirname(file), { recursive: true, mode: 0o755 });
    // Node/Bun open with O_CLOEXEC, so hooks never inherit the lock (the stock script does the same).
    fd = openNoFollow(file, constants.O_RDWR | constants.O_CREAT, 0o644);
  } catch (error) {
    if (error instanceof CarpError) throw error;
    throw new CarpError("system", `Cannot open lock file "${file}": ${messageOf(error)}; set "lockFile" in the config`, { kind: "lock" });
  }
  const deadline = performance.now() + options.timeoutMs;
  let waitMs = POLL_MIN_MS;
  try {
    while (flock(fd, LOCK_EX | LOCK_NB) !== 0) {
      options.signal?.throwIfAborted();
      if (performance.now() >= deadline) {
        throw new CarpError(
          "system",
          `Lock file "${file}" is still held after ${options.timeoutMs} ms (a hung carp_service_status run?); raise "lockTimeoutMs" or find the holder with fstat`,
          { kind: "lock" },
        );
      }
      await Bun.sleep(waitMs);
      waitMs = Math.min(waitMs * 2, POLL_MAX_MS);
    }
  } catch (error) {
    closeSync(fd);
    throw error;
  }
  let released = false;
  return {
    release() {
      if (released) return;
      released = true;
      closeSync(fd);
    },
  };
}
