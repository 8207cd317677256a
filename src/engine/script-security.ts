/**
 * Script security, as keepalived applies it when root runs its scripts: a hook decides whether
 * this node stays master and runs as root, so nobody but root may be able to change what runs.
 * That covers the file and every directory on its path from "/", since whoever can write a
 * directory can replace what lies below it; and it covers what the kernel runs the file with:
 * its `#!` interpreter (and what `#!/usr/bin/env NAME` finds on PATH), or /bin/sh for a script
 * without `#!`, each vetted as a script in its own right. A check run as another user (`user`)
 * is vetted for that user too: nothing on its path may be writable by a group of the user's
 * (group 0 included), or the user could change what the check runs and so the node's mastership.
 * `insecurityOf` is the rule for one path; `vetHook` walks a hook's paths and its interpreters with it.
 */
import { closeSync, constants, fstatSync, lstatSync, openSync, readlinkSync, readSync, type Stats } from "node:fs";
import { lstat, open, readlink } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { messageOf } from "../common/errors.ts";

const SETUID = 0o4000;
const SETGID = 0o2000;
const STICKY = 0o1000;
const GROUP_WRITE = 0o020;
const OTHER_WRITE = 0o002;

/**
 * What a path is to the hook being vetted: the file it runs, an interpreter that runs it, the
 * directory its name is listed in, a `search directory` (one a name is looked up in that may not
 * be there: a PATH directory env searches, or where a lookup came up empty), or an `ancestor`:
 * any other directory a name is looked up in on the way.
 */
export type PathRole = "hook" | "interpreter" | "hooks directory" | "search directory" | "ancestor";

/** Why the sticky bit does not excuse a directory in this role: anyone may add a new entry there. */
const ADDING_IS_ENOUGH: Partial<Record<PathRole, string>> = {
  "hooks directory": "the sticky bit does not help here, as every new entry runs",
  "search directory": "the sticky bit does not help here, as anyone could add the name looked up there",
};

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

/** The user a check runs as, for the rule: who must not be able to write what it runs. */
export interface Runner {
  name: string;
  uid: number;
  groups: readonly number[];
}

/**
 * Why root must not trust `path` in this role, with the command that fixes it, or null.
 * Refused: an owner other than root; write access for others; write access for a group other
 * than 0; a setuid or setgid hook or interpreter. With `runner` (a check run as that user): also
 * write access for any of the user's groups, group 0 included.
 */
export function insecurityOf(path: string, info: Ownership, role: PathRole, runner?: Runner): string | null {
  const mode = formatMode(info.mode);
  if (info.uid !== 0) return `"${path}" is owned by uid ${info.uid}, not root; fix: chown root "${path}"`;
  if ((role === "hook" || role === "interpreter") && info.mode & (SETUID | SETGID)) {
    return `"${path}" is setuid or setgid (mode ${mode}); fix: chmod u-s,g-s "${path}"`;
  }
  const sticky = (info.mode & STICKY) !== 0;
  // In a sticky directory (/tmp) only an entry's owner can rename or remove it, so others
  // writing there cannot replace the root-owned path below. Where a new entry is enough (the
  // hooks directory, a PATH directory), the sticky bit does not excuse it.
  if (sticky && role === "ancestor") return null;
  const note = sticky ? ADDING_IS_ENOUGH[role] : undefined;
  const stickyNote = note === undefined ? "" : `; ${note}`;
  if (info.mode & OTHER_WRITE) return `"${path}" is writable by others (mode ${mode}${stickyNote}); fix: chmod o-w "${path}"`;
  if (info.mode & GROUP_WRITE && info.gid !== 0) {
    return `"${path}" is group-writable with group ${info.gid} (mode ${mode}${stickyNote}); fix: chmod g-w "${path}"`;
  }
  if (runner !== undefined && runner.uid !== 0 && info.mode & GROUP_WRITE && runner.groups.includes(info.gid)) {
    return `"${path}" is group-writable with group ${info.gid}, a group of user "${runner.name}", whom the check runs as (mode ${mode}${stickyNote}); fix: chmod g-w "${path}"`;
  }
  return null;
}

/** The first bytes of a file and the identity of the file they were read from. */
export interface FileHead {
  bytes: Buffer;
  dev: number;
  ino: number;
}

