/**
 * Replaces a file so that a reader sees either the old content or the new, never a part: the
 * text goes to a temporary file in the same directory (rename(2) is atomic only within one file
 * system), which is then renamed over the target. node_exporter's textfile collector reads
 * `*.prom`, so the temporary name must not end in `.prom` while it is being written.
 */
import { closeSync, constants, fchmodSync, openSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { open, rename, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

/** Readable by a collector running as another user; nothing of it is secret. */
const FILE_MODE = 0o644;

/** A temporary name beside `path`, unique to this write, hidden, and not ending in `.prom`. */
function temporaryFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${crypto.randomUUID().slice(0, 8)}.tmp`);
}

const CREATE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/**
 * Writes `text` to `path` atomically. The temporary file is created exclusively and never through
 * a symbolic link, and rename replaces a link at `path` instead of writing through it, so a link
 * planted in a shared directory cannot redirect a write made as root. Throws what the file
 * system threw; the temporary file is removed on failure.
 */
export async function writeFileAtomic(path: string, text: string): Promise<void> {
  const temporary = temporaryFor(path);
  const handle = await open(temporary, CREATE_FLAGS, FILE_MODE);
  try {
    try {
      // The umask may have narrowed the mode: a collector running as nobody must still read it.
      await handle.chmod(FILE_MODE);
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

/**
 * writeFileAtomic for code that holds a lock and must not yield while it does (the state file and
 * the simulated sysctl are written under the evaluation lock). `mode` is the file's mode.
 */
export function writeFileAtomicSync(path: string, text: string, mode = FILE_MODE): void {
  const temporary = temporaryFor(path);
  const fd = openSync(temporary, CREATE_FLAGS, mode);
  try {
    try {
      fchmodSync(fd, mode);
      writeSync(fd, text);
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, path);
  } catch (error) {
    try {
      unlinkSync(temporary);
    } catch {
      // Never created, or already renamed.
    }
    throw error;
  }
}
