/**
 * What the daemon knows about its past: the last result per hook (with the time it entered its
 * current state, and its failed runs and result changes), the last demotion seen, the hold-down
 * in progress, and counters since start. Answers `status`.
 */
import {
  type Counters,
  countedStateOf,
  type DaemonStatus,
  type Evaluation,
  type PromotionHold,
  type ServiceResult,
  type ServiceStatus,
} from "../protocol/wire.ts";

/** A hook whose state changed between two evaluations; `from` is null for a hook not seen before. */
export interface Transition {
  name: string;
  from: ServiceResult["status"] | null;
  to: ServiceResult["status"];
}

/** What changed in one evaluation, hook by hook, and the maintenance switch. */
export interface Changes {
  /** Hooks whose counted state (the one that decides) changed, new ones included. */
  counted: Transition[];
  /** Hooks seen before whose raw result went from pass to fail or back: flapping, even below `fall`. */
  results: Transition[];
  /**
   * The maintenance switch as this evaluation found it, when that differs from the one before
   * (the daemon's first evaluation finding it on counts); null when it did not change.
   */
  maintenance: "on" | "off" | null;
}

/** Pure: the change of the maintenance switch between two evaluations (`before` undefined: none before). */
export function maintenanceChange(before: Evaluation | null, after: Evaluation): "on" | "off" | null {
  const was = (before?.maintenance ?? null) !== null;
  const is = (after.maintenance ?? null) !== null;
  if (is === was) return null;
  return is ? "on" : "off";
}

/** The state that decides: the counted one under flap control, else the raw result (skipped). */
export const stateOf = countedStateOf;

/** Pure: the hooks whose state (counted, under flap control) differs from the previous evaluation. */
export function findTransitions(previous: ReadonlyMap<string, ServiceResult["status"]>, services: readonly ServiceResult[]): Transition[] {
  return services
    .filter((s) => previous.get(s.name) !== stateOf(s))
    .map((s) => ({ name: s.name, from: previous.get(s.name) ?? null, to: stateOf(s) }));
}

/** Pure: the hooks seen before whose raw result changed between pass and fail (skipped is no result). */
export function findResultChanges(
  previous: ReadonlyMap<string, ServiceResult["status"]>,
  services: readonly ServiceResult[],
): Transition[] {
  return services.flatMap((s) => {
    const from = previous.get(s.name);
    return from !== undefined && from !== "skipped" && s.status !== "skipped" && from !== s.status
      ? [{ name: s.name, from, to: s.status }]
      : [];
  });
}

/** Every counter, the ones added since 1.0 included. */
export type AllCounters = Required<Counters>;

export class StatusBook {
  readonly counters: AllCounters = {
    evaluations: 0,
    triggers: 0,
    scheduled: 0,
    starts: 0,
    holdEnds: 0,
    failedEvaluations: 0,
    errors: 0,
    demotions: 0,
    promotions: 0,
  };
  #services = new Map<string, ServiceStatus & Required<Pick<ServiceStatus, "failures" | "transitions">>>();
  #last: Evaluation | null = null;
  #lastError: DaemonStatus["lastError"] = null;
  /** Monotonic ms at which the hold-down of the last evaluation ends, or null. */
  #heldUntil: number | null = null;
  /** Monotonic ms at which the last evaluation started (about when its kept results' ages were taken). */
  #recordedAt: number | null = null;
  readonly #now: () => Date;
  readonly #monotonic: () => number;

  /** `monotonic`: a clock that never steps (ms), on which the hold-down's remaining time is kept. */
  constructor(now: () => Date = () => new Date(), monotonic: () => number = () => performance.now()) {
    this.#now = now;
    this.#monotonic = monotonic;
  }