/** The file system calls the walk makes; tests replace them to inject failures. */
export interface SecurityFs {
  lstat(path: string): Promise<Stats>;
  readlink(path: string): Promise<string>;
  /** Up to `length` bytes from the start of `path`, opened without following a link, non-blocking. */
  readHead(path: string, length: number): Promise<FileHead>;
}

function readHeadSync(path: string, length: number): FileHead {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    const { dev, ino } = fstatSync(fd);
    const bytes = Buffer.alloc(length);
    let filled = 0;
    for (let read = -1; read !== 0 && filled < length; filled += read) read = readSync(fd, bytes, filled, length - filled, filled);
    return { bytes: bytes.subarray(0, filled), dev, ino };
  } finally {
    closeSync(fd);
  }
}

async function readHead(path: string, length: number): Promise<FileHead> {
  const handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    const { dev, ino } = await handle.stat();
    const bytes = Buffer.alloc(length);
    let filled = 0;
    for (let read = -1; read !== 0 && filled < length; filled += read) {
      ({ bytesRead: read } = await handle.read(bytes, filled, length - filled, filled));
    }
    return { bytes: bytes.subarray(0, filled), dev, ino };
  } finally {
    await handle.close();
  }
}

/**
 * The real file system through Bun's thread pool: a file system that hangs (a dead NFS mount
 * under the hooks directory) holds a pool thread, never the event loop, so the daemon still
 * answers its socket and its signals. The default.
 */
export const NODE_SECURITY_FS: SecurityFs = { lstat, readlink, readHead };

/**
 * The real file system, called synchronously behind the promises: a vetting makes some twenty
 * calls on local metadata (a hook, its directories, its interpreters), each a few microseconds,
 * where a round trip through Bun's thread pool costs far more than the call (and a cold `check`
 * would start the pool for them alone). For one-shot commands, where nothing else waits on the
 * event loop.
 */
export const BLOCKING_SECURITY_FS: SecurityFs = {
  lstat: async (path) => lstatSync(path),
  readlink: async (path) => readlinkSync(path),
  readHead: async (path, length) => readHeadSync(path, length),
};

/** The file a hook's path led to when it was vetted: a later look that finds another file refuses it. */
export interface VettedFile {
  /** The real path (links resolved). */
  path: string;
  dev: number;
  ino: number;
}

/** Memo of one discovery's lstat() calls and first lines: every hook walks the same directories and shares interpreters. */
export interface SecurityCache {
  stats: Map<string, Promise<Stats>>;
  heads: Map<string, Promise<FileHead>>;
}

export function newSecurityCache(): SecurityCache {
  return { stats: new Map(), heads: new Map() };
}

/** As many links as the kernel follows in one lookup (FreeBSD's MAXSYMLINKS). */
const MAX_LINKS = 32;

/** Interpreters that may run one another (Linux allows a few levels; FreeBSD none): more is refused. */
export const MAX_INTERPRETERS = 4;

/** What a script without `#!` runs under: execvp(3), and so the hook runner and env, use it. */
export const SHELL = "/bin/sh";

/**
 * How much of a file the kernel reads for its `#!` line: Linux's BINPRM_BUF_SIZE. FreeBSD reads
 * more; a longer line is cut on Linux, so what it runs cannot be told for certain, and is refused.
 */
export const HEAD_BYTES = 256;

const ELF_MAGIC = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);

/** What the first bytes of an executable say the kernel runs it with. */
export type FirstLine =
  /** A binary: the kernel runs it itself. */
  | { kind: "binary" }
  /** No `#!` (or one naming nothing): run under /bin/sh, by the hook runner or execvp(3). */
  | { kind: "no interpreter" }
  /** `#!INTERPRETER [ARGUMENT]`: the rest of the line after the interpreter is one argument, as both kernels pass it. */
  | { kind: "interpreter"; interpreter: string; argument: string | null }
  | { kind: "unreadable"; problem: string };

