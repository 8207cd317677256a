/**
 * Script security, as keepalived applies it when root runs its scripts: a hook decides whether
 * this node stays master and runs as root, so nobody but root may be able to change what runs.
 * That covers the file and every directory on its path from "/", since whoever can write a
 * directory can replace what lies below it. `insecurityOf` is the rule for one path;
 * `vetHook` walks a hook's paths with it.
 */
import type { Stats } from "node:fs";
import { lstat, readlink } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { messageOf } from "../common/errors.ts";

const SETUID = 0o4000;
const SETGID = 0o2000;
const STICKY = 0o1000;
const GROUP_WRITE = 0o020;
const OTHER_WRITE = 0o002;

/**
 * What a path is to the hook being vetted: the file it runs, the directory its name is listed
 * in, or an `ancestor`: any other directory a name is looked up in on the way (above the hooks
 * directory, or on the path of a link's target).
 */
export type PathRole = "hook" | "hooks directory" | "ancestor";

/** The parts of a stat that decide trust. */
export interface Ownership {
  uid: number;
  gid: number;
  mode: number;
}

/** A mode as chmod(1) takes it: "0775", "1777", "4755". */
function formatMode(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, "0");
}

/**
 * Why root must not trust `path` in this role, with the command that fixes it, or null.
 * Refused: an owner other than root; write access for others; write access for a group other
 * than 0; a setuid or setgid hook.
 */
export function insecurityOf(path: string, info: Ownership, role: PathRole): string | null {
  const mode = formatMode(info.mode);
  if (info.uid !== 0) return `"${path}" is owned by uid ${info.uid}, not root; fix: chown root "${path}"`;
  if (role === "hook" && info.mode & (SETUID | SETGID)) {
    return `"${path}" is setuid or setgid (mode ${mode}); fix: chmod u-s,g-s "${path}"`;
  }
  const sticky = (info.mode & STICKY) !== 0;
  // In a sticky directory (/tmp) only an entry's owner can rename or remove it, so others
  // writing there cannot replace the root-owned path below. The hooks directory is not excused:
  // every entry in it runs, so being able to add one is enough.
  if (sticky && role === "ancestor") return null;
  const stickyNote = sticky && role === "hooks directory" ? "; the sticky bit does not help here, as every new entry runs" : "";
  if (info.mode & OTHER_WRITE) return `"${path}" is writable by others (mode ${mode}${stickyNote}); fix: chmod o-w "${path}"`;
  if (info.mode & GROUP_WRITE && info.gid !== 0) {
    return `"${path}" is group-writable with group ${info.gid} (mode ${mode}${stickyNote}); fix: chmod g-w "${path}"`;
  }
  return null;
}

/** The file system calls the walk makes; tests replace them to inject failures. */
export interface SecurityFs {
  lstat(path: string): Promise<Stats>;
  readlink(path: string): Promise<string>;
}

/** The real file system. */
export const NODE_SECURITY_FS: SecurityFs = { lstat, readlink };

/** The file a hook's path led to when it was vetted: a later look that finds another file refuses it. */
export interface VettedFile {
  /** The real path (links resolved). */
  path: string;
  dev: number;
  ino: number;
}

/** Memo of one discovery's lstat() calls: every hook walks the same directories down to the hooks directory. */
export type SecurityCache = Map<string, Promise<Stats>>;

/** As many links as the kernel follows in one lookup (FreeBSD's MAXSYMLINKS). */
const MAX_LINKS = 32;

/** Path components, "." dropped; ".." kept (it means the parent of the real directory reached). */
function componentsOf(path: string): string[] {
  return path.split("/").filter((part) => part !== "" && part !== ".");
}

/**
 * Resolves `hookPath` one component at a time, as the kernel does, and vets everything that
 * decides what it runs: every directory a name is looked up in, from "/" (so also the directory
 * holding each link on the way, however many hops), the real hooks directory in its stricter
 * role, and the file reached. Returns the first problem, top down, or the file vetted.
 */
export async function vetHook(
  hookPath: string,
  options: { fs?: SecurityFs; cache?: SecurityCache } = {},
): Promise<{ problem: string } | { file: VettedFile }> {
  const { fs = NODE_SECURITY_FS, cache = new Map() } = options;
  const lstatOnce = (path: string): Promise<Stats> => {
    const known = cache.get(path) ?? fs.lstat(path);
    cache.set(path, known);
    return known;
  };
  const parts = componentsOf(resolve(hookPath));
  const entry = parts.pop();
  if (entry === undefined) return { problem: `"${hookPath}" is not a file` };
  // Components still to look up; `entry` marks the hook's own name in the hooks directory.
  let queue = [...parts.map((name) => ({ name, entry: false })), { name: entry, entry: true }];
  let dir = "/";
  let links = 0;
  try {
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) {
      if (item.name === "..") {
        // Nobody can change what ".." of a real directory is: nothing to vet.
        dir = dirname(dir);
        continue;
      }
      // Whoever can write `dir` can replace the name looked up in it. Where the hooks live, that
      // name is any new entry, so no sticky bit excuses it.
      const dirProblem = insecurityOf(dir, await lstatOnce(dir), item.entry ? "hooks directory" : "ancestor");
      if (dirProblem !== null) return { problem: dirProblem };
      const path = join(dir, item.name);
      const info = await lstatOnce(path);
      if (info.isSymbolicLink()) {
        if (++links > MAX_LINKS) return { problem: `cannot resolve "${hookPath}": more than ${MAX_LINKS} symbolic links` };
        const target = await fs.readlink(path);
        if (target.startsWith("/")) dir = "/";
        queue = [...componentsOf(target).map((name) => ({ name, entry: false })), ...queue];
      } else if (queue.length === 0) {
        const problem = insecurityOf(path, info, "hook");
        return problem === null ? { file: { path, dev: info.dev, ino: info.ino } } : { problem };
      } else {
        dir = path;
      }
    }
  } catch (error) {
    // A path that cannot be looked at cannot be trusted either.
    return { problem: `cannot check "${hookPath}": ${messageOf(error)}` };
  }
  return { problem: `"${hookPath}" is not a file` };
}
