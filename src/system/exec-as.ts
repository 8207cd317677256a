/**
 * The helper that starts a check as another user (`[hooks."NAME"] user`): a short-lived process of
 * our own runtime, spawned as root exactly as a hook is (its own session, its pid the one we
 * supervise), that sets the user's groups (initgroups' list), gid and uid through libc, checks that
 * each took, puts signals and descriptors back as a fresh process has them, and execs the hook in
 * place: the hook keeps the pid, the session and the process group, so process-tree supervision
 * is the same as for any hook.
 *
 * Why not Bun.spawn's own `uid`/`gid`: Bun 1.3.14 ignores them without a word (the child runs as
 * root) and 1.4.5 sets no supplementary groups. Why not a platform tool: FreeBSD has no setpriv,
 * su(1) goes through a shell and PAM, daemon(8) forks away from the pid we supervise. This works
 * alike on both Bun versions and on FreeBSD and Linux, and fails closed: anything that did not
 * take is reported and nothing runs.
 *
 *   argv: EXEC_AS_COMMAND NONCE USER UID GID GROUPS -- PATH [ARG...]
 *   env:  EXEC_AS_ENV (the hook's environment, as JSON), plus what supervision marks a run with
 *
 * The hook's environment travels in one variable so that nothing meant for the hook (hookEnv) can
 * change how this root process of ours starts. A failure is one line on stderr,
 * `carp-service-status exec-as NONCE: CODE: MESSAGE`, and exit status EXEC_AS_FAILED; the nonce,
 * unknown to the hook, tells it from anything a hook could print.
 */

import { ptr } from "bun:ffi";
import { constants as osConstants } from "node:os";
import { type PrivilegeLibc, privilegeLibc } from "./libc.ts";

/** The first argument that makes our executable this helper (cli.ts checks it before anything else). */
export const EXEC_AS_COMMAND = "__exec-as";
/** The variable that carries the hook's environment to the helper. */
export const EXEC_AS_ENV = "CARP_SERVICE_STATUS_EXEC_ENV";
/** The helper's exit status when it could not start the hook as the user. */
export const EXEC_AS_FAILED = 127;
/** What starts the helper's failure line. */
export const EXEC_AS_PREFIX = "carp-service-status exec-as";

const ELF_MAGIC = "\x7fELF";
const SHELL = "/bin/sh";

/** The name of an errno value on this platform ("ENOENT"), or "E<n>". */
function errnoName(errno: number): string {
  const found = Object.entries(osConstants.errno).find(([, value]) => value === errno);
  return found ? found[0] : `E${errno}`;
}

/** What the helper was asked: parsed from its argv, or why not. */
interface Request {
  nonce: string;
  user: string;
  uid: number;
  gid: number;
  groups: number[];
  path: string;
  args: string[];
}

const ID = /^\d+$/;

function parseRequest(argv: readonly string[]): Request | { problem: string; nonce: string } {
  const [command, nonce = "", user = "", uid = "", gid = "", groups = "", separator, path, ...args] = argv;
  const bad = (problem: string) => ({ problem, nonce });
  if (command !== EXEC_AS_COMMAND || separator !== "--" || path === undefined) return bad("malformed arguments");
  if (!ID.test(uid) || !ID.test(gid)) return bad("malformed uid or gid");
  const list = groups === "" ? [] : groups.split(",");
  if (!list.every((g) => ID.test(g))) return bad("malformed group list");
  return { nonce, user, uid: Number(uid), gid: Number(gid), groups: list.map(Number), path, args };
}

/** NUL-terminated bytes, for a char * argument. */
function cString(text: string): Buffer {
  return Buffer.from(`${text}\0`);
}

/** A NULL-terminated array of char * (the buffers kept in `keep` until the call has returned). */
function cStringArray(items: readonly string[], keep: Buffer[]): BigUint64Array {
  const array = new BigUint64Array(items.length + 1);
  items.forEach((item, i) => {
    const bytes = cString(item);
    keep.push(bytes);
    array[i] = BigInt(ptr(bytes));
  });
  return array;
}

/** Pure: why the credentials read back are not the ones asked for, or null. */
export function credentialsProblem(
  asked: { uid: number; gid: number; groups: readonly number[] },
  now: { uid: number; euid: number; gid: number; egid: number; groups: readonly number[] },
): string | null {
  if (now.uid !== asked.uid || now.euid !== asked.uid) return `the uid is ${now.uid} (effective ${now.euid}), not ${asked.uid}`;
  if (now.gid !== asked.gid || now.egid !== asked.gid) return `the gid is ${now.gid} (effective ${now.egid}), not ${asked.gid}`;
  // FreeBSD up to 14 lists the effective gid among the groups; Linux does not: compare without it.
  const set = (list: readonly number[]) => [...new Set([...list, asked.gid])].sort((a, b) => a - b).join(",");
  if (set(now.groups) !== set(asked.groups)) return `the groups are ${set(now.groups)}, not ${set(asked.groups)}`;
  return null;
}

