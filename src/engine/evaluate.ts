/**
 * One evaluation, in four phases, each its own module:
 *
 * | phase                      | module               | what it does                                                  |
 * | discover                   | discover-checks.ts   | the hooks directory, the users hooks run as, what is not run  |
 * | run                        | run-checks.ts        | the hooks (or their kept results) and the gateway status      |
 * | locked read-decide-write   | locked-decision.ts   | under the lock: read, count, decide (decide.ts), write, log   |
 * | report                     | evaluation-report.ts | the hold-down, a withheld promotion, anomalies: the Evaluation |
 *
 * Effects enter through `EvaluationDeps`; every warning and system error goes through one sink
 * (evaluation-notes.ts), which keeps it for the Evaluation and logs it.
 */
import type { Config } from "../config/config.ts";
import type { Account } from "../config/users.ts";
import type { Evaluation } from "../protocol/wire.ts";
import { type Clock, systemClock } from "../system/clock.ts";
import { discoverChecks } from "./discover-checks.ts";
import { evaluationNotes } from "./evaluation-notes.ts";
import { reportEvaluation } from "./evaluation-report.ts";
import type { HistoryMemory } from "./flap-history.ts";
import { decideUnderLock, type LockedDeps } from "./locked-decision.ts";
import { runChecks } from "./run-checks.ts";

export interface EvaluationDeps extends LockedDeps {
  /** Whether script security applies (it does when running as root). */
  isRoot?: boolean;
  /** The clocks of flap control (default: CLOCK_MONOTONIC with the boot id, system/clock.ts). */
  clock?: Clock;
  /** Looks a check's `user` up (default: /etc/passwd and /etc/group, at every evaluation). */
  findAccount?: (name: string) => Account | null;
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

/**
 * Runs every check and applies the decision. Throws CarpError("system") when the hooks directory,
 * the lock or sysctl fails, or a hook cannot be started for want of resources, its `kind` saying
 * which. A gateway status that cannot be read does not throw: it is in the Evaluation's `errors`.
 */
export async function evaluate(config: Config, deps: EvaluationDeps, options: EvaluateOptions = {}): Promise<Evaluation> {
  const startedAt = new Date();
  const started = performance.now();
  const { signal, dryRun = false } = options;
  const isRoot = deps.isRoot ?? process.getuid?.() === 0;
  const notes = evaluationNotes(deps.log);
  const clock = deps.clock ?? systemClock();

  const discovered = await discoverChecks(config, { notes, isRoot, findAccount: deps.findAccount, fs: deps.fs });
  const checked = await runChecks(config, deps, discovered, {
    clock,
    notes,
    isRoot,
    signal,
    all: options.all === true,
    memory: options.memory,
    historyStore: deps.historyStore,
  });
  const decided = await decideUnderLock(config, deps, checked, {
    clock,
    notes,
    dryRun,
    fresh: options.freshStart === true,
    memory: options.memory,
    signal,
  });
  return reportEvaluation({ config, checked, decided, notes, dryRun, startedAt, started });
}
