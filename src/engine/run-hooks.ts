/**
 * The run phase of an evaluation for the hooks: each runs (at most `concurrency` at once, as its
 * user, vetted again right before exec), or its kept result stands while its `intervalMs` has not
 * passed (result-cache.ts). A hook we could not start stops them all: that is our fault, not the
 * service's.
 */

import { withKind } from "../common/errors.ts";
import { escapeText } from "../common/escape.ts";
import type { Config } from "../config/config.ts";
import type { Account } from "../config/users.ts";
import type { ServiceResult } from "../protocol/wire.ts";
import type { ClockReading } from "../system/clock.ts";
import { openFilesLimit } from "../system/limits.ts";
import type { Logger } from "../system/log.ts";
import { type DiscoveryFs, type Hook, notRunResult, recheckHook, refusedBySecurity } from "./discover.ts";
import type { EvaluationNotes } from "./evaluation-notes.ts";
import { type HookRun, runHook } from "./hook-runner.ts";
import { intervalOf, timeoutOf } from "./hook-settings.ts";
import { capConcurrency, mapConcurrent } from "./pool.ts";
import { fingerprintOf, type KeptResult, keepResult, keptResultFor, keptService } from "./result-cache.ts";

/** Hooks get a clean, predictable environment rather than whatever started us. */
export const HOOK_ENV: Record<string, string> = {
  PATH: "/sbin:/bin:/usr/sbin:/usr/bin:/usr/local/sbin:/usr/local/bin",
  HOME: "/",
};

/** What running the hooks takes from the evaluation's effects. */
export interface HookRunDeps {
  log: Logger;
  runHook?: typeof runHook;
  /**
   * The file system calls of discovery and script security (default NODE_DISCOVERY_FS, through
   * Bun's thread pool; one-shot commands pass BLOCKING_DISCOVERY_FS).
   */
  fs?: DiscoveryFs;
  /** The descriptor limit that caps concurrency (default: this process's, from getrlimit). */
  openFilesLimit?: number | null;
}

/** Said of a hook that exited leaving processes running (in any group or session): nothing a hook starts outlives its run. */
export function leftProcessesWarning(leftBehind: readonly string[]): string {
  const which = leftBehind.length > 0 ? `: ${leftBehind.join(", ")}` : "";
  return `left processes running${which}; they were killed (nothing a hook starts may outlive its run)`;
}

/** Maps a hook's run to its service result. */
export function toServiceResult(hook: Hook, run: HookRun): ServiceResult {
  const reason =
    run.execError ??
    (run.timedOut ? `timed out after ${run.durationMs} ms` : null) ??
    (run.aborted ? "aborted (shutting down)" : null) ??
    (run.signal ? `killed by ${run.signal}` : null);
  return {
    name: hook.name,
    status: run.exitCode === 0 && reason === null ? "pass" : "fail",
    exitCode: run.exitCode,
    signal: run.signal,
    timedOut: run.timedOut,
    durationMs: run.durationMs,
    output: run.output,
    outputDroppedBytes: run.outputDroppedBytes,
    reason,
    warnings: run.leftProcesses ? [leftProcessesWarning(run.leftBehind)] : [],
  };
}

/** How one evaluation treats each hook: run it (as its user), or take its kept result. */
export interface HookPlan {
  /** The user a hook runs as, by name; absent: as we run. */
  runners: ReadonlyMap<string, Account>;
  /** Results kept for `intervalMs` as the history had them before the hooks ran. */
  kept: Record<string, KeptResult>;
  /** The configuration's hash (result-cache.ts). */
  config: string;
  /** Every check runs (`--all`). */
  all: boolean;
  /** When the hooks started: monotonic ms, and a reading to place monotonic times on the wall clock. */
  start: ClockReading;
}

/** What runHooks found: every result, which were kept rather than run, and the results to keep from now. */
export interface HooksOutcome {
  results: ServiceResult[];
  kept: Set<string>;
  runs: Record<string, KeptResult>;
}

/** A monotonic time of `reading`'s clock as its wall clock read then. */
export function wallTimeOf(reading: ClockReading): (monotonicMs: number) => string {
  return (monotonicMs) => new Date(reading.wallMs + (monotonicMs - reading.monotonicMs)).toISOString();
}

