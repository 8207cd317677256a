/**
 * The file operations install and uninstall share: looking at a path (type, mode, sha256), writing
 * a file atomically, and turning errno into a message that names the path and the fix.
 */
import {
  chmodSync,
  closeSync,
  copyFileSync,
  fsyncSync,
  lstatSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  type Stats,
  statSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { CarpError, messageOf } from "../common/errors.ts";
import { isShim } from "./templates.ts";

/** One line per step, e.g. `Installed "/usr/local/bin/carp-service-status" (mode 0755)`. */
export type Reporter = (line: string) => void;

/** A file path as found on disk. `shim` is only looked for where asked (the stock script's path). */
export type FileState =
  | { kind: "absent" }
  | { kind: "file"; sha256: string; mode: number; shim: boolean }
  | { kind: "other"; what: string };

/** Content to write: a text, or a copy of a file (the executable, the stock script). */
export type Source = { kind: "text"; text: string } | { kind: "file"; path: string };

/** A layout path (relative) under the root, for file operations and messages. */
export function at(root: string, path: string): string {
  return join(root, path);
}

/** A mode as people write it: 0755. */
export function octal(mode: number): string {
  return `0${(mode & 0o7777).toString(8)}`;
}

/** A failed file operation as a CarpError("system") naming the path and, for permissions, the fix. */
export function fsFailure(
  error: unknown,
  { action: what, path, command }: { action: string; path: string; command: "install" | "uninstall" },
): CarpError {
  const code = (error as NodeJS.ErrnoException).code;
  const reason =
    code === "EACCES" || code === "EPERM"
      ? `permission denied; run ${command} as root, or choose a --root you can write`
      : code === "EROFS"
        ? "read-only file system"
        : code === "ENOSPC"
          ? "no space left on device"
          : messageOf(error);
  return new CarpError("system", `Cannot ${what} "${path}": ${reason}`, { cause: error });
}

function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException).code === "ENOENT";
}

/** sha256 of a text, as hex. */
export function sha256Text(text: string): string {
  return new Bun.CryptoHasher("sha256").update(text).digest("hex");
}

/** sha256 of a file, read in chunks: the executable is about 100 MB. */
export function sha256File(path: string): string {
  const hasher = new Bun.CryptoHasher("sha256");
  const buffer = Buffer.allocUnsafe(1 << 20);
  const fd = openSync(path, "r");
  try {
    for (let n = readSync(fd, buffer, 0, buffer.length, null); n > 0; n = readSync(fd, buffer, 0, buffer.length, null)) {
      hasher.update(buffer.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
  return hasher.digest("hex");
}

/** What is at a path; symbolic links are not followed (a link is "other", never replaced or removed). */
export function fileState(path: string, command: "install" | "uninstall", options: { detectShim?: boolean } = {}): FileState {
  let stat: Stats;
  try {
    stat = lstatSync(path);
  } catch (error) {
    if (isMissing(error)) return { kind: "absent" };
    throw fsFailure(error, { action: "inspect", path, command });
  }
  if (!stat.isFile()) {
    return { kind: "other", what: stat.isDirectory() ? "directory" : stat.isSymbolicLink() ? "symbolic link" : "special file" };
  }
  try {
    const shim = options.detectShim === true && stat.size < 1_048_576 && isShim(readFileSync(path, "utf8"));
    return { kind: "file", sha256: sha256File(path), mode: stat.mode & 0o7777, shim };
  } catch (error) {
    throw fsFailure(error, { action: "read", path, command });
  }
}

/** Whether a directory is there. */
export function dirState(path: string): "directory" | "absent" | "other" {
  try {
    return statSync(path).isDirectory() ? "directory" : "other";
  } catch (error) {
    if (isMissing(error)) return "absent";
    throw fsFailure(error, { action: "inspect", path, command: "install" });
  }
}

/** Fails clearly when the root is missing or not a directory. */
export function checkRoot(root: string, command: "install" | "uninstall"): void {
  let stat: Stats;
  try {
    stat = statSync(root);
  } catch (error) {
    if (isMissing(error)) throw new CarpError("usage", `Root "${root}" does not exist; pass an existing directory to --root`);
    throw fsFailure(error, { action: "inspect", path: root, command });
  }
  if (!stat.isDirectory()) throw new CarpError("usage", `Root "${root}" is not a directory; pass a directory to --root`);
}

/** A file being written: readable and writable by root only, executable by nobody. */
const PRIVATE_MODE = 0o600;

/**
 * Writes options.source to path with options.mode (and options.times, when given): beside the
 * destination, synced, and renamed into place, so a crash never leaves half a file, and an executable
 * that is running (the daemon) can be replaced, which writing in place cannot.
 */
export function writeAtomically(path: string, options: { source: Source; mode: number; times?: { atime: Date; mtime: Date } }): void {
  const { source, mode, times } = options;
  const temporary = join(dirname(path), `.carp-service-status.${process.pid}.tmp`);
  try {
    // Not executable while it is written: rc.syshook runs every file of its directory, dotfiles too.
    if (source.kind === "text") writeFileSync(temporary, source.text, { mode: PRIVATE_MODE });
    else copyFileSync(source.path, temporary);
    chmodSync(temporary, PRIVATE_MODE);
    if (times) utimesSync(temporary, times.atime, times.mtime);
    const fd = openSync(temporary, "r");
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    chmodSync(temporary, mode);
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

/** Copies a file into place with options.mode, keeping its times: the stock script, byte for byte. */
export function copyPreserving(from: string, to: string, options: { mode: number }): void {
  const stat = statSync(from);
  writeAtomically(to, {
    source: { kind: "file", path: from },
    mode: options.mode,
    times: { atime: stat.atime, mtime: stat.mtime },
  });
}
