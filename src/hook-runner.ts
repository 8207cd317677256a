/**
 * Runs one hook: argv only (no shell), its own process group, a deadline, bounded output.
 * A hook is done when it exits, not when its pipes reach EOF: a background child that keeps
 * stdout open must not hold the evaluation.
 */
import { closeSync, openSync, readdirSync, readFileSync, readSync } from "node:fs";
import { messageOf } from "./errors.ts";
import { OutputCapture } from "./output-capture.ts";

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
}

export interface RunHookOptions {
  timeoutMs: number;
  killGraceMs: number;
  outputLimitBytes: number;
  env: Record<string, string>;
  signal?: AbortSignal;
}

/** After the hook exits, how long its pipes may still deliver output before we stop reading. */
const DRAIN_MS = 50;
const GROUP_POLL_MS = 10;
const ABORT_GRACE_MS = 500;
/** After SIGKILL the group is gone within milliseconds; never wait longer than this. */
const AFTER_KILL_WAIT_MS = 500;

function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether any process of the group is still running. Zombies do not count: they hold nothing,
 * and where init is slow to reap (some containers) kill(-pgid, 0) would still find them.
 */
function groupIsRunning(pgid: number): boolean {
  if (!signalGroup(pgid, 0)) return false;
  if (process.platform !== "linux") return true;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "latin1");
      // Fields after "(comm) ": state, ppid, pgrp.
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(pgrp) === pgid && state !== "Z") return true;
    } catch {
      // The process ended while we looked.
    }
  }
  return false;
}

/** SIGTERM to the group, SIGKILL after the grace; resolves when nothing of the group runs. */
async function terminateGroup(pgid: number, graceMs: number): Promise<void> {
  signalGroup(pgid, "SIGTERM");
  const killAt = performance.now() + graceMs;
  while (groupIsRunning(pgid) && performance.now() < killAt) await Bun.sleep(GROUP_POLL_MS);
  if (!signalGroup(pgid, "SIGKILL")) return;
  const giveUpAt = performance.now() + AFTER_KILL_WAIT_MS;
  while (groupIsRunning(pgid) && performance.now() < giveUpAt) await Bun.sleep(GROUP_POLL_MS);
}

/** Reads a stream into the capture until EOF or until cancelled. */
function pump(stream: ReadableStream<Uint8Array>, capture: OutputCapture): { done: Promise<void>; cancel(): void } {
  const reader = stream.getReader();
  const done = (async () => {
    try {
      for (;;) {
        const next = await reader.read();
        if (next.done) return;
        capture.push(next.value);
      }
    } catch {
      // A reset or cancelled pipe is the end of output, nothing more.
    }
  })();
  // Cancelling settles a pending read as done, so `done` resolves.
  return { done, cancel: () => void reader.cancel().catch(() => {}) };
}

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

function spawnHook(argv: string[], env: Record<string, string>) {
  return Bun.spawn(argv, {
    cwd: "/",
    env,
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    // A new session, so the hook and everything it starts share a process group we can kill.
    detached: true,
  });
}

/** Starts the hook; a file without `#!` and not a binary runs under /bin/sh, as execvp(3) does. */
function startHook(path: string, env: Record<string, string>) {
  try {
    return spawnHook([path], env);
  } catch (error) {
    const head = firstBytes(path, 4).toString("latin1");
    if ((error as NodeJS.ErrnoException).code !== "ENOEXEC" || head.startsWith("#!") || head === "\x7fELF") throw error;
    return spawnHook(["/bin/sh", path], env);
  }
}

/** Runs one hook to completion, timeout or abort; never throws. */
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
    ...fields,
  });
  if (options.signal?.aborted) return result({ aborted: true });

  let proc: ReturnType<typeof spawnHook>;
  try {
    proc = startHook(path, options.env);
  } catch (error) {
    return result({ execError: describeExecError(path, error) });
  }

  const capture = new OutputCapture(options.outputLimitBytes);
  const streams = [pump(proc.stdout, capture), pump(proc.stderr, capture)];

  let stoppedBy: "timeout" | "abort" | null = null;
  let termination: Promise<void> | null = null;
  const stop = (why: "timeout" | "abort") => {
    stoppedBy ??= why;
    // A stopping daemon must exit within two seconds, so an abort shortens the grace.
    termination ??= terminateGroup(proc.pid, why === "abort" ? Math.min(options.killGraceMs, ABORT_GRACE_MS) : options.killGraceMs);
  };
  const timer = setTimeout(() => stop("timeout"), options.timeoutMs);
  const onAbort = () => stop("abort");
  options.signal?.addEventListener("abort", onAbort, { once: true });

  await proc.exited;
  clearTimeout(timer);
  options.signal?.removeEventListener("abort", onAbort);
  const durationMs = Math.round(performance.now() - started);
  await termination;

  const allRead = Promise.all(streams.map((s) => s.done));
  await Promise.race([allRead, Bun.sleep(DRAIN_MS)]);
  for (const stream of streams) stream.cancel();
  await allRead;

  return result({
    exitCode: proc.exitCode,
    signal: proc.signalCode === null ? null : String(proc.signalCode),
    timedOut: stoppedBy === "timeout",
    aborted: stoppedBy === "abort",
    durationMs,
    output: capture.text(),
    outputDroppedBytes: capture.droppedBytes,
  });
}
