/**
 * What the daemon knows about its past: the last result per hook (with the time it entered its
 * current state), the last demotion seen, and counters since start. Answers `status`.
 */
import type { Counters, DaemonStatus, Evaluation, ServiceResult, ServiceStatus } from "../protocol/wire.ts";

/** A hook whose state changed between two evaluations; `from` is null for a hook not seen before. */
export interface Transition {
  name: string;
  from: ServiceResult["status"] | null;
  to: ServiceResult["status"];
}

/** The state that decides: the counted one under flap control, else the raw result (skipped). */
export function stateOf(service: ServiceResult): ServiceResult["status"] {
  return service.counted?.state ?? service.status;
}

/** Pure: the hooks whose state (counted, under flap control) differs from the previous evaluation. */
export function findTransitions(previous: ReadonlyMap<string, ServiceResult["status"]>, services: readonly ServiceResult[]): Transition[] {
  return services
    .filter((s) => previous.get(s.name) !== stateOf(s))
    .map((s) => ({ name: s.name, from: previous.get(s.name) ?? null, to: stateOf(s) }));
}

export class StatusBook {
  readonly counters: Counters = { evaluations: 0, triggers: 0, scheduled: 0, failedEvaluations: 0, errors: 0, demotions: 0, promotions: 0 };
  #services = new Map<string, ServiceStatus>();
  #last: Evaluation | null = null;
  #lastError: DaemonStatus["lastError"] = null;
  readonly #now: () => Date;

  constructor(now: () => Date = () => new Date()) {
    this.#now = now;
  }

  /** Records an evaluation; returns the hooks that changed state. */
  record(evaluation: Evaluation): Transition[] {
    const previous = new Map([...this.#services].map(([name, s]) => [name, stateOf(s)]));
    const transitions = findTransitions(previous, evaluation.services);
    const at = this.#now().toISOString();
    this.#services = new Map(
      evaluation.services.map((s) => {
        const since = previous.get(s.name) === stateOf(s) ? this.#services.get(s.name)!.since : at;
        // Frozen: replaced at the next evaluation, never changed, so the socket serializes it once.
        return [s.name, Object.freeze({ ...s, since })];
      }),
    );
    this.#last = evaluation;
    this.counters.evaluations++;
    if (evaluation.failed.length > 0) this.counters.failedEvaluations++;
    if (evaluation.action === "demoted") this.counters.demotions++;
    if (evaluation.action === "promoted") this.counters.promotions++;
    return transitions;
  }

  recordError(message: string): void {
    this.counters.evaluations++;
    this.counters.errors++;
    this.#lastError = { at: this.#now().toISOString(), message };
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
      promotionHeld: last?.promotionHeld ?? null,
      anomalies: last?.anomalies ?? [],
      warnings: last?.warnings ?? [],
      counters: { ...this.counters },
      services: [...this.#services.values()],
    };
  }
}
