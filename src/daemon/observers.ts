/**
 * What the daemon tells the world after each evaluation, apart from its log: the metrics (the
 * `metricsFile` and `GET /metrics`) and the notify scripts. Nothing here can fail or delay an
 * evaluation: the file is written and the scripts run in the background, their failures logged.
 */
import { kindOf, messageOf } from "../common/errors.ts";
import type { Config } from "../config/config.ts";
import { PREEMPT_OID } from "../config/defaults.ts";
import type { DaemonStatus, Evaluation, EvaluationError } from "../protocol/wire.ts";
import type { Logger } from "../system/log.ts";
import { type EvaluationErrorKind, errorKindLabel, evaluationErrorKind, zeroErrorCounts } from "./error-kind.ts";
import { renderMetrics } from "./metrics.ts";
import { MetricsFile, type WriteFile } from "./metrics-file.ts";
import { type NotifyEvent, notifyEventsOf } from "./notify-events.ts";
import { NotifyQueue, type NotifyQueueDeps } from "./notify-queue.ts";
import type { Transition } from "./status-book.ts";

/** net.inet.carp.preempt is read again after an evaluation at most this often: it changes when HA settings are applied. */
export const PREEMPT_REFRESH_MS = 60_000;

/** The effects observers use; every one but the daemon's own has a real default. */
export interface ObserverDeps {
  log: Logger;
  /** The running configuration (it changes on reload). */
  config(): Config;
  /** The daemon's status, which the metrics are made from. */
  status(): DaemonStatus;
  /** The wall clock: when a configuration was loaded. */
  now(): Date;
  /** A clock that never steps, in ms (default performance.now): when preempt was last read. */
  monotonicMs?(): number;
  /** Reads net.inet.carp.preempt; without it the metrics have no preempt series. */
  readPreempt?(config: Config): Promise<string>;
  /** How the metrics file is written (default: atomically, system/atomic-file.ts). */
  writeFile?: WriteFile;
  /** Replaces parts of how notify scripts are run (tests). */
  notify?: Pick<NotifyQueueDeps, "isRoot" | "runScript">;
}

/** The last configuration load: whether it worked, and when one last did (the start counts). */
interface ReloadState {
  successful: boolean;
  lastSuccessAt: Date;
}

export class Observers {
  readonly #deps: ObserverDeps;
  readonly #errors: Record<EvaluationErrorKind, number> = zeroErrorCounts();
  readonly #file: MetricsFile;
  readonly #notify: NotifyQueue;
  readonly #reload: ReloadState;
  #preempt: { value: number | null; readAt: number | null; reading: boolean; failure: string | null } = {
    value: null,
    readAt: null,
    reading: false,
    failure: null,
  };

  constructor(deps: ObserverDeps) {
    this.#deps = deps;
    this.#file = new MetricsFile(deps.log, deps.writeFile);
    this.#notify = new NotifyQueue({ log: deps.log, config: deps.config, ...deps.notify });
    this.#reload = { successful: true, lastSuccessAt: deps.now() };
  }

  /**
   * After an evaluation was recorded: notify its changes (hooks whose counted state changed, the
   * maintenance switch, the bit, a hold-down started or cancelled: `heldBefore` says whether one
   * lasted before it), write the metrics. Returns at once.
   */
  evaluated(
    evaluation: Evaluation,
    {
      transitions,
      heldBefore,
      maintenance = null,
    }: { transitions: readonly Transition[]; heldBefore: boolean; maintenance?: "on" | "off" | null },
  ): void {
    this.#guard(() => {
      this.notify(notifyEventsOf(evaluation, transitions, { heldBefore, maintenance }));
      this.#writeMetrics();
      this.#refreshPreempt();
    });
  }

  /** After an evaluation ended in an error (not a shutdown): count it by its kind, write the metrics. */
  failed(error: unknown): void {
    this.#guard(() => {
      this.#errors[evaluationErrorKind(error)]++;
      this.#writeMetrics();
    });
  }

  /** Counts the system errors an evaluation went on past (its `errors`) by their kinds; `evaluated` writes the metrics. */
  carriedOn(errors: readonly EvaluationError[]): void {
    this.#guard(() => {
      for (const { kind } of errors) this.#errors[errorKindLabel(kind)]++;
    });
  }

  /** After a reload (SIGHUP) was tried: whether the configuration was taken. */
  reloaded(successful: boolean): void {
    this.#guard(() => {
      this.#reload.successful = successful;
      if (successful) this.#reload.lastSuccessAt = this.#deps.now();
      this.#writeMetrics();
      // A reload may change sysctl (real or simulated): read preempt from the new one.
      if (successful) this.#refreshPreempt({ force: true });
    });
  }

  /** Queues events for the notify scripts, after those already queued. */
  notify(events: readonly NotifyEvent[]): void {
    this.#notify.enqueue(events);
  }

  /** The metrics text, as the file holds it. */
  metrics(): string {
    return renderMetrics({
      status: this.#deps.status(),
      errorsByKind: this.#errors,
      notify: { dropped: this.#notify.dropped, failures: this.#notify.failures },
      reload: { successful: this.#reload.successful, lastSuccessAt: this.#reload.lastSuccessAt.toISOString() },
      preempt: this.#preempt.value,
    });
  }

  /** Settles when the metrics file is written and every queued notify script has run. */
  async idle(): Promise<void> {
    await Promise.all([this.#file.idle(), this.#notify.idle()]);
  }

  /** Stops notify scripts (killing a running one) and lets the last metrics write finish. */
  async stop(): Promise<void> {
    await Promise.all([this.#notify.stop(), this.#file.idle()]);
  }

  /** Runs `work`, logging what it throws: an evaluation's result stands whatever happens here. */
  #guard(work: () => void): void {
    try {
      work();
    } catch (error) {
      this.#deps.log.error({ kind: kindOf(error), err: messageOf(error) }, "metrics or notify scripts not updated after an evaluation");
    }
  }

  #writeMetrics(): void {
    const path = this.#deps.config().metricsFile;
    if (path !== undefined) this.#file.update(path, this.metrics());
  }

  /**
   * Reads net.inet.carp.preempt in the background, at most every PREEMPT_REFRESH_MS, and writes
   * the metrics again when it changed. One that cannot be read has no series, rather than a
   * made-up value, and a debug line once: it is doctor's to judge, and without carp(4) the
   * demotion itself fails louder.
   */
  #refreshPreempt({ force = false }: { force?: boolean } = {}): void {
    const read = this.#deps.readPreempt;
    const state = this.#preempt;
    if (read === undefined || state.reading) return;
    const now = this.#deps.monotonicMs?.() ?? performance.now();
    if (!force && state.readAt !== null && now - state.readAt < PREEMPT_REFRESH_MS) return;
    state.reading = true;
    state.readAt = now;
    const settle = (value: number | null, failure: string | null) => {
      state.reading = false;
      if (failure !== null && failure !== state.failure) {
        this.#deps.log.debug({ kind: "sysctl" }, `${failure}; the metrics leave carp_service_status_preempt out`);
      }
      state.failure = failure;
      if (value === state.value) return;
      state.value = value;
      this.#writeMetrics();
    };
    read(this.#deps.config()).then(
      (text) =>
        this.#guard(() => {
          const value = /^-?\d+$/.test(text.trim()) ? Number(text.trim()) : null;
          settle(value, value === null ? `${PREEMPT_OID} reads "${text.trim().slice(0, 40)}", not a number` : null);
        }),
      (error: unknown) => this.#guard(() => settle(null, `Cannot read ${PREEMPT_OID}: ${messageOf(error)}`)),
    );
  }
}
