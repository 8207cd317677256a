/**
 * The file operations install and uninstall share: looking at a path (type, mode, owner, sha256),
 * writing, copying and removing files and directories durably (each change is on disk before the
 * journal says it landed), and turning errno into a message that names the path and the fix.
 */
import {
  chmodSync,
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readSync,
  rmdirSync,
  type Stats,
  statSync,
  unlinkSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { CarpError, messageOf } from "../common/errors.ts";
import { type AtomicContent, syncDirectory, writeFileAtomicSync } from "../system/atomic-file.ts";
import { MODES, temporaryOf } from "./layout.ts";
import { isShim } from "./templates.ts";

/** One line per step, e.g. `Installed "/usr/local/bin/carp-service-status" (mode 0755)`. */
export type Reporter = (line: string) => void;

export type Command = "install" | "uninstall";

/** A file path as found on disk. `shim` says whether its first lines carry the shim's marker. */
export type FileState =
  | { kind: "absent" }
  | { kind: "file"; sha256: string; mode: number; uid: number; gid: number; shim: boolean }
  | { kind: "other"; what: string };

/** Content to write: a text, or a copy of a file (the executable). */
export type Source = { kind: "text"; text: string } | { kind: "file"; path: string };

/** A layout path (relative) under the root, for file operations and messages. */
export function at(root: string, path: string): string {
  return join(root, path);
}

/** A mode as people write it: 0755. */
export function octal(mode: number): string {
  return `0${(mode & 0o7777).toString(8).padStart(3, "0")}`;
}

/** A failed file operation as a CarpError("system") naming the path and, for permissions, the fix. */
export function fsFailure(error: unknown, { action: what, path, command }: { action: string; path: string; command: Command }): CarpError {
  if (error instanceof CarpError) return error;
  const code = (error as NodeJS.ErrnoException).code;
  const reason =
    code === "EACCES" || code === "EPERM"
      ? `permission denied; run ${command} as root, or choose a --root you can write`
      : code === "EROFS"
        ? "read-only file system"
        : code === "ENOSPC"
          ? "no space left on device"
          : messageOf(error);
  return new CarpError("system", `Cannot ${what} "${path}": ${reason}`, { cause: error, kind: "install" });
}

export function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException).code === "ENOENT";
}

/** sha256 of a text, as hex. */
export function sha256Text(text: string): string {
  return new Bun.CryptoHasher("sha256").update(text).digest("hex");
}

/** Hashes an open file from its start, in chunks (the executable is about 100 MB); returns its first bytes too. */
function hashDescriptor(fd: number): { sha256: string; head: string } {
  const hasher = new Bun.CryptoHasher("sha256");
  const buffer = Buffer.allocUnsafe(1 << 20);
  let head = "";
  for (let n = readSync(fd, buffer, 0, buffer.length, null); n > 0; n = readSync(fd, buffer, 0, buffer.length, null)) {
    if (head === "") head = buffer.subarray(0, Math.min(n, 4096)).toString("latin1");
    hasher.update(buffer.subarray(0, n));
  }
  return { sha256: hasher.digest("hex"), head };
}

/** sha256 of a file (the executable to install), as hex. */
export function sha256File(path: string): string {
  const fd = openSync(path, "r");
  try {
    return hashDescriptor(fd).sha256;
  } finally {
    closeSync(fd);
  }
}

function kindOf(stat: Stats): string {
  return stat.isDirectory() ? "directory" : stat.isSymbolicLink() ? "symbolic link" : "special file";
}

/**
 * What is at a path. A symbolic link is "other" (never followed, replaced or removed); the file is
 * opened non-blocking and must still be a regular file once open, so a FIFO swapped in cannot hang
 * install, and what is hashed is what was looked at.
 */
export function fileState(path: string, command: Command): FileState {
  let fd: number;
  try {
    const stat = lstatSync(path);
    if (!stat.isFile()) return { kind: "other", what: kindOf(stat) };
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    if (isMissing(error)) return { kind: "absent" };
    const code = (error as NodeJS.ErrnoException).code;
    // O_NOFOLLOW on a link: ELOOP on Linux, EMLINK on FreeBSD.
    if (code === "ELOOP" || code === "EMLINK") return { kind: "other", what: "symbolic link" };
    throw fsFailure(error, { action: "inspect", path, command });
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) return { kind: "other", what: kindOf(stat) };
    const { sha256, head } = hashDescriptor(fd);
    return { kind: "file", sha256, mode: stat.mode & 0o7777, uid: stat.uid, gid: stat.gid, shim: isShim(head) };
  } catch (error) {
    throw fsFailure(error, { action: "read", path, command });
  } finally {
    closeSync(fd);
  }
}

/** Whether a directory is there (a link to one is "other"). */
export function dirState(path: string, command: Command): "directory" | "absent" | "other" {
  try {
    return lstatSync(path).isDirectory() ? "directory" : "other";
  } catch (error) {
    if (isMissing(error)) return "absent";
    throw fsFailure(error, { action: "inspect", path, command });
  }
}

/** Fails clearly when the root is missing or not a directory. */
export function checkRoot(root: string, command: Command): void {
  let stat: Stats;
  try {
    stat = statSync(root);
  } catch (error) {
    if (isMissing(error)) throw new CarpError("usage", `Root "${root}" does not exist; pass an existing directory to --root`);
    throw fsFailure(error, { action: "inspect", path: root, command });
  }
  if (!stat.isDirectory()) throw new CarpError("usage", `Root "${root}" is not a directory; pass a directory to --root`);
}

/**
 * Writes a layout file durably through its fixed temporary (layout.ts temporaryOf), with options'
 * mode and, for a kept or restored stock script, its owner and times.
 */
export function writeDurably(
  root: string,
  path: string,
  options: { content: AtomicContent; mode: number; owner?: { uid: number; gid: number }; times?: { atime: Date; mtime: Date } },
): void {
  const { content, ...rest } = options;
  writeFileAtomicSync(at(root, path), content, { ...rest, durable: true, temporary: at(root, temporaryOf(path)) });
}

/**
 * Copies a file into place byte for byte with its times, and with options' mode and owner: the
 * stock script, kept aside and put back.
 */
export function copyPreserving(root: string, from: string, to: string, options: { mode: number; uid: number; gid: number }): void {
  const stat = statSync(at(root, from));
  writeDurably(root, to, {
    content: { copyOf: at(root, from) },
    mode: options.mode,
    owner: { uid: options.uid, gid: options.gid },
    times: { atime: stat.atime, mtime: stat.mtime },
  });
}

/** Creates a directory mode 0755 (mkdir's mode is cut by the umask), durably. */
export function makeDirectory(path: string): void {
  mkdirSync(path, { mode: MODES.directory });
  chmodSync(path, MODES.directory);
  syncDirectory(dirname(path));
}

/** Removes a file (or a link, never what it points to), durably; false when it was already gone. */
export function removeFile(path: string): boolean {
  try {
    unlinkSync(path);
  } catch (error) {
    if (isMissing(error)) return false;
    throw error;
  }
  syncDirectory(dirname(path));
  return true;
}

/** Removes an empty directory, durably: "removed", "gone", or "not empty". */
export function removeDirectory(path: string): "removed" | "gone" | "not empty" {
  try {
    rmdirSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return "gone";
    if (code === "ENOTEMPTY" || code === "EEXIST") return "not empty";
    throw error;
  }
  syncDirectory(dirname(path));
  return "removed";
}