/** Reads a file's first line as the kernel does (Linux's load_script, FreeBSD's imgact_shell). Pure. */
export function parseFirstLine(head: Buffer): FirstLine {
  if (head.subarray(0, ELF_MAGIC.length).equals(ELF_MAGIC)) return { kind: "binary" };
  if (head[0] !== 0x23 || head[1] !== 0x21) return { kind: "no interpreter" };
  let end = head.indexOf(0x0a);
  if (end === -1) {
    if (head.length >= HEAD_BYTES) {
      return {
        kind: "unreadable",
        problem: `its #! line is longer than ${HEAD_BYTES - 1} bytes, so what runs it cannot be told (Linux cuts it there); fix: shorten the #! line`,
      };
    }
    end = head.length;
  }
  let line = head.subarray(2, end);
  // Both kernels treat the line as a C string: a NUL ends it.
  const nul = line.indexOf(0);
  if (nul !== -1) line = line.subarray(0, nul);
  const text = line.toString("utf8");
  if (!Buffer.from(text, "utf8").equals(line)) {
    return { kind: "unreadable", problem: "its #! line is not valid UTF-8; fix: name the interpreter by a UTF-8 path" };
  }
  const trimmed = text.replace(/^[ \t]+|[ \t]+$/g, "");
  if (trimmed === "") return { kind: "no interpreter" };
  const gap = trimmed.search(/[ \t]/);
  if (gap === -1) return { kind: "interpreter", interpreter: trimmed, argument: null };
  return { kind: "interpreter", interpreter: trimmed.slice(0, gap), argument: trimmed.slice(gap).replace(/^[ \t]+/, "") };
}

/** Where env's options and assignments lead cannot be told for certain: name the program instead. */
const NAME_IT = "fix: name the interpreter by its full path in the #! line";

/**
 * The program `#!/usr/bin/env ARGUMENT` runs, or why that cannot be told for certain. The kernel
 * passes ARGUMENT as one word; `-S` splits it (GNU and FreeBSD env). Only a plain NAME (or
 * `-S NAME ARGS`) is accepted: options (`-i`, `-P`, `-u`, `-C`), assignments (`PATH=...`), quotes,
 * escapes and variables change where or how env looks it up. Pure.
 */
export function envCommandOf(argument: string | null): { name: string } | { problem: string } {
  if (argument === null) return { problem: `"#!/usr/bin/env" names no program: env would run the script itself again; ${NAME_IT}` };
  const split = argument.startsWith("-S");
  const words = split ? argument.slice(2).replace(/^[ \t]+/, "") : argument;
  const name = split ? words.split(/[ \t]/)[0]! : words;
  if (name === "") return { problem: `"env -S" names no program; ${NAME_IT}` };
  if (!split && argument.startsWith("-")) {
    return {
      problem: `env option "${argument.split(/[ \t]/)[0]}" in the #! line: what env runs then cannot be told for certain; ${NAME_IT}`,
    };
  }
  if (name.startsWith("-"))
    return { problem: `env option "${name}" in the #! line: what env runs then cannot be told for certain; ${NAME_IT}` };
  if (!split && /[ \t]/.test(argument)) {
    return {
      problem: `env gets "${argument}" as one program name (the kernel passes the rest of the #! line as one argument); fix: #!/usr/bin/env -S ${argument}`,
    };
  }
  if (name.includes("=")) return { problem: `env assignment "${name}" in the #! line: it can change where env looks; ${NAME_IT}` };
  if (split && /[\\'"$#]/.test(name)) {
    return {
      problem: `"${name}" after env -S holds quotes, escapes or variables, so what env runs cannot be told for certain; ${NAME_IT}`,
    };
  }
  return { name };
}

/** Path components, "." dropped; ".." kept (it means the parent of the real directory reached). */
function componentsOf(path: string): string[] {
  return path.split("/").filter((part) => part !== "" && part !== ".");
}

interface WalkContext {
  fs: SecurityFs;
  cache: SecurityCache;
  /** The PATH the scripts run with, which env searches; without it an env line is refused. */
  searchPath: string | undefined;
  /** The user the check runs as, when not root. */
  runner: Runner | undefined;
}

/** Where a walk ended: at an entry (links resolved), at a name that is not there, or at a problem. */
type Reached = { found: { path: string; info: Stats } } | { missing: string } | { problem: string };

function lstatOnce(path: string, context: WalkContext): Promise<Stats> {
  const known = context.cache.stats.get(path) ?? context.fs.lstat(path);
  context.cache.stats.set(path, known);
  return known;
}

/**
 * Resolves `target` one component at a time, as the kernel does, and vets everything that decides
 * what it names: every directory a name is looked up in, from "/" (so also the directory holding
 * each link on the way, however many hops), the directory holding the last name given in
 * `roles.lookup`, and the entry reached in `roles.entry`. A name that is not there (ENOENT, or a
 * file where a directory should be) ends the walk as `missing`, once the directory it was looked up
 * in is vetted as a search directory: whoever could add the name there would decide what runs.
 */
async function reach(target: string, roles: { lookup: PathRole; entry: PathRole }, context: WalkContext): Promise<Reached> {
  const parts = componentsOf(resolve(target));
  const last = parts.pop();
  try {
    if (last === undefined) {
      const info = await lstatOnce("/", context);
      const problem = insecurityOf("/", info, roles.entry, context.runner);
      return problem === null ? { found: { path: "/", info } } : { problem };
    }
    // Components still to look up; `last` marks the final name given (not one a link led to).
    let queue = [...parts.map((name) => ({ name, last: false })), { name: last, last: true }];
    let dir = "/";
    let links = 0;
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) {
      if (item.name === "..") {
        // Nobody can change what ".." of a real directory is: nothing to vet.
        dir = dirname(dir);
        continue;
      }
      const dirInfo = await lstatOnce(dir, context);
      const dirProblem = insecurityOf(dir, dirInfo, item.last ? roles.lookup : "ancestor", context.runner);
      if (dirProblem !== null) return { problem: dirProblem };
      const path = join(dir, item.name);
      let info: Stats;
      try {
        info = await lstatOnce(path, context);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
        return insecureToAdd(dir, dirInfo, context) ?? { missing: path };
      }
      if (info.isSymbolicLink()) {
        if (++links > MAX_LINKS) return { problem: `cannot resolve "${target}": more than ${MAX_LINKS} symbolic links` };
        const linkTarget = await context.fs.readlink(path);
        if (linkTarget.startsWith("/")) dir = "/";
        queue = [...componentsOf(linkTarget).map((name) => ({ name, last: false })), ...queue];
      } else if (queue.length === 0) {
        const problem = insecurityOf(path, info, roles.entry, context.runner);
        return problem === null ? { found: { path, info } } : { problem };
      } else if (!info.isDirectory()) {
        // The kernel says ENOTDIR; whoever could replace this entry is vetted like one who could add it.
        return insecureToAdd(dir, dirInfo, context) ?? { missing: path };
      } else {
        dir = path;
      }
    }
  } catch (error) {
    // A path that cannot be looked at cannot be trusted either.
    return { problem: `cannot check "${target}": ${messageOf(error)}` };
  }
  return { problem: `cannot resolve "${target}"` };
}

