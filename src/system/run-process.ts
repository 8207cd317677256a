/**
 * Runs one process the way every process we start must run: in a session and process group of
 * its own, with a deadline, its output read into bounded captures, done when it exits (not when
 * its pipes reach EOF), and nothing of it left behind: whatever it started is ended when it
 * exits, whatever group or session that moved to (process-group.ts). Hooks
 * (engine/hook-runner.ts) and the system tools (run-tool.ts) both run through here.
 */

import { settledWithin } from "../common/deadline.ts";
import type { OutputCapture } from "./output-capture.ts";
import {
  describeProcesses,
  endRun,
  findLeftovers,
  markLeaderGone,
  prepareRun,
  registerRun,
  releaseRun,
  type TreeRun,
} from "./process-group.ts";

/** After the process exits, how long its pipes may still deliver output before we stop reading. */
const DRAIN_MS = 50;
/** A stopping daemon must exit within two seconds, so an abort shortens the grace. */
const ABORT_GRACE_MS = 500;

export interface RunProcessOptions {
  cwd?: string;
  env?: Record<string, string>;
  /** Where stdout and stderr go: pass the same capture twice to interleave them. */
  stdout: OutputCapture;
  stderr: OutputCapture;
  timeoutMs: number;
  /** Between SIGTERM and SIGKILL, on a timeout and for processes left behind. */
  killGraceMs: number;
  /** Aborting kills it and all it started (with a grace of at most ABORT_GRACE_MS). */
  signal?: AbortSignal;
}

/** What happened to one process and what it started. */
export interface ProcessRun {
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  aborted: boolean;
  durationMs: number;
  /** Processes it started were still running when it exited; they were terminated. */
  leftProcesses: boolean;
  /** Those processes, as "name (pid N)". */
  leftBehind: string[];
}

export type Spawned = Bun.Subprocess<"ignore", "pipe", "pipe">;

/** A process just started, and the run that follows everything it starts. */
export interface Started {
  proc: Spawned;
  tree: TreeRun;
}

/**
 * Starts argv in a new session (so it leads a process group we can signal at once) and follows
 * its tree from the first instant. A failure to start is thrown as Bun threw it.
 */
export function spawnInGroup(argv: string[], options: { cwd?: string; env?: Record<string, string>; what?: string }): Started {
  const { token, env } = prepareRun(options.env);
  const proc = Bun.spawn(argv, { cwd: options.cwd, env, stdin: "ignore", stdout: "pipe", stderr: "pipe", detached: true });
  // `what`: the program it becomes, when argv[0] only starts it (the helper that runs a hook as another user).
  return { proc, tree: registerRun(proc.pid, { token, what: options.what ?? argv[0] ?? "" }) };
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

/**
 * Waits for a started process: ends it and all it started on timeout or abort, reads its output,
 * and once it has exited ends whatever it started that is still running. Never throws.
 */
export async function superviseProcess({ proc, tree }: Started, options: RunProcessOptions): Promise<ProcessRun> {
  const started = performance.now();
  const streams = [pump(proc.stdout, options.stdout), pump(proc.stderr, options.stderr)];
  // A stopping daemon exits within two seconds: an abort ends any grace at once, and SIGKILL
  // follows, so nothing is orphaned by the exit.
  const abort = whenAborted(options.signal);

  // Set once, by the first of timeout or abort; declared without a value so closures may set it.
  let stopped: { by: "timeout" | "abort"; terminated: Promise<void> } | undefined;
  const stop = (by: "timeout" | "abort") => {
    const graceMs = by === "abort" ? Math.min(options.killGraceMs, ABORT_GRACE_MS) : options.killGraceMs;
    // A timeout's grace is cut short by a shutdown that comes during it.
    stopped ??= { by, terminated: endRun(tree, { graceMs, cutShort: by === "timeout" ? abort.promise : undefined }) };
  };
  const timer = setTimeout(() => stop("timeout"), options.timeoutMs);
  const onAbort = () => stop("abort");
  if (options.signal?.aborted) onAbort();
  else options.signal?.addEventListener("abort", onAbort, { once: true });

  await proc.exited;
  markLeaderGone(tree);
  clearTimeout(timer);
  options.signal?.removeEventListener("abort", onAbort);
  const durationMs = Math.round(performance.now() - started);
  await stopped?.terminated;

  // The leader is gone; anything it started that still runs (`cmd &`, bash `set -m`, setsid,
  // daemon(8)) would leak one process per run.
  const left = await findLeftovers(tree);
  if (left.length > 0) await endRun(tree, { graceMs: options.killGraceMs, cutShort: abort.promise });
  abort.dispose();
  releaseRun(tree);

  const allRead = Promise.all(streams.map((s) => s.done));
  // A deadline that clears its timer, not Bun.sleep: a pending sleep keeps a short-lived process
  // (check, the shim's fallback) alive for the whole DRAIN_MS after its last hook.
  await settledWithin(allRead, DRAIN_MS);
  for (const stream of streams) stream.cancel();
  await allRead;

  return {
    exitCode: proc.exitCode,
    signal: proc.signalCode === null ? null : String(proc.signalCode),
    timedOut: stopped?.by === "timeout",
    aborted: stopped?.by === "abort",
    durationMs,
    leftProcesses: left.length > 0,
    leftBehind: describeProcesses(left),
  };
}

/** A promise settled when `signal` aborts (at once if it has), and what removes its listener. */
function whenAborted(signal: AbortSignal | undefined): { promise: Promise<void>; dispose(): void } {
  if (!signal) return { promise: new Promise(() => {}), dispose() {} };
  if (signal.aborted) return { promise: Promise.resolve(), dispose() {} };
  const { promise, resolve } = Promise.withResolvers<void>();
  const onAbort = () => resolve();
  signal.addEventListener("abort", onAbort, { once: true });
  return { promise, dispose: () => signal.removeEventListener("abort", onAbort) };
}

/** Starts and supervises argv; a failure to start (ENOENT, EMFILE, ...) is thrown as Bun threw it. */
export async function runProcess(argv: string[], options: RunProcessOptions): Promise<ProcessRun> {
  return superviseProcess(spawnInGroup(argv, options), options);
}
