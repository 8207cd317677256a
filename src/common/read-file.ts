/**
 * How every file we depend on is read (the config, the state file, the simulation's files): what
 * sits at the path must not be able to hang us or swamp us. open(2) of a FIFO without a writer
 * blocks forever (and an evaluation holds the lock meanwhile, deaf to SIGTERM), and /dev/zero or a
 * runaway file would be read into memory without end. So the file is opened with O_NONBLOCK (and
 * O_NOCTTY: a terminal never becomes ours), checked with fstat(2) on the descriptor (a regular file,
 * or it is refused), and read up to a cap, whatever size it claims (procfs says 0).
 *
 * In common/, below config/ and protocol/, since the config and the socket lookup read files too.
 */
import { closeSync, constants, fstatSync, lstatSync, openSync, readSync, type Stats } from "node:fs";
import { CarpError } from "./errors.ts";

/** Why a file was not read: it is not a regular file (ENOTREG), or holds more than the cap (EFBIG). */
export class FileRefused extends Error {
  override readonly name = "FileRefused";
  readonly code: "ENOTREG" | "EFBIG";
  /** What stands at the path, from fstat. */
  readonly stats: Stats;

  constructor(code: "ENOTREG" | "EFBIG", message: string, stats: Stats) {
    super(message);
    this.code = code;
    this.stats = stats;
  }
}

/**
 * How to clear what was refused at `file`, which the config key `key` names: a device is never
 * ours to remove (stateFile = "/dev/zero"), anything else may be.
 */
export function refusalFix(stats: Stats, file: string, key: string): string {
  const elsewhere = `set "${key}" to a file of its own`;
  if (stats.isCharacterDevice() || stats.isBlockDevice()) return elsewhere;
  return `remove it (${stats.isDirectory() ? "rm -r" : "rm"} "${file}") or ${elsewhere}`;
}

/**
 * What stands at `file` and must not be replaced by a rename (a FIFO, a device or a directory:
 * `stateFile = "/dev/zero"` would otherwise swap the device for a file), said with the fix for
 * the config key `key`; null for a file, a symbolic link (replaced, its target untouched) or nothing.
 */
export function refusedTarget(file: string, key: string): string | null {
  let stats: Stats;
  try {
    stats = lstatSync(file);
  } catch {
    return null;
  }
  if (stats.isFile() || stats.isSymbolicLink()) return null;
  return `it is ${describeKind(stats)}, which we do not replace; ${refusalFix(stats, file, key)}`;
}

/** What a non-regular file is, as a person would say it. */
export function describeKind(stats: Stats): string {
  if (stats.isFIFO()) return "a FIFO (named pipe)";
  if (stats.isCharacterDevice()) return "a character device";
  if (stats.isBlockDevice()) return "a block device";
  if (stats.isDirectory()) return "a directory";
  if (stats.isSocket()) return "a socket";
  if (stats.isSymbolicLink()) return "a symbolic link";
  return "not a regular file";
}

/**
 * After a failed open with O_NOFOLLOW: throws a CarpError naming the symbolic link and how to clear
 * it when that is why (Linux says ELOOP, FreeBSD EMLINK, and either may also mean something else);
 * returns otherwise, for the caller to rethrow the original error.
 */
export function explainSymlinkRefusal(file: string, error: unknown): void {
  let link = false;
  try {
    link = lstatSync(file).isSymbolicLink();
  } catch {
    // Gone, or unreadable: the original error says more.
  }
  if (link) {
    throw new CarpError("system", `Refusing "${file}": it is a symbolic link, and we never follow one here; remove it: rm "${file}"`, {
      cause: error,
    });
  }
}

export interface ReadBoundedOptions {
  /** More than this many bytes is an error (EFBIG), found before anything is kept. */
  maxBytes: number;
  /** Refuse a symbolic link in place of the file rather than follow it (O_NOFOLLOW). */
  noFollow?: boolean;
}

const CHUNK_BYTES = 64 * 1024;

/**
 * The text of `path` (UTF-8), read as the module comment says. Throws what open(2) threw (ENOENT
 * and the rest, with `code`), a CarpError for a refused symbolic link, or FileRefused: the
 * message says what is wrong, and the caller adds the file's name and the fix that fits it.
 */
export function readBoundedFile(path: string, options: ReadBoundedOptions): string {
  const flags = constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY | (options.noFollow ? constants.O_NOFOLLOW : 0);
  let fd: number;
  try {
    fd = openSync(path, flags);
  } catch (error) {
    if (options.noFollow) explainSymlinkRefusal(path, error);
    throw error;
  }
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile()) throw new FileRefused("ENOTREG", `it is ${describeKind(stats)}, not a regular file`, stats);
    const tooBig = () => new FileRefused("EFBIG", `it holds more than ${options.maxBytes} bytes, the most we read from it`, stats);
    if (stats.size > options.maxBytes) throw tooBig();
    // Read to EOF whatever size fstat claimed, one byte past the cap at most: that byte tells a
    // file that grew (or lied about its size) from one that fits.
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(Math.min(CHUNK_BYTES, options.maxBytes + 1 - total));
      const n = readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) return Buffer.concat(chunks, total).toString("utf8");
      chunks.push(chunk.subarray(0, n));
      total += n;
      if (total > options.maxBytes) throw tooBig();
    }
  } finally {
    closeSync(fd);
  }
}