function insecureToAdd(dir: string, dirInfo: Stats, context: WalkContext): { problem: string } | null {
  const problem = insecurityOf(dir, dirInfo, "search directory", context.runner);
  return problem === null ? null : { problem };
}

/**
 * Vets `path` as an interpreter that runs a script (the file, every directory on its path, and
 * its own interpreters in turn). `how` says how it was reached, for the reason. Null when it may
 * run, including when it does not exist or is not a file: then the exec fails, and the walk has
 * made sure nobody but root could put one there.
 */
async function vetInterpreter(path: string, how: string, context: WalkContext, depth: number): Promise<string | null> {
  const reached = await reach(path, { lookup: "ancestor", entry: "interpreter" }, context);
  if ("problem" in reached) return `${how}: ${reached.problem}`;
  if ("missing" in reached || !reached.found.info.isFile()) return null;
  const inner = await vetRunnerOf(reached.found, context, depth + 1);
  return inner === null ? null : `${how}: ${inner}`;
}

/** What env finds for `name` on the scripts' PATH, as execvp(3) looks: the first executable file. */
async function lookUp(name: string, context: WalkContext): Promise<Reached> {
  if (name.includes("/")) return reach(resolve("/", name), { lookup: "ancestor", entry: "interpreter" }, context);
  if (context.searchPath === undefined) return { problem: "no PATH is known to look it up on" };
  // Hooks run in "/", so an empty or relative PATH entry is looked up from there.
  for (const entry of context.searchPath.split(":")) {
    const dir = await reach(resolve("/", entry), { lookup: "ancestor", entry: "search directory" }, context);
    if ("problem" in dir) return dir;
    if ("missing" in dir || !dir.found.info.isDirectory()) continue;
    const candidate = await reach(join(dir.found.path, name), { lookup: "search directory", entry: "interpreter" }, context);
    if ("problem" in candidate || "missing" in candidate) {
      if ("problem" in candidate) return candidate;
      continue;
    }
    // execvp passes over what it cannot execute; the walk made sure only root can change that.
    if (candidate.found.info.isFile() && (candidate.found.info.mode & 0o111) !== 0) return candidate;
  }
  return { missing: name };
}