/** Sets the user's groups, gid and uid, then reads them back; returns why it did not take, or null. */
function dropPrivileges(c: PrivilegeLibc, request: Request): { code: string; message: string } | null {
  const failed = (call: string) => {
    const code = errnoName(c.errno());
    const why = code === "EPERM" && c.geteuid() !== 0 ? " (only root can run a check as another user)" : "";
    return { code, message: `${call} failed: ${code}${why}` };
  };
  // The primary gid first: FreeBSD up to 14 keeps the effective gid in the list's first slot.
  const groups = new Uint32Array([request.gid, ...request.groups.filter((g) => g !== request.gid)]);
  if (c.setgroups(groups) !== 0) return failed(`setgroups(${[...groups].join(",")})`);
  if (c.setgid(request.gid) !== 0) return failed(`setgid(${request.gid})`);
  if (c.setuid(request.uid) !== 0) return failed(`setuid(${request.uid})`);
  const buffer = new Uint32Array(1024);
  const count = c.getgroups(buffer);
  if (count < 0) return failed("getgroups");
  const now = { uid: c.getuid(), euid: c.geteuid(), gid: c.getgid(), egid: c.getegid(), groups: [...buffer.subarray(0, count)] };
  const problem = credentialsProblem({ uid: request.uid, gid: request.gid, groups: [...groups] }, now);
  if (problem !== null) return { code: "EDROP", message: `the privileges did not drop: ${problem}` };
  // With every uid set to the user's, root cannot be had back; if it can, nothing runs.
  if (request.uid !== 0 && c.setuid(0) === 0) return { code: "EDROP", message: "the privileges did not drop: setuid(0) still works" };
  return null;
}

/** Whether the file is one the kernel runs itself (a `#!` script or an ELF binary), from its first bytes. */
async function kernelRuns(path: string): Promise<boolean> {
  try {
    const head = Buffer.from(await Bun.file(path).slice(0, 4).arrayBuffer()).toString("latin1");
    return head.startsWith("#!") || head === ELF_MAGIC;
  } catch {
    return true;
  }
}

/** Says why the hook did not start, in the line the supervising process looks for; returns the exit status. */
function fail(nonce: string, code: string, message: string): number {
  process.stderr.write(`${EXEC_AS_PREFIX} ${nonce}: ${code}: ${message.replace(/\n/g, " ")}\n`);
  return EXEC_AS_FAILED;
}

/**
 * The helper: drops to the user and execs the hook. Returns an exit status only when it could not
 * (the hook never ran); on success this process is the hook.
 */
export async function execAs(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const request = parseRequest(argv);
  if ("problem" in request) return fail(request.nonce, "EINVAL", request.problem);
  const { [EXEC_AS_ENV]: encoded, ...marks } = env;
  let hookEnv: Record<string, string>;
  try {
    hookEnv = { ...(JSON.parse(encoded ?? "{}") as Record<string, string>), ...(marks as Record<string, string>) };
  } catch {
    return fail(request.nonce, "EINVAL", `malformed ${EXEC_AS_ENV}`);
  }
  let c: PrivilegeLibc;
  try {
    c = privilegeLibc();
  } catch (error) {
    return fail(request.nonce, "ENOSYS", (error as Error).message);
  }
  const dropped = dropPrivileges(c, request);
  if (dropped !== null) return fail(request.nonce, dropped.code, `cannot run as user "${request.user}": ${dropped.message}`);
  // Asked after the drop: the user must be able to read the file to run a script.
  const viaShell = !(await kernelRuns(request.path));
  const keep: Buffer[] = [];
  const envp = cStringArray(
    Object.entries(hookEnv).map(([name, value]) => `${name}=${value}`),
    keep,
  );
  const hookArgv = viaShell ? [SHELL, request.path, ...request.args] : [request.path, ...request.args];
  const file = cString(hookArgv[0]!);
  const argvp = cStringArray(hookArgv, keep);
  // A fresh process's signals and descriptors: an ignored SIGPIPE, a blocked signal or one of our
  // descriptors would otherwise outlive exec into the hook.
  c.defaultSignals();
  c.unblockSignals();
  c.closeOnExecFrom3();
  c.execve(file, argvp, envp);
  const code = errnoName(c.errno());
  return fail(request.nonce, code, `execve "${viaShell ? SHELL : request.path}" as user "${request.user}" failed: ${code}`);
}

// No top-level await: this module is in the port's bundle, which is CommonJS (scripts/build.ts).
if (import.meta.main) {
  void execAs(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
