/**
 * One evaluation: discover and run the hooks, then, holding the lock, read the demotion, decide,
 * write, verify and log. Effects enter through `EvaluationDeps`; the decision is decide.ts.
 */
import type { Logger } from "pino";
import { deadlineSignal } from "../common/deadline.ts";
import { messageOf, withKind } from "../common/errors.ts";
import { escapeText } from "../common/escape.ts";
import type { Config } from "../config/config.ts";
import type { Evaluation, ServiceResult } from "../protocol/wire.ts";
import { type Clock, systemClock } from "../system/clock.ts";
import { openFilesLimit } from "../system/limits.ts";
import { acquireLock } from "../system/lock-file.ts";
import type { DemotionSysctl } from "../system/sysctl.ts";
import type { Syslog } from "../system/syslog.ts";
import { describeChange } from "./change-line.ts";
import { decide, findAnomalies, isDemoted } from "./decide.ts";
import { compareNames, discoverHooks, type Hook, notRunResult, recheckHook, refusedBySecurity } from "./discover.ts";
import type { Raw } from "./flap.ts";
import { countRun, type HistoryMemory, type HistoryStore } from "./flap-history.ts";
import { readGatewayChecks } from "./gateways.ts";
import { type HookRun, runHook } from "./hook-runner.ts";
import { isDisabled, skippedByConfig, timeoutOf, unmatchedHookWarnings } from "./hook-settings.ts";
import { capConcurrency, mapConcurrent } from "./pool.ts";

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
  /** The descriptor limit that caps concurrency (default: this process's, from getrlimit). */
  openFilesLimit?: number | null;
  /** How long the lock may be held, from the read to the syslog line (default LOCK_PHASE_TIMEOUT_MS). */
  lockPhaseTimeoutMs?: number;
  /** The clocks of flap control (default: CLOCK_MONOTONIC with the boot id, system/clock.ts). */
  clock?: Clock;
  /** Where the flap history is kept (default: the config's stateFile). */
  historyStore?: HistoryStore;
}

/** Read, write, read back and the syslog line: each tool call takes milliseconds and is bounded by itself too. */
export const LOCK_PHASE_TIMEOUT_MS = 15_000;

/** Notes worth one log line per process, not one per evaluation. */
const said = new Set<string>();
function sayOnce(log: Logger, note: string): void {
  if (said.has(note)) return;
  said.add(note);
  log.warn(note);
}