/** Vets `#!/usr/bin/env ARGUMENT`: env itself, then the program it finds on PATH. */
async function vetEnvLine(env: string, argument: string | null, context: WalkContext, depth: number): Promise<string | null> {
  const how = `its interpreter "${env}" (#! line)`;
  const reached = await reach(resolve("/", env), { lookup: "ancestor", entry: "interpreter" }, context);
  if ("problem" in reached) return `${how}: ${reached.problem}`;
  if ("missing" in reached || !reached.found.info.isFile()) return null;
  const envItself = await vetRunnerOf(reached.found, context, depth + 1);
  if (envItself !== null) return `${how}: ${envItself}`;
  const command = envCommandOf(argument);
  if ("problem" in command) return `${how}: ${command.problem}`;
  const found = await lookUp(command.name, context);
  const lookup = command.name.includes("/") ? `runs "${command.name}"` : `looks "${command.name}" up on PATH`;
  if ("problem" in found) return `${how} ${lookup}: ${found.problem}`;
  // Not found: env fails (exit 127), and every directory searched was vetted.
  if ("missing" in found || !found.found.info.isFile()) return null;
  const inner = await vetRunnerOf(found.found, context, depth + 1);
  return inner === null ? null : `${how} runs "${command.name}", found at "${found.found.path}": ${inner}`;
}

/**
 * Why what the kernel runs `file` with cannot be trusted, or null: nothing for a binary, /bin/sh
 * for a script without `#!`, else its `#!` interpreter (and for env, what env finds), each vetted
 * in turn, `depth` levels down already.
 */
async function vetRunnerOf(file: { path: string; info: Stats }, context: WalkContext, depth: number): Promise<string | null> {
  let head: FileHead;
  try {
    const known = context.cache.heads.get(file.path) ?? context.fs.readHead(file.path, HEAD_BYTES);
    context.cache.heads.set(file.path, known);
    head = await known;
  } catch (error) {
    return `cannot read the #! line of "${file.path}": ${messageOf(error)}`;
  }
  if (head.dev !== file.info.dev || head.ino !== file.info.ino) return `"${file.path}" was replaced while it was checked`;
  const line = parseFirstLine(head.bytes);
  if (line.kind === "binary") return null;
  if (line.kind === "unreadable") return line.problem;
  if (depth >= MAX_INTERPRETERS) {
    return `more than ${MAX_INTERPRETERS} levels of interpreters ("${file.path}" is a script too); fix: name a binary interpreter in the #! line`;
  }
  if (line.kind === "no interpreter") return vetInterpreter(SHELL, `it has no #! line and runs under "${SHELL}"`, context, depth);
  if (basename(line.interpreter) === "env") return vetEnvLine(line.interpreter, line.argument, context, depth);
  // A relative interpreter is looked up from the working directory: "/" for hooks.
  return vetInterpreter(resolve("/", line.interpreter), `its interpreter "${line.interpreter}" (#! line)`, context, depth);
}

/**
 * Resolves `hookPath` one component at a time, as the kernel does, and vets everything that
 * decides what it runs: every directory a name is looked up in, from "/", the real hooks
 * directory in its stricter role, the file reached, and what runs it (its interpreters, see
 * vetRunnerOf). Returns the first problem, top down, or the file vetted.
 */
export async function vetHook(
  hookPath: string,
  options: { fs?: SecurityFs; cache?: SecurityCache; searchPath?: string; runner?: Runner } = {},
): Promise<{ problem: string } | { file: VettedFile }> {
  const context: WalkContext = {
    fs: options.fs ?? NODE_SECURITY_FS,
    cache: options.cache ?? newSecurityCache(),
    searchPath: options.searchPath,
    runner: options.runner,
  };
  const reached = await reach(hookPath, { lookup: "hooks directory", entry: "hook" }, context);
  if ("problem" in reached) return reached;
  if ("missing" in reached) return { problem: `"${hookPath}" does not exist` };
  const { path, info } = reached.found;
  if (!info.isFile()) return { problem: `"${hookPath}" is not a file` };
  const problem = await vetRunnerOf(reached.found, context, 0);
  return problem === null ? { file: { path, dev: info.dev, ino: info.ino } } : { problem };
}
