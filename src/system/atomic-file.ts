/**
 * The one way files are replaced: a reader sees either the old content or the new, never a part.
 * The content goes to a temporary file in the same directory (rename(2) is atomic only within one
 * file system), which is then renamed over the target. The temporary file is created with
 * O_EXCL|O_NOFOLLOW: never through a symbolic link, never over a file someone else made, so a link
 * planted in a shared directory cannot redirect a write made as root; and rename replaces a link
 * at the target instead of writing through it.
 *
 * Where a write must survive a power cut (the flap state file, the install journal and the files it
 * records), `durable` fsyncs the file before the rename and the directory after it: without the
 * first a crash can leave the new name on empty blocks, without the second the old name.
 */

import {
  closeSync,
  constants,
  fchmodSync,
  fchownSync,
  fstatSync,
  fsyncSync,
  futimesSync,
  openSync,
  readSync,
  renameSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { open, rename, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { libc } from "./libc.ts";

/** Readable by a collector running as another user; nothing of it is secret. */
const FILE_MODE = 0o644;

/** Created exclusively, never through a link. */
const CREATE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/** The bytes of another file, copied in chunks (the executable install copies is about 100 MB). */
export interface CopyOf {
  copyOf: string;
}

/** What writeFileAtomicSync writes. */
export type AtomicContent = string | Uint8Array | CopyOf;

export interface AtomicWriteOptions {
  /** The file's mode, whatever the umask. Default 0644. */
  mode?: number;
  /** fsync the file before the rename and its directory after it: the write survives a power cut. */
  durable?: boolean;
  /**
   * The temporary file: beside the target (on its file system, for rename to be atomic). Default: a
   * unique hidden name. A fixed name lets the caller find what a killed write left behind (install
   * does); it must not exist.
   */
  temporary?: string;
  /** The file's owner, when it must not be this process's (install keeps the stock script's). */
  owner?: { uid: number; gid: number };
  /** The file's access and modification times, when they must be kept. */
  times?: { atime: Date; mtime: Date };
}

/** A temporary name beside `path`, unique to this write, hidden, and not ending in `.prom`. */
export function uniqueTemporary(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${crypto.randomUUID().slice(0, 8)}.tmp`);
}

/** fsyncs a directory, so that an entry just made, renamed or removed in it survives a power cut. */
export function syncDirectory(dir: string): void {
  const fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function writeAll(fd: number, bytes: Uint8Array): void {
  for (let offset = 0; offset < bytes.length; ) offset += writeSync(fd, bytes, offset);
}

function copyInto(fd: number, from: string): void {
  const source = openSync(from, "r");
  try {
    const buffer = Buffer.allocUnsafe(1 << 20);
    for (let n = readSync(source, buffer, 0, buffer.length, null); n > 0; n = readSync(source, buffer, 0, buffer.length, null)) {
      writeAll(fd, buffer.subarray(0, n));
    }
  } finally {
    closeSync(source);
  }
}

/** fchmod(2) from libc: Bun 1.3.14's fchmodSync (and every chmod) drops setuid, setgid and sticky bits. */
function fchmodLibc(fd: number, mode: number): void {
  if (process.platform !== "linux" && process.platform !== "freebsd") return;
  libc().fchmod(fd, mode);
}

/**
 * Gives the open file its owner, then its mode: chown(2) clears the setuid and setgid bits, so the
 * mode comes second. Only what differs is changed, and the result is checked, so a mode is never
 * silently wrong.
 */
function setOwnerAndMode(fd: number, path: string, options: { mode: number; owner?: { uid: number; gid: number } }): void {
  const { mode, owner } = options;
  let stat = fstatSync(fd);
  if (owner && (stat.uid !== owner.uid || stat.gid !== owner.gid)) {
    fchownSync(fd, owner.uid, owner.gid);
    stat = fstatSync(fd);
  }
  if ((stat.mode & 0o7777) !== mode) {
    fchmodSync(fd, mode);
    stat = fstatSync(fd);
  }
  if ((stat.mode & 0o7777) !== mode) {
    fchmodLibc(fd, mode);
    stat = fstatSync(fd);
  }
  if ((stat.mode & 0o7777) !== mode) {
    const got = (stat.mode & 0o7777).toString(8).padStart(4, "0");
    throw Object.assign(new Error(`cannot give "${path}" mode ${mode.toString(8).padStart(4, "0")} (got ${got})`), { code: "EPERM" });
  }
}

/**
 * Writes `content` to `path` atomically (see the file's comment), synchronously: for code that
 * holds a lock and must not yield while it does (the state file and the simulated sysctl are
 * written under the evaluation lock), and for install. Throws what the file system threw; the
 * temporary file is removed on failure.
 */
export function writeFileAtomicSync(path: string, content: AtomicContent, options: AtomicWriteOptions = {}): void {
  const { mode = FILE_MODE, durable = false, temporary = uniqueTemporary(path) } = options;
  // Created without the execute bits: a directory whose every file is run (rc.syshook.d) must not
  // run one that is half written. The final mode is set once the content is complete.
  const fd = openSync(temporary, CREATE_FLAGS, mode & 0o666);
  try {
    try {
      if (typeof content === "string") writeAll(fd, Buffer.from(content));
      else if (content instanceof Uint8Array) writeAll(fd, content);
      else copyInto(fd, content.copyOf);
      setOwnerAndMode(fd, temporary, { mode, owner: options.owner });
      if (options.times) futimesSync(fd, options.times.atime, options.times.mtime);
      if (durable) fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, path);
  } catch (error) {
    try {
      unlinkSync(temporary);
    } catch {
      // Already renamed, or gone.
    }
    throw error;
  }
  if (durable) syncDirectory(dirname(path));
}

/**
 * writeFileAtomicSync for the metrics file, off the event loop: its directory is the admin's choice
 * (an NFS mount that hangs must not stop the daemon's socket and schedule), and it is rewritten at
 * every evaluation, so it is not made durable. node_exporter's textfile collector reads `*.prom`:
 * the temporary name never ends in `.prom`.
 */
export async function writeFileAtomic(path: string, text: string, options: { mode?: number } = {}): Promise<void> {
  const { mode = FILE_MODE } = options;
  const temporary = uniqueTemporary(path);
  const handle = await open(temporary, CREATE_FLAGS, mode);
  try {
    try {
      // The umask may have narrowed the mode: a collector running as nobody must still read it.
      await handle.chmod(mode);
      await handle.writeFile(text);
    } finally {
      await handle.close();
    }
    await rename(temporary, path);
  } catch (error) {
    await unlink(temporary).catch(() => {});
    throw error;
  }
}
