/**
 * One evaluation: discover and run the hooks, then, holding the lock, read the demotion, decide,
 * write, verify and log. Effects enter through `EvaluationDeps`; the decision is decide.ts.
 */
import type { Logger } from "pino";
import { messageOf } from "../common/errors.ts";
import { escapeControl } from "../common/escape.ts";
import type { Config } from "../config/config.ts";
import type { Evaluation, ServiceResult } from "../protocol/wire.ts";
import type { DemotionSysctl } from "../system/sysctl.ts";
import type { Syslog } from "../system/syslog.ts";
import { decide, findAnomalies, isDemoted } from "./decide.ts";
import { compareNames, discoverHooks, type Hook, notRunResult } from "./discover.ts";
import { type HookRun, runHook } from "./hook-runner.ts";
import { acquireLock } from "./lock.ts";
import { mapConcurrent } from "./pool.ts";

/** Hooks get a clean, predictable environment rather than whatever started us. */
export const HOOK_ENV: Record<string, string> = {
  PATH: "/sbin:/bin:/usr/sbin:/usr/bin:/usr/local/sbin:/usr/local/bin",
  HOME: "/",
};

export interface EvaluationDeps {
  sysctl: DemotionSysctl;
  syslog: Syslog;
  log: Logger;
  /** Whether script security applies (it does when running as root). */
  isRoot?: boolean;
  runHook?: typeof runHook;
  /** Serialises read-decide-write with every other writer (default: flock on `lockFile`). */
  acquireLock?: typeof acquireLock;
}

export interface EvaluateOptions {
  dryRun?: boolean;
  /** Aborting kills running hooks and skips the write: a shutdown never changes the demotion. */
  signal?: AbortSignal;
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
  };
}

/** Runs every hook and applies the decision. Throws CarpError("system") when sysctl or the lock fails. */
export async function evaluate(config: Config, deps: EvaluationDeps, options: EvaluateOptions = {}): Promise<Evaluation> {
  const startedAt = new Date();
  const started = performance.now();
  const { signal, dryRun = false } = options;
  const run = deps.runHook ?? runHook;
  const isRoot = deps.isRoot ?? process.getuid?.() === 0;

  const discovery = await discoverHooks(config.hooksDir, { enforceSecurity: config.scriptSecurity && isRoot });
  for (const warning of discovery.warnings) deps.log.warn({ hooksDir: config.hooksDir }, warning);
  const ran = await mapConcurrent(
    discovery.hooks,
    async (hook) =>
      toServiceResult(
        hook,
        await run(hook.path, {
          timeoutMs: config.hookTimeoutMs,
          killGraceMs: config.killGraceMs,
          outputLimitBytes: config.outputLimitBytes,
          env: HOOK_ENV,
          signal,
        }),
      ),
    { limit: config.concurrency },
  );
  signal?.throwIfAborted();

  const services = [...ran, ...discovery.notRun.map(notRunResult)].sort((a, b) => compareNames(a.name, b.name));
  const failed = services.filter((s) => s.status === "fail").map((s) => s.name);
  const warnings = [...discovery.warnings];

  const lockFile = deps.acquireLock ?? acquireLock;
  const lock = dryRun ? null : await lockFile(config.lockFile, { timeoutMs: config.lockTimeoutMs, signal });
  try {
    const demotionBefore = await deps.sysctl.read();
    const decision = decide(demotionBefore, failed);
    let demotionAfter = demotionBefore;
    let action: Evaluation["action"] = "none";
    if (decision.action !== "none" && !dryRun) {
      await deps.sysctl.add(decision.delta);
      // Read back rather than trust the write report: the value is what the kernel advertises.
      demotionAfter = await deps.sysctl.read();
      action = decision.action === "demote" ? "demoted" : "promoted";
      deps.log.warn({ demotionBefore, demotionAfter, failed: failed.map(escapeControl) }, decision.message);
      try {
        await deps.syslog.warning(decision.message);
      } catch (error) {
        warnings.push(`The demotion changed but the syslog line was not sent: ${messageOf(error)}`);
        deps.log.error({ err: messageOf(error) }, "syslog line not sent");
      }
    }
    const anomalies = findAnomalies(demotionAfter);
    if (action !== "none" && isDemoted(demotionAfter) !== (action === "demoted")) {
      anomalies.push(
        `After ${action === "demoted" ? "adding" : "taking off"} 2^20 the demotion is ${demotionAfter}: the bit is not as written`,
      );
    }
    for (const anomaly of anomalies) deps.log.error({ demotion: demotionAfter }, anomaly);
    return {
      action,
      decision: decision.action,
      dryRun,
      failed,
      demotionBefore,
      demotionAfter,
      demoted: isDemoted(demotionAfter),
      message: decision.action === "none" ? null : decision.message,
      services,
      anomalies,
      warnings,
      hooksDir: config.hooksDir,
      startedAt: startedAt.toISOString(),
      durationMs: Math.round(performance.now() - started),
    };
  } finally {
    lock?.release();
  }
}
