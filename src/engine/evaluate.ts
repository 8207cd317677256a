/**
 * One evaluation: discover and run the hooks (or take a check's kept result while its `intervalMs`
 * has not passed, result-cache.ts), then, holding the lock, read the demotion and the maintenance
 * switch, decide, write, verify and log. Effects enter through `EvaluationDeps`; the decision is
 * decide.ts.
 */
import type { Logger } from "pino";
import { deadlineSignal } from "../common/deadline.ts";
import { messageOf, withKind } from "../common/errors.ts";
import { escapeText } from "../common/escape.ts";
import type { Config } from "../config/config.ts";
import type { Account } from "../config/users.ts";
import type { Evaluation, Maintenance, ServiceResult } from "../protocol/wire.ts";
import { type Clock, type ClockReading, systemClock } from "../system/clock.ts";
import { openFilesLimit } from "../system/limits.ts";
import { acquireLock } from "../system/lock-file.ts";
import type { DemotionSysctl } from "../system/sysctl.ts";
import type { Syslog } from "../system/syslog.ts";
import { describeChange } from "./change-line.ts";
import { decide, findAnomalies, isDemoted } from "./decide.ts";
import { compareNames, discoverHooks, type Hook, notRunResult, recheckHook, refusedBySecurity } from "./discover.ts";
import type { Observation, Raw } from "./flap.ts";
import { countRun, type HistoryMemory, type HistoryStore, keptResults } from "./flap-history.ts";
import { readGatewayChecks } from "./gateways.ts";
import { type HookRun, runHook } from "./hook-runner.ts";
import { intervalOf, isDisabled, resolveRunners, skippedByConfig, timeoutOf, unmatchedHookWarnings } from "./hook-settings.ts";
import { type MaintenanceRead, readMaintenance } from "./maintenance.ts";
import { capConcurrency, mapConcurrent } from "./pool.ts";
import { configHash, fingerprintOf, type KeptResult, keepResult, keptResultFor, keptService } from "./result-cache.ts";
import type { Runner } from "./script-security.ts";

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
  /** Looks a check's `user` up (default: /etc/passwd and /etc/group, at every evaluation). */
  findAccount?: (name: string) => Account | null;
  /** Reads the maintenance switch (default: the config's maintenanceFile). */
  readMaintenance?: (file: string) => MaintenanceRead;
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
  /** Runs every check, also those whose `intervalMs` has not passed since their last run (`--all`). */
  all?: boolean;
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
interface HookPlan {
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
interface HooksOutcome {
  results: ServiceResult[];
  kept: Set<string>;
  runs: Record<string, KeptResult>;
}

/** A monotonic time of `reading`'s clock as its wall clock read then. */
function wallTimeOf(reading: ClockReading): (monotonicMs: number) => string {
  return (monotonicMs) => new Date(reading.wallMs + (monotonicMs - reading.monotonicMs)).toISOString();
}

/**
 * Runs the discovered hooks (at most `limit` at once), each as its user, except those whose kept
 * result still counts; a hook we could not start stops them all.
 */
async function runHooks(
  config: Config,
  deps: EvaluationDeps,
  { hooks, signal, plan }: { hooks: Hook[]; signal: AbortSignal | undefined; plan: HookPlan },
): Promise<HooksOutcome> {
  const run = deps.runHook ?? runHook;
  const { limit, note } = capConcurrency(config.concurrency, deps.openFilesLimit === undefined ? openFilesLimit() : deps.openFilesLimit);
  if (note !== null) sayOnce(deps.log, note);
  // Our own failure to start a hook (out of descriptors or processes) stops the whole run: it is a
  // system error, and the hooks still running are killed rather than left to be counted.
  const cancel = new AbortController();
  const runSignal = signal ? AbortSignal.any([signal, cancel.signal]) : cancel.signal;
  let ownFailure: unknown = null;
  const kept = new Set<string>();
  const runs: Record<string, KeptResult> = Object.create(null);
  const { start } = plan;
  const wallTime = wallTimeOf(start);
  const ran = await mapConcurrent(
    hooks,
    async (hook) => {
      const intervalMs = intervalOf(config, hook.name);
      // Taken before the run: a file changed while it runs is another file next time.
      const fingerprint = intervalMs === null ? null : await fingerprintOf(hook.path, plan.config);
      if (intervalMs !== null) {
        const previous = Object.hasOwn(plan.kept, hook.name) ? plan.kept[hook.name] : undefined;
        const still = plan.all ? null : keptResultFor(previous, { fingerprint, intervalMs, now: start.monotonicMs });
        if (still !== null) {
          kept.add(hook.name);
          runs[hook.name] = still;
          return keptService(hook.name, still, { now: start.monotonicMs, wallTime });
        }
      }
      // Vetted again right before exec: a hook swapped or loosened since discovery must not run as root.
      const refusal = await recheckHook(hook);
      if (refusal !== null) return notRunResult(refusedBySecurity(hook.name, refusal));
      const account = plan.runners.get(hook.name);
      try {
        const service = toServiceResult(
          hook,
          await run(hook.path, {
            timeoutMs: timeoutOf(config, hook.name),
            killGraceMs: config.killGraceMs,
            outputLimitBytes: config.outputLimitBytes,
            // The user's HOME over ours; hookEnv over both, as it is over PATH.
            env: { ...HOOK_ENV, ...(account ? { HOME: account.home } : {}), ...config.hookEnv },
            signal: runSignal,
            runAs: account ?? null,
          }),
        );
        if (intervalMs !== null) {
          service.ranAt = wallTime(start.monotonicMs);
          if (fingerprint !== null) runs[hook.name] = keepResult(service, { ranAt: start.monotonicMs, fingerprint });
        }
        return service;
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
    // A kept result's warnings were logged when it ran.
    if (kept.has(service.name)) continue;
    for (const warning of service.warnings)
      deps.log.warn({ hook: escapeText(service.name) }, `hook "${escapeText(service.name)}" ${warning}`);
  }
  return { results, kept, runs };
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
  // Only the hooks named in the config can have a user; looked up before discovery, which vets for them.
  const { runners, problems } = resolveRunners(config, { lookUp: deps.findAccount, isRoot });
  const runnerOf = (name: string): Runner | string | null => problems.get(name) ?? runners.get(name) ?? null;
  const discovery = await discoverHooks(config.hooksDir, { enforceSecurity: config.scriptSecurity && isRoot, searchPath, runnerOf });
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
  const start = clock.read();
  const observedAt = start.monotonicMs;
  // The gateway status is read once, beside the hooks; a failed read ends the run here (gateways.ts).
  const gatewayChecks = readGatewayChecks(config, {
    env: HOOK_ENV,
    enforceSecurity: config.scriptSecurity && isRoot,
    searchPath: HOOK_ENV.PATH,
    signal,
  });
  const runnable = discovery.hooks.filter((hook) => !isDisabled(config, hook.name));
  const anyInterval = runnable.some((hook) => intervalOf(config, hook.name) !== null);
  const plan: HookPlan = {
    runners,
    // Read without the lock, before the hooks run: which checks are due is decided now.
    kept: anyInterval && !options.all ? keptResults(config, { now: start, memory: options.memory, store: deps.historyStore }) : {},
    config: anyInterval ? configHash(config) : "",
    all: options.all === true,
    start,
  };
  const outcome = await runHooks(config, deps, { hooks: runnable, signal, plan });
  const ran = outcome.results;
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
    // Read under the lock, as it is written: the switch as it is now decides.
    const switchRead = (deps.readMaintenance ?? readMaintenance)(config.maintenanceFile);
    const maintenance: Maintenance | null = switchRead.status === "on" ? switchRead.maintenance : null;
    const observed: Observation[] = services
      .filter((s) => s.status !== "skipped")
      .map((s) => ({ name: s.name, raw: s.status as Raw, ...(outcome.kept.has(s.name) ? { kept: true } : {}) }));
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
      runs: anyInterval ? outcome.runs : undefined,
      // On, or cannot be told: either way no hold-down runs and nothing is promoted.
      holdDemoted: switchRead.status !== "off",
    });
    warnings.push(...run.warnings);
    const { flap, stale } = run;
    for (const service of services) {
      const counted = flap.counted.get(service.name);
      if (counted) service.counted = counted;
    }
    const failed = services.filter((s) => s.counted?.state === "fail").map((s) => s.name);

    const decided = decide(demotionBefore, failed, { mayPromote: flap.mayPromote, maintenance });
    const decision = stale ? ({ action: "none" } as const) : decided;
    if (stale) {
      const warning = "Another evaluation whose checks started later decided while these ran: its result stands, nothing done here";
      warnings.push(warning);
      deps.log.info(warning);
    }
    if (decision.action === "demote" && run.bitSetBefore === true) {
      // We left the bit set and someone took it off (leaving CARP maintenance mode resets the demotion).
      const why = failed.length > 0 ? "a check counts as failed" : "carp-service-status maintenance is on";
      const warning = `The 2^20 bit was taken off outside this tool while ${why} (leaving CARP maintenance mode does that); setting it again`;
      warnings.push(warning);
      deps.log.warn({ demotion: demotionBefore }, warning);
    }
    if (switchRead.status === "unknown") {
      const warning = `${switchRead.problem}: whether maintenance is on cannot be told, so the 2^20 bit is left as it is (never taken off for it, never set for it); fix: carp-service-status maintenance off, or on again`;
      warnings.push(warning);
      deps.log.error({ kind: "state", maintenanceFile: config.maintenanceFile }, warning);
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
      const change = describeChange(action, { demotionBefore, demotionAfter, services, maintenance });
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
    const everyCheckPasses = isDemoted(demotionAfter) && action === "none" && !stale && observed.every(({ raw }) => raw === "pass");
    const promotionWithheld =
      run.lost !== null && everyCheckPasses
        ? `The 2^20 bit stays set although every check passes: ${run.lost}, so this run cannot count towards rise and promoteDelayMs; fix the state file, or let the daemon decide (it keeps the history in memory)`
        : switchRead.status === "unknown" && everyCheckPasses && failed.length === 0
          ? `The 2^20 bit stays set although every check passes: ${switchRead.problem}, so whether maintenance is on cannot be told`
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
      maintenance,
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