export interface EvaluateOptions {
  dryRun?: boolean;
  /** The daemon's first run: every hook's state is set by what it observes, and a hold-down starts now. */
  freshStart?: boolean;
  /** Aborting kills running hooks and skips the write: a shutdown never changes the demotion. */
  signal?: AbortSignal;
  /**
   * The daemon's own copy of the flap history, used when the state file cannot be read or is
   * behind it. Without it (check, trigger's fallback, configd) a history that cannot be read or
   * kept makes the run count every check as failing while the bit is set: see promotionWithheld.
   */
  memory?: HistoryMemory;
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

/** Runs the discovered hooks (at most `limit` at once); a hook we could not start stops them all. */
async function runHooks(
  config: Config,
  deps: EvaluationDeps,
  { hooks, signal }: { hooks: Hook[]; signal: AbortSignal | undefined },
): Promise<ServiceResult[]> {
  const run = deps.runHook ?? runHook;
  const { limit, note } = capConcurrency(config.concurrency, deps.openFilesLimit === undefined ? openFilesLimit() : deps.openFilesLimit);
  if (note !== null) sayOnce(deps.log, note);
  // Our own failure to start a hook (out of descriptors or processes) stops the whole run: it is a
  // system error, and the hooks still running are killed rather than left to be counted.
  const cancel = new AbortController();
  const runSignal = signal ? AbortSignal.any([signal, cancel.signal]) : cancel.signal;
  let ownFailure: unknown = null;
  const ran = await mapConcurrent(
    hooks,
    async (hook) => {
      // Vetted again right before exec: a hook swapped or loosened since discovery must not run as root.
      const refusal = await recheckHook(hook);
      if (refusal !== null) return notRunResult(refusedBySecurity(hook.name, refusal));
      try {
        return toServiceResult(
          hook,
          await run(hook.path, {
            timeoutMs: timeoutOf(config, hook.name),
            killGraceMs: config.killGraceMs,
            outputLimitBytes: config.outputLimitBytes,
            env: { ...HOOK_ENV, ...config.hookEnv },
            signal: runSignal,
          }),
        );
      } catch (error) {
        // The runner throws only for what stops us starting a hook at all: we are out of resources.
        ownFailure ??= withKind(error, "resources");
        cancel.abort(ownFailure);
        return null;
      }
    },
    { limit },
  );
  signal?.throwIfAborted();
  if (ownFailure !== null) throw ownFailure;
  const results = ran.filter((service) => service !== null);
  for (const service of results) {
    for (const warning of service.warnings)
      deps.log.warn({ hook: escapeText(service.name) }, `hook "${escapeText(service.name)}" ${warning}`);
  }
  return results;
}

/**
 * Runs every hook and applies the decision. Throws CarpError("system") when the hooks directory,
 * the lock or sysctl fails, or a hook cannot be started for want of resources, its `kind` saying which.
 */
export async function evaluate(config: Config, deps: EvaluationDeps, options: EvaluateOptions = {}): Promise<Evaluation> {
  const startedAt = new Date();
  const started = performance.now();
  const { signal, dryRun = false } = options;
  const isRoot = deps.isRoot ?? process.getuid?.() === 0;

  const searchPath = { ...HOOK_ENV, ...config.hookEnv }.PATH;
  const discovery = await discoverHooks(config.hooksDir, { enforceSecurity: config.scriptSecurity && isRoot, searchPath });
  const warnings = [...discovery.warnings];
  for (const warning of discovery.warnings) deps.log.warn({ hooksDir: config.hooksDir }, warning);
  const entryNames = [...discovery.hooks, ...discovery.notRun].map((entry) => entry.name);
  for (const warning of unmatchedHookWarnings(config, entryNames)) {
    warnings.push(warning);
    sayOnce(deps.log, warning);
  }
  const clock = deps.clock ?? systemClock();
  if (clock.note) sayOnce(deps.log, clock.note);
  // What the hooks see is the world as of now; a decision made by another run since must stand.
  const observedAt = clock.read().monotonicMs;
  // The gateway status is read once, beside the hooks; a failed read ends the run here (gateways.ts).
  const gatewayChecks = readGatewayChecks(config, {
    env: HOOK_ENV,
    enforceSecurity: config.scriptSecurity && isRoot,
    searchPath: HOOK_ENV.PATH,
    signal,
  });
  const ran = await runHooks(config, deps, { hooks: discovery.hooks.filter((hook) => !isDisabled(config, hook.name)), signal });
  const notRun = [
    ...discovery.notRun.map((entry) => (isDisabled(config, entry.name) ? skippedByConfig(entry.name) : entry)),
    ...discovery.hooks.filter((hook) => isDisabled(config, hook.name)).map((hook) => skippedByConfig(hook.name)),
  ];
  const gateways = await gatewayChecks;
  for (const warning of gateways.warnings) deps.log.warn(warning);
  warnings.push(...gateways.warnings);
  const services = [...ran, ...notRun.map(notRunResult), ...gateways.services].sort((a, b) => compareNames(a.name, b.name));

  const lockFile = deps.acquireLock ?? acquireLock;
  const lock = dryRun
    ? null
    : await lockFile(config.lockFile, { timeoutMs: config.lockTimeoutMs, signal }).catch((error: unknown) => {
        throw withKind(error, "lock");
      });
  // Every tool call under the lock is bounded, and so is the phase as a whole: the stock script
  // and every other writer wait on this lock.
  const phaseMs = deps.lockPhaseTimeoutMs ?? LOCK_PHASE_TIMEOUT_MS;
  const phaseDeadline = deadlineSignal(phaseMs, `the lock phase's deadline of ${phaseMs} ms passed`);
  const phase = { signal: phaseDeadline.signal };
  try {
    const now = clock.read();
    const demotionBefore = await deps.sysctl.read(phase);
    const observed = services.filter((s) => s.status !== "skipped").map((s) => ({ name: s.name, raw: s.status as Raw }));
    // The history is read and written under the lock, so concurrent runs count every run once.
    const run = countRun(config, deps.log, {
      observed,
      observedAt,
      now,
      demoted: isDemoted(demotionBefore),
      dryRun,
      fresh: options.freshStart === true,
      memory: options.memory,
      store: deps.historyStore,
    });
    warnings.push(...run.warnings);
    const { flap, stale } = run;
    for (const service of services) {
      const counted = flap.counted.get(service.name);
      if (counted) service.counted = counted;
    }
    const failed = services.filter((s) => s.counted?.state === "fail").map((s) => s.name);

    const decided = decide(demotionBefore, failed, { mayPromote: flap.mayPromote });
    const decision = stale ? ({ action: "none" } as const) : decided;
    if (stale) {
      const warning = "Another evaluation whose checks started later decided while these ran: its result stands, nothing done here";
      warnings.push(warning);
      deps.log.info(warning);
    }
    if (decision.action === "demote" && run.bitSetBefore === true) {
      // We left the bit set and someone took it off (leaving CARP maintenance mode resets the demotion).
      const warning =
        "The 2^20 bit was taken off outside this tool while a check counts as failed (leaving CARP maintenance mode does that); setting it again";
      warnings.push(warning);
      deps.log.warn({ demotion: demotionBefore }, warning);
    }
    let demotionAfter = demotionBefore;
    let action: Evaluation["action"] = "none";
    if (decision.action !== "none" && !dryRun) {
      await deps.sysctl.add(decision.delta, phase);
      // Read back rather than trust the write report: the value is what the kernel advertises.
      demotionAfter = await deps.sysctl.read(phase);
      action = decision.action === "demote" ? "demoted" : "promoted";
      try {
        await deps.syslog.warning(decision.message, phase);
      } catch (error) {
        warnings.push(`The demotion changed but the syslog line was not sent: ${messageOf(error)}`);
        deps.log.error({ err: messageOf(error) }, "syslog line not sent");
      }
      // After the stock line, and saying what it does not: which hooks, and how they failed.
      const change = describeChange(action, { demotionBefore, demotionAfter, services });
      deps.log.warn(change.fields, change.message);
    }
    run.keepBit(isDemoted(demotionAfter));
    // Monotonic times shown as the wall clock reads them now.
    const wallTime = (monotonicMs: number) => new Date(now.wallMs + (monotonicMs - now.monotonicMs)).toISOString();
    const promotionHeld =
      isDemoted(demotionAfter) && failed.length === 0 && flap.hold !== null
        ? {
            passingSince: wallTime(flap.hold.passingSince),
            until: wallTime(flap.hold.until),
            remainingMs: Math.ceil(flap.hold.until - now.monotonicMs),
            started: flap.hold.passingSince === now.monotonicMs && !stale,
          }
        : null;
    // One line when a hold starts, not one per run while it lasts.
    if (promotionHeld?.started && !dryRun) {
      deps.log.info(
        { until: promotionHeld.until },
        `promotion held for ${Math.round(promotionHeld.remainingMs / 1000)} s: every check must keep passing until then (promoteDelayMs)`,
      );
    }
    const promotionWithheld =
      run.lost !== null && isDemoted(demotionAfter) && action === "none" && !stale && observed.every(({ raw }) => raw === "pass")
        ? `The 2^20 bit stays set although every check passes: ${run.lost}, so this run cannot count towards rise and promoteDelayMs; fix the state file, or let the daemon decide (it keeps the history in memory)`
        : null;
    if (run.lost !== null) {
      const lost =
        promotionWithheld ??
        `${run.lost}: the flap history is lost for this run, so every check counts as failing while the 2^20 bit is set (a failing check still demotes at once)`;
      warnings.push(lost);
      deps.log.error({ kind: "state", stateFile: config.stateFile }, lost);
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
      promotionHeld,
      promotionWithheld,
      anomalies,
      warnings,
      hooksDir: config.hooksDir,
      startedAt: startedAt.toISOString(),
      durationMs: Math.round(performance.now() - started),
    };
  } finally {
    phaseDeadline.clear();
    lock?.release();
  }
}
