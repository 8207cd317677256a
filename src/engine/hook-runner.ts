/**
 * Runs one hook: argv only (no shell), its own process group, a deadline, bounded output.
 * A hook is done when it exits, not when its pipes reach EOF: a background child that keeps
 * stdout open must not hold the evaluation.
 */
import { closeSync, openSync, readSync } from "node:fs";
import { messageOf } from "../common/errors.ts";
import { OutputCapture } from "./output-capture.ts";
import { terminateGroup } from "./process-group.ts";

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
/** A stopping daemon must exit within two seconds, so an abort shortens the grace. */
const ABORT_GRACE_MS = 500;

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

  // Set once, by the first of timeout or abort; declared without a value so closures may set it.
  let stopped: { by: "timeout" | "abort"; terminated: Promise<void> } | undefined;
  const stop = (why: "timeout" | "abort") => {
    const graceMs = why === "abort" ? Math.min(options.killGraceMs, ABORT_GRACE_MS) : options.killGraceMs;
    // A group we may not signal (EPERM) still ends with its leader; nothing more can be done here.
    stopped ??= { by: why, terminated: terminateGroup(proc.pid, { graceMs, leaderExited: proc.exited }).catch(() => {}) };
  };
  const timer = setTimeout(() => stop("timeout"), options.timeoutMs);
  const onAbort = () => stop("abort");
  options.signal?.addEventListener("abort", onAbort, { once: true });

  await proc.exited;
  clearTimeout(timer);
  options.signal?.removeEventListener("abort", onAbort);
  const durationMs = Math.round(performance.now() - started);
  await stopped?.terminated;

  const allRead = Promise.all(streams.map((s) => s.done));
  await Promise.race([allRead, Bun.sleep(DRAIN_MS)]);
  for (const stream of streams) stream.cancel();
  await allRead;

  return result({
    exitCode: proc.exitCode,
    signal: proc.signalCode === null ? null : String(proc.signalCode),
    timedOut: stopped?.by === "timeout",
    aborted: stopped?.by === "abort",
    durationMs,
    output: capture.text(),
    outputDroppedBytes: capture.droppedBytes,
  });
}
