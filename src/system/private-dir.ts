/**
 * The simulation directory (/tmp/carp-service-status by default) holds the simulated demotion, the
 * simulated syslog, the lock and the socket. /tmp is writable by every user, so anyone could create
 * that directory first, or plant a symbolic link in it, and have us write where they choose. It must
 * be a real directory of ours, mode 0700, and nothing in it is opened through a symbolic link.
 */
import { chmodSync, constants, lstatSync, mkdirSync, openSync, type Stats } from "node:fs";
import { CarpError } from "../common/errors.ts";
import { explainSymlinkRefusal, readBoundedFile } from "../common/read-file.ts";

/** Only we may list, read or write the simulation's state. */
export const PRIVATE_DIR_MODE = 0o700;

function lstatOrNull(path: string): Stats | null {
  try {
    return lstatSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
}

function kindOf(stats: Stats): string {
  if (stats.isSymbolicLink()) return "a symbolic link";
  if (stats.isFile()) return "a file";
  return "not a directory";
}

/**
 * Creates `dir` mode 0700 when missing; otherwise accepts it only as a directory (never through a
 * symbolic link) owned by this process's uid, and narrows it to 0700. Throws CarpError("system")
 * naming the path and how to clear it.
 */
export function ensurePrivateDir(dir: string): void {
  const uid = process.getuid?.() ?? 0;
  let stats = lstatOrNull(dir);
  if (stats === null) {
    try {
      mkdirSync(dir, { mode: PRIVATE_DIR_MODE });
    } catch (error) {
      // Someone created it between our lstat and mkdir: judge what is there now, below.
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    stats = lstatSync(dir);
  }
  const fix = `remove it: rm -rf "${dir}"`;
  if (!stats.isDirectory()) {
    throw new CarpError("system", `Refusing "${dir}": it is ${kindOf(stats)}, where a private directory of ours belongs; ${fix}`);
  }
  if (stats.uid !== uid) {
    throw new CarpError(
      "system",
      `Refusing "${dir}": it is owned by uid ${stats.uid}, not by us (uid ${uid}), so its owner could change what we read and write; ${fix}`,
    );
  }
  // Ours and a real directory: in a sticky /tmp nobody else can swap it before this chmod.
  if ((stats.mode & 0o7777) !== PRIVATE_DIR_MODE) chmodSync(dir, PRIVATE_DIR_MODE);
}

/**
 * open(2) with O_NOFOLLOW: a symbolic link in place of `file` is refused rather than followed, so
 * a planted link cannot make us truncate or append to its target. Returns the descriptor.
 */
export function openNoFollow(file: string, flags: number, mode = 0o644): number {
  try {
    return openSync(file, flags | constants.O_NOFOLLOW, mode);
  } catch (error) {
    explainSymlinkRefusal(file, error);
    throw error;
  }
}

/**
 * The whole of `file`, never through a symbolic link, and bounded as every file we read is
 * (common/read-file.ts): a FIFO, a device or more than `maxBytes` is refused, not waited on.
 */
export function readNoFollow(file: string, maxBytes: number): string {
  return readBoundedFile(file, { maxBytes, noFollow: true });
}
