/**
 * The locked phase of an evaluation: holding the lock (which the stock script and every other
 * writer wait on), read the demotion and the maintenance switch, count the run into the flap
 * history, decide (decide.ts), write, read back and send the syslog line. Every tool call is
 * bounded, and so is the phase as a whole.
 */
import { deadlineSignal } from "../common/deadline.ts";
import { messageOf, withKind } from "../common/errors.ts";
import type { Config } from "../config/config.ts";
import type { Evaluation, Maintenance, ServiceResult } from "../protocol/wire.ts";
import type { Clock, ClockReading } from "../system/clock.ts";
import { acquireLock } from "../system/lock-file.ts";
import type { DemotionSysctl } from "../system/sysctl.ts";
import type { Syslog } from "../system/syslog.ts";
import { describeChange } from "./change-line.ts";
import { type Decision, decide, isDemoted } from "./decide.ts";
import type { EvaluationNotes } from "./evaluation-notes.ts";
import type { Observation, Raw } from "./flap.ts";
import { countRun, type HistoryMemory, type HistoryStore, type RunCount } from "./flap-history.ts";
import { type MaintenanceRead, readMaintenance } from "./maintenance.ts";
import type { KeptResult } from "./result-cache.ts";
import type { HookRunDeps } from "./run-hooks.ts";

/** Read, write, read back and the syslog line: each tool call takes milliseconds and is bounded by itself too. */
export const LOCK_PHASE_TIMEOUT_MS = 15_000;

/** What the locked phase takes from the evaluation's effects. */
export interface LockedDeps extends HookRunDeps {
  sysctl: DemotionSysctl;
  syslog: Syslog;
  /** Serialises read-decide-write with every other writer (default: flock on `lockFile`). */
  acquireLock?: typeof acquireLock;
  /** How long the lock may be held, from the read to the syslog line (default LOCK_PHASE_TIMEOUT_MS). */
  lockPhaseTimeoutMs?: number;
  /** Where the flap history is kept (default: the config's stateFile). */
  historyStore?: HistoryStore;
  /** Reads the maintenance switch (default: the config's maintenanceFile). */
  readMaintenance?: (file: string) => MaintenanceRead;
}

/** What the run phase found, as the locked phase counts it. */
export interface Checked {
  /** Every entry, in name order. */
  services: ServiceResult[];
  /** The checks whose result was kept for `intervalMs` rather than run now. */
  kept: ReadonlySet<string>;
  /** The results to keep for `intervalMs` from now; undefined when no check has an interval. */
  runs: Record<string, KeptResult> | undefined;
  /** The checks not observed at all (the gateway status could not be read): each keeps its counted state. */
  unobserved: readonly string[];
  /** Monotonic ms at which the checks started. */
  observedAt: number;
}

export interface LockedOptions {
  clock: Clock;
  notes: EvaluationNotes;
  dryRun: boolean;
  fresh: boolean;
  memory?: HistoryMemory;
  signal?: AbortSignal;
}

/** What the locked phase read, counted, decided and did. */
export interface Decided {
  now: ClockReading;
  demotionBefore: number;
  demotionAfter: number;
  decision: Decision;
  action: Evaluation["action"];
  /** Checks that count as failed, in name order. */
  failed: string[];
  observed: Observation[];
  switchRead: MaintenanceRead;
  maintenance: Maintenance | null;
  run: RunCount;
}

/** The lock, or null for a dry run (which writes nothing); a lock that cannot be taken is of kind "lock". */
async function takeLock(config: Config, deps: LockedDeps, { dryRun, signal }: LockedOptions) {
  if (dryRun) return null;
  return await (deps.acquireLock ?? acquireLock)(config.lockFile, { timeoutMs: config.lockTimeoutMs, signal }).catch((error: unknown) => {
    throw withKind(error, "lock");
  });
}

/** Holding the lock: read, count, decide, write, read back, log. Releases the lock whatever happens. */
export async function decideUnderLock(config: Config, deps: LockedDeps, checked: Checked, options: LockedOptions): Promise<Decided> {
  const lock = await takeLock(config, deps, options);
  const phaseMs = deps.lockPhaseTimeoutMs ?? LOCK_PHASE_TIMEOUT_MS;
  const phaseDeadline = deadlineSignal(phaseMs, `the lock phase's deadline of ${phaseMs} ms passed`);
  try {
    const decided = await readAndDecide(config, deps, checked, options, phaseDeadline.signal);
    await write(decided, { deps, services: checked.services, notes: options.notes, dryRun: options.dryRun, signal: phaseDeadline.signal });
    decided.run.keepBit(isDemoted(decided.demotionAfter));
    return decided;
  } finally {
    phaseDeadline.clear();
    lock?.release();
  }
}