/** One run of the hooks: what every hook shares, and what they found so far. */
interface HooksRun {
  config: Config;
  plan: HookPlan;
  run: typeof runHook;
  signal: AbortSignal;
  kept: Set<string>;
  runs: Record<string, KeptResult>;
  wallTime: (monotonicMs: number) => string;
  fs: DiscoveryFs | undefined;
  /** Records that a hook could not be started (the first such error stops them all). */
  failed(error: unknown): void;
}

/** One hook's result: its kept one, or a run now (null: it could not be started, said to `r.failed`). */
async function runOne(hook: Hook, r: HooksRun): Promise<ServiceResult | null> {
  const { config, plan } = r;
  const now = plan.start.monotonicMs;
  const intervalMs = intervalOf(config, hook.name);
  // Taken before the run: a file changed while it runs is another file next time.
  const fingerprint = intervalMs === null ? null : await fingerprintOf(hook.path, plan.config);
  if (intervalMs !== null) {
    const previous = Object.hasOwn(plan.kept, hook.name) ? plan.kept[hook.name] : undefined;
    const still = plan.all ? null : keptResultFor(previous, { fingerprint, intervalMs, now });
    if (still !== null) {
      r.kept.add(hook.name);
      r.runs[hook.name] = still;
      return keptService(hook.name, still, { now, wallTime: r.wallTime });
    }
  }
  // Vetted again right before exec: a hook swapped or loosened since discovery must not run as root.
  const refusal = await recheckHook(hook, r.fs);
  if (refusal !== null) return notRunResult(refusedBySecurity(hook.name, refusal));
  const account = plan.runners.get(hook.name);
  let run: HookRun;
  try {
    run = await r.run(hook.path, {
      timeoutMs: timeoutOf(config, hook.name),
      killGraceMs: config.killGraceMs,
      outputLimitBytes: config.outputLimitBytes,
      // The user's HOME over ours; hookEnv over both, as it is over PATH.
      env: { ...HOOK_ENV, ...(account ? { HOME: account.home } : {}), ...config.hookEnv },
      signal: r.signal,
      runAs: account ?? null,
    });
  } catch (error) {
    r.failed(error);
    return null;
  }
  const service = toServiceResult(hook, run);
  if (intervalMs !== null) {
    service.ranAt = r.wallTime(now);
    if (fingerprint !== null) r.runs[hook.name] = keepResult(service, { ranAt: now, fingerprint });
  }
  return service;
}

/**
 * Runs the discovered hooks (at most `limit` at once), each as its user, except those whose kept
 * result still counts; a hook we could not start stops them all.
 */
export async function runHooks(
  config: Config,
  deps: HookRunDeps,
  { hooks, signal, plan, notes }: { hooks: Hook[]; signal: AbortSignal | undefined; plan: HookPlan; notes: EvaluationNotes },
): Promise<HooksOutcome> {
  const { limit, note } = capConcurrency(config.concurrency, deps.openFilesLimit === undefined ? openFilesLimit() : deps.openFilesLimit);
  if (note !== null) notes.once(note);
  // Our own failure to start a hook (out of descriptors or processes) stops the whole run: it is a
  // system error, and the hooks still running are killed rather than left to be counted.
  const cancel = new AbortController();
  const runSignal = signal ? AbortSignal.any([signal, cancel.signal]) : cancel.signal;
  let ownFailure: unknown = null;
  const r: HooksRun = {
    config,
    plan,
    run: deps.runHook ?? runHook,
    signal: runSignal,
    kept: new Set(),
    runs: Object.create(null),
    wallTime: wallTimeOf(plan.start),
    fs: deps.fs,
    failed(error) {
      // The runner throws only for what stops us starting a hook at all: we are out of resources.
      ownFailure ??= withKind(error, "resources");
      cancel.abort(ownFailure);
    },
  };
  const ran = await mapConcurrent(hooks, (hook) => runOne(hook, r), { limit });
  signal?.throwIfAborted();
  if (ownFailure !== null) throw ownFailure;
  const results = ran.filter((service) => service !== null);
  for (const service of results) {
    // A kept result's warnings were logged when it ran.
    if (r.kept.has(service.name)) continue;
    for (const warning of service.warnings)
      deps.log.warn({ hook: escapeText(service.name) }, `hook "${escapeText(service.name)}" ${warning}`);
  }
  return { results, kept: r.kept, runs: r.runs };
}