  /** Records an evaluation; returns the hooks that changed. */
  record(evaluation: Evaluation): Changes {
    const previous = new Map([...this.#services].map(([name, s]) => [name, stateOf(s)]));
    const previousRaw = new Map([...this.#services].map(([name, s]) => [name, s.status]));
    const changes: Changes = {
      counted: findTransitions(previous, evaluation.services),
      results: findResultChanges(previousRaw, evaluation.services),
      maintenance: maintenanceChange(this.#last, evaluation),
    };
    const changed = new Set(changes.results.map((t) => t.name));
    const at = this.#now().toISOString();
    this.#services = new Map(
      evaluation.services.map((s) => {
        const before = this.#services.get(s.name);
        const since = before !== undefined && previous.get(s.name) === stateOf(s) ? before.since : at;
        // A kept result (intervalMs) is no run: counted once, when it ran.
        const failures = (before?.failures ?? 0) + (s.status === "fail" && !s.cached ? 1 : 0);
        const transitions = (before?.transitions ?? 0) + (changed.has(s.name) ? 1 : 0);
        // Frozen: replaced at the next evaluation, never changed, so the socket serializes it once.
        return [s.name, Object.freeze({ ...s, since, failures, transitions })];
      }),
    );
    this.#last = evaluation;
    // Kept on the monotonic clock: a status reply says what is left now, whatever the wall clock did.
    this.#heldUntil = evaluation.promotionHeld ? this.#monotonic() + evaluation.promotionHeld.remainingMs : null;
    this.#recordedAt = this.#monotonic() - evaluation.durationMs;
    this.counters.evaluations++;
    if (evaluation.failed.length > 0) this.counters.failedEvaluations++;
    if (evaluation.action === "demoted") this.counters.demotions++;
    if (evaluation.action === "promoted") this.counters.promotions++;
    return changes;
  }

  /** An evaluation that ended in an error. */
  recordError(message: string): void {
    this.counters.evaluations++;
    this.noteError(message);
  }

  /** A system error an evaluation went on past (its `errors`), recorded beside it: not another evaluation. */
  noteError(message: string): void {
    this.counters.errors++;
    this.#lastError = { at: this.#now().toISOString(), message };
  }

  /** The last evaluation's hold-down as of now: what is left of it, and when that is on the wall clock now. */
  promotionHeld(): PromotionHold | null {
    const held = this.#last?.promotionHeld;
    if (!held || this.#heldUntil === null) return null;
    const remainingMs = Math.max(0, Math.ceil(this.#heldUntil - this.#monotonic()));
    return { passingSince: held.passingSince, until: new Date(this.#now().getTime() + remainingMs).toISOString(), remainingMs };
  }

  /** The status reply, completed with what the daemon knows of its own state. */
  snapshot(
    daemon: Pick<DaemonStatus, "version" | "pid" | "startedAt" | "configFile" | "hooksDir" | "socket" | "schedule" | "running" | "nextRun">,
  ): DaemonStatus {
    const last = this.#last;
    return {
      ...daemon,
      uptimeMs: this.#now().getTime() - Date.parse(daemon.startedAt),
      lastRun: last && { startedAt: last.startedAt, durationMs: last.durationMs, action: last.action, failed: last.failed },
      lastError: this.#lastError,
      demotion: last?.demotionAfter ?? null,
      demoted: last?.demoted ?? null,
      promotionHeld: this.promotionHeld(),
      maintenance: last?.maintenance ?? null,
      anomalies: last?.anomalies ?? [],
      warnings: last?.warnings ?? [],
      counters: { ...this.counters },
      services: [...this.#services.values()].map((s) => this.#aged(s)),
    };
  }

  /** A kept result's age as of now, on the monotonic clock (ranAt stays as the daemon's wall clock read it). */
  #aged(service: ServiceStatus): ServiceStatus {
    const recordedAt = this.#recordedAt;
    if (!service.cached || service.ageMs === undefined || recordedAt === null) return service;
    // Only kept results change between evaluations, and few checks have an interval: the others stay shared.
    return Object.freeze({ ...service, ageMs: service.ageMs + Math.max(0, Math.round(this.#monotonic() - recordedAt)) });
  }
}
