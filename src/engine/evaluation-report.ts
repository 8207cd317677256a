/**
 * The report phase of an evaluation: what the locked phase decided, said as the Evaluation: a
 * promotion held by the hold-down, a promotion withheld for what this run could not know, the
 * anomalies of the value left behind.
 */
import type { Config } from "../config/config.ts";
import type { Evaluation, PromotionHold, WithheldReason } from "../protocol/wire.ts";
import { findAnomalies, isDemoted } from "./decide.ts";
import type { EvaluationNotes } from "./evaluation-notes.ts";
import type { Checked, Decided } from "./locked-decision.ts";

/** Why a promotion is withheld although every check it saw passes: each of what this run could not know. */
export interface Unknowns {
  /** Why the flap history is lost for this run (a local evaluation only), or null. */
  lostHistory: string | null;
  /** Why the maintenance switch cannot be told, or null. */
  maintenanceProblem: string | null;
  /** The gateway checks not judged because the gateway status could not be read. */
  unreadGateways: readonly string[];
}

/** What the evaluation knows when it withholds a promotion. */
export interface WithholdFacts {
  /** The bit stays set: nothing was done, and no newer run decided instead. */
  stillDemoted: boolean;
  /** Every check observed in this run passed. */
  everyObservedPasses: boolean;
  /** Checks that count as failed. */
  failed: readonly string[];
}

const WITHHELD = "The 2^20 bit stays set although every check passes";

/**
 * Pure: why the bit stays set although every check it could observe passes, or null. The first
 * reason that applies: a lost history (every check counts as failing then, so `failed` is not
 * asked), a switch that cannot be told, gateways that could not be judged. Never promote on an
 * incomplete picture: each is a system error (`check` exits 3).
 */
export function withheldPromotion(unknowns: Unknowns, facts: WithholdFacts): { by: WithheldReason; message: string } | null {
  const { stillDemoted, everyObservedPasses, failed } = facts;
  if (!stillDemoted || !everyObservedPasses) return null;
  if (unknowns.lostHistory !== null) {
    const message = `${WITHHELD}: ${unknowns.lostHistory}, so this run cannot count towards rise and promoteDelayMs; fix the state file, or let the daemon decide (it keeps the history in memory)`;
    return { by: "history", message };
  }
  if (failed.length > 0) return null;
  if (unknowns.maintenanceProblem !== null) {
    return { by: "maintenance", message: `${WITHHELD}: ${unknowns.maintenanceProblem}, so whether maintenance is on cannot be told` };
  }
  if (unknowns.unreadGateways.length > 0) {
    const message = `${WITHHELD} that could be judged: the gateway status could not be read, so ${unknowns.unreadGateways.join(", ")} could not be judged and nothing is promoted on an incomplete picture`;
    return { by: "gateways", message };
  }
  return null;
}

/**
 * Whole ms from `now` to `until` (monotonic ms), rounded up so a timer set to it never fires early;
 * the sum's floating-point noise (300000.00000000093 for a hold-down that starts now) is not a ms.
 */
export function msUntil(until: number, now: number): number {
  return Math.ceil(Math.round((until - now) * 1000) / 1000);
}

/** The hold-down as the Evaluation shows it: monotonic times as the wall clock reads them now. */
function holdOf(decided: Decided): PromotionHold | null {
  const { now, run, failed, demotionAfter } = decided;
  const hold = run.flap.hold;
  if (!isDemoted(demotionAfter) || failed.length > 0 || hold === null) return null;
  const wallTime = (monotonicMs: number) => new Date(now.wallMs + (monotonicMs - now.monotonicMs)).toISOString();
  return {
    passingSince: wallTime(hold.passingSince),
    until: wallTime(hold.until),
    remainingMs: msUntil(hold.until, now.monotonicMs),
    started: hold.passingSince === now.monotonicMs && !run.stale,
  };
}

/** The anomalies of the value left behind: stacked or negative, or not as written. */
function anomaliesOf({ action, demotionAfter }: Decided): string[] {
  const anomalies = findAnomalies(demotionAfter);
  if (action !== "none" && isDemoted(demotionAfter) !== (action === "demoted")) {
    anomalies.push(
      `After ${action === "demoted" ? "adding" : "taking off"} 2^20 the demotion is ${demotionAfter}: the bit is not as written`,
    );
  }
  return anomalies;
}

export interface ReportInput {
  config: Config;
  checked: Checked;
  decided: Decided;
  notes: EvaluationNotes;
  dryRun: boolean;
  /** When the evaluation started (wall clock) and its performance.now(). */
  startedAt: Date;
  started: number;
}

/** Says the hold-down, the withheld promotion and the anomalies, and builds the Evaluation. */
export function reportEvaluation({ config, checked, decided, notes, dryRun, startedAt, started }: ReportInput): Evaluation {
  const { run, action, demotionAfter, decision, failed, switchRead } = decided;
  const log = notes.log;
  const promotionHeld = holdOf(decided);
  // One line when a hold starts, not one per run while it lasts.
  if (promotionHeld?.started && !dryRun) {
    log.info(
      { until: promotionHeld.until },
      `promotion held for ${Math.round(promotionHeld.remainingMs / 1000)} s: every check must keep passing until then (promoteDelayMs)`,
    );
  }
  const withheld = withheldPromotion(
    {
      lostHistory: run.lost,
      maintenanceProblem: switchRead.status === "unknown" ? switchRead.problem : null,
      unreadGateways: checked.unobserved,
    },
    {
      stillDemoted: isDemoted(demotionAfter) && action === "none" && !run.stale,
      everyObservedPasses: decided.observed.every(({ raw }) => raw === "pass"),
      failed,
    },
  );
  const promotionWithheld = withheld?.message ?? null;
  if (run.lost !== null) {
    const lost =
      promotionWithheld ??
      `${run.lost}: the flap history is lost for this run, so every check counts as failing while the 2^20 bit is set (a failing check still demotes at once)`;
    notes.warn(lost, { level: "error", fields: { kind: "state", stateFile: config.stateFile } });
  }
  const anomalies = anomaliesOf(decided);
  for (const anomaly of anomalies) log.error({ demotion: demotionAfter }, anomaly);
  return {
    action,
    decision: decision.action,
    dryRun,
    failed,
    demotionBefore: decided.demotionBefore,
    demotionAfter,
    demoted: isDemoted(demotionAfter),
    message: decision.action === "none" ? null : decision.message,
    services: checked.services,
    promotionHeld,
    promotionWithheld,
    ...(withheld !== null ? { promotionWithheldBy: withheld.by } : {}),
    maintenance: decided.maintenance,
    anomalies,
    warnings: notes.warnings,
    ...(notes.errors.length > 0 ? { errors: notes.errors } : {}),
    hooksDir: config.hooksDir,
    startedAt: startedAt.toISOString(),
    durationMs: Math.round(performance.now() - started),
  };
}