/** Reads the demotion and the switch, counts the run and decides; says what the decision meets. */
async function readAndDecide(
  config: Config,
  deps: LockedDeps,
  checked: Checked,
  options: LockedOptions,
  signal: AbortSignal,
): Promise<Decided> {
  const { notes } = options;
  const now = options.clock.read();
  const demotionBefore = await deps.sysctl.read({ signal });
  // Read under the lock, as it is written: the switch as it is now decides.
  const switchRead = (deps.readMaintenance ?? readMaintenance)(config.maintenanceFile);
  const maintenance: Maintenance | null = switchRead.status === "on" ? switchRead.maintenance : null;
  const observed: Observation[] = checked.services
    .filter((s) => s.status !== "skipped")
    .map((s) => ({ name: s.name, raw: s.status as Raw, ...(checked.kept.has(s.name) ? { kept: true } : {}) }));
  // The history is read and written under the lock, so concurrent runs count every run once.
  const run = countRun(config, deps.log, {
    observed,
    observedAt: checked.observedAt,
    now,
    demoted: isDemoted(demotionBefore),
    dryRun: options.dryRun,
    fresh: options.fresh,
    memory: options.memory,
    store: deps.historyStore,
    runs: checked.runs,
    unobserved: checked.unobserved,
    // On, or cannot be told, or a check not observed: either way no hold-down runs and nothing is promoted.
    holdDemoted: switchRead.status !== "off" || checked.unobserved.length > 0,
  });
  for (const warning of run.warnings) notes.warn(warning, { logged: true });
  for (const service of checked.services) {
    const counted = run.flap.counted.get(service.name);
    if (counted) service.counted = counted;
  }
  const failed = checked.services.filter((s) => s.counted?.state === "fail").map((s) => s.name);
  const decided = decide(demotionBefore, failed, { mayPromote: run.flap.mayPromote, maintenance });
  const decision: Decision = run.stale ? { action: "none" } : decided;
  sayWhatTheDecisionMeets({ run, decision, failed, demotionBefore, switchRead }, config, notes);
  return { now, demotionBefore, demotionAfter: demotionBefore, decision, action: "none", failed, observed, switchRead, maintenance, run };
}

/** The warnings about what this decision meets: a newer run's, an outside reset, a switch that cannot be told. */
function sayWhatTheDecisionMeets(
  { run, decision, failed, demotionBefore, switchRead }: Pick<Decided, "run" | "decision" | "failed" | "demotionBefore" | "switchRead">,
  config: Config,
  notes: EvaluationNotes,
): void {
  if (run.stale) {
    notes.warn("Another evaluation whose checks started later decided while these ran: its result stands, nothing done here", {
      level: "info",
    });
  }
  if (decision.action === "demote" && run.bitSetBefore === true) {
    // We left the bit set and someone took it off (leaving CARP maintenance mode resets the demotion).
    const why = failed.length > 0 ? "a check counts as failed" : "carp-service-status maintenance is on";
    notes.warn(`The 2^20 bit was taken off outside this tool while ${why} (leaving CARP maintenance mode does that); setting it again`, {
      fields: { demotion: demotionBefore },
    });
  }
  if (switchRead.status === "unknown") {
    notes.warn(
      `${switchRead.problem}: whether maintenance is on cannot be told, so the 2^20 bit is left as it is (never taken off for it, never set for it); fix: carp-service-status maintenance off, or on again`,
      { level: "error", fields: { kind: "state", maintenanceFile: config.maintenanceFile } },
    );
  }
}

/** Writes the decision (not in a dry run), reads the value back and sends the stock syslog line, then ours. */
async function write(
  decided: Decided,
  {
    deps,
    services,
    notes,
    dryRun,
    signal,
  }: { deps: LockedDeps; services: ServiceResult[]; notes: EvaluationNotes; dryRun: boolean; signal: AbortSignal },
): Promise<void> {
  const { decision, demotionBefore, maintenance } = decided;
  if (decision.action === "none" || dryRun) return;
  await deps.sysctl.add(decision.delta, { signal });
  // Read back rather than trust the write report: the value is what the kernel advertises.
  decided.demotionAfter = await deps.sysctl.read({ signal });
  decided.action = decision.action === "demote" ? "demoted" : "promoted";
  try {
    await deps.syslog.warning(decision.message, { signal });
  } catch (error) {
    notes.warn(`The demotion changed but the syslog line was not sent: ${messageOf(error)}`, {
      level: "error",
      fields: { err: messageOf(error) },
    });
  }
  // After the stock line, and saying what it does not: which hooks, and how they failed.
  const change = describeChange(decided.action, { demotionBefore, demotionAfter: decided.demotionAfter, services, maintenance });
  deps.log.warn(change.fields, change.message);
}
