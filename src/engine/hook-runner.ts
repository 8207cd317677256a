/**
 * Runs one hook: argv only (no shell), cwd /, a minimal environment, and everything
 * system/run-process.ts guarantees (own process group, deadline, bounded output, done at exit,
 * nothing it started left behind, whatever group or session that moved to). Adds what is
 * particular to hooks: /bin/sh for scripts without `#!`, exec failures explained in the admin's
 * terms, and a check started as another user (`user`) through the helper that drops privileges
 * (system/exec-as.ts), whose own failure fails the check: it never runs as root instead.
 */
import { closeSync, openSync, readSync } from "node:fs";
import { CarpError, messageOf } from "../common/errors.ts";
import { OutputCapture } from "../system/output-capture.ts";
import { helperFailure, type RunAs, runAsCommand } from "../system/run-as.ts";
import { type Started, spawnInGroup, superviseProcess } from "../system/run-process.ts";

/** What happened to one hook process. */
export interface HookRun {
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  /** Stopped because the evaluation was aborted (daemon shutdown). */
  aborted: boolean;
  durationMs: number;
  output: string;
  outputDroppedBytes: number;
  /** Why it could not run at all (bad interpreter, not executable), else null. */
  execError: string | null;
  /** It exited leaving processes running (in any group or session), which were then terminated. */
  leftProcesses: boolean;
  /** Those processes, as "name (pid N)". */
  leftBehind: string[];
}

export interface RunHookOptions {
  timeoutMs: number;
  killGraceMs: number;
  outputLimitBytes: number;
  env: Record<string, string>;
  /** Arguments after the path (notify scripts get their event); hooks get none. */
  args?: readonly string[];
  signal?: AbortSignal;
  /** Runs it with this user's uid, gid and groups (the caller puts the user's HOME in `env`). */
  runAs?: RunAs | null;
}

/**
 * Spawn failures that say we, not the hook, ran out of something: counting the hook as a failed
 * service would demote a healthy node for our own fault.
 */
const RESOURCE_ERRORS = new Set(["EMFILE", "ENFILE", "EAGAIN", "ENOMEM"]);

function firstBytes(path: string, count: number): Buffer {
  const buffer = Buffer.alloc(count);
  let fd: number | null = null;
  try {
    fd = openSync(path, "r");
    return buffer.subarray(0, readSync(fd, buffer, 0, count, 0));
  } catch {
    return Buffer.alloc(0);
  } finally {
    if (fd !== null) closeSync(fd);
  }
}

/** Explains a failed exec in the admin's terms. */
function describeExecError(path: string, error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  const head = firstBytes(path, 256).toString("latin1");
  if (code === "ENOENT" && head.startsWith("#!")) {
    const interpreter = head.slice(2).split("\n")[0]!.trim();
    return `cannot execute: interpreter "${interpreter}" not found (check the #! line)`;
  }
  if (code === "EACCES") return "cannot execute: permission denied";
  if (code === "ENOEXEC") return "cannot execute: not an executable for this machine";
  return `cannot execute: ${messageOf(error)}`;
}

function spawnHook(argv: string[], env: Record<string, string>, what?: string): Started {
  return spawnInGroup(argv, { cwd: "/", env, what });
}

/** How the helper's own failure (the hook never ran as the user) reads, in the admin's terms. */
function describeHelperFailure(path: string, user: string, failure: { code: string; message: string }): string {
  if (failure.code === "EACCES") {
    return `cannot execute as user "${user}": permission denied (the user needs read and execute permission on "${path}" and search permission on its directories)`;
  }
  if (failure.code === "ENOENT") return describeExecError(path, Object.assign(new Error(failure.message), { code: "ENOENT" }));
  return `cannot execute: ${failure.message}`;
}

/**
 * Starts the hook; a file without `#!` and not a binary runs under /bin/sh, as execvp(3) does (the
 * helper does the same for a hook run as another user).
 */
function startHook(path: string, { env, args = [], runAs }: Pick<RunHookOptions, "env" | "args" | "runAs">, nonce: string) {
  if (runAs) {
    const helper = runAsCommand(runAs, [path, ...args], env, nonce);
    // The helper execs the hook in place: the run file names the hook, as for any hook.
    return spawnHook(helper.argv, helper.env, path);
  }
  try {
    return spawnHook([path, ...args], env);
  } catch (error) {
    const head = firstBytes(path, 4).toString("latin1");
    if ((error as NodeJS.ErrnoException).code !== "ENOEXEC" || head.startsWith("#!") || head === "\x7fELF") throw error;
    return spawnHook(["/bin/sh", path, ...args], env);
  }
}

/**
 * Runs one hook to completion, timeout or abort. Throws only CarpError("system") when the hook
 * could not be started for want of descriptors, processes or memory.
 */
export async function runHook(path: string, options: RunHookOptions): Promise<HookRun> {
  const started = performance.now();
  const result = (fields: Partial<HookRun>): HookRun => ({
    exitCode: null,
    signal: null,
    timedOut: false,
    aborted: false,
    durationMs: Math.round(performance.now() - started),
    output: "",
    outputDroppedBytes: 0,
    execError: null,
    leftProcesses: false,
    leftBehind: [],
    ...fields,
  });
  if (options.signal?.aborted) return result({ aborted: true });

  let spawned: Started;
  const nonce = crypto.randomUUID();
  try {
    spawned = startHook(path, options, nonce);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? "";
    if (RESOURCE_ERRORS.has(code)) {
      throw new CarpError(
        "system",
        `Cannot start hook "${path}": ${code} (${messageOf(error)}); this process is out of resources, which says nothing about the service`,
        { cause: error, kind: "resources" },
      );
    }
    return result({ execError: describeExecError(path, error) });
  }

  const capture = new OutputCapture(options.outputLimitBytes);
  const run = await superviseProcess(spawned, {
    stdout: capture,
    stderr: capture,
    timeoutMs: options.timeoutMs,
    killGraceMs: options.killGraceMs,
    signal: options.signal,
  });
  const failure = options.runAs ? helperFailure(run.exitCode, capture.text(), nonce) : null;
  if (failure !== null) {
    // Not the hook's doing: it never ran. Out of resources is ours, as when a spawn fails.
    if (RESOURCE_ERRORS.has(failure.code)) {
      throw new CarpError("system", `Cannot start hook "${path}" as user "${options.runAs!.name}": ${failure.message}`, {
        kind: "resources",
      });
    }
    return result({ ...run, exitCode: null, execError: describeHelperFailure(path, options.runAs!.name, failure) });
  }
  return result({ ...run, output: capture.text(), outputDroppedBytes: capture.droppedBytes });
}
