/**
 * What the daemon tells the world after each evaluation, apart from its log: the metrics (the
 * `metricsFile` and `GET /metrics`) and the notify scripts. Nothing here can fail or delay an
 * evaluation: the file is written and the scripts run in the background, their failures logged.
 */
import { messageOf } from "../common/errors.ts";
import type { Config } from "../config/config.ts";
import type { DaemonStatus, Evaluation } from "../protocol/wire.ts";
import type { Logger } from "../system/log.ts";
import { type ErrorKind, errorKindOf, zeroErrorCounts } from "./error-kind.ts";
import { renderMetrics } from "./metrics.ts";
import { MetricsFile, type WriteFile } from "./metrics-file.ts";
import { type NotifyEvent, notifyEventsOf } from "./notify-events.ts";
import { NotifyQueue, type NotifyQueueDeps } from "./notify-queue.ts";
import type { Transition } from "./status-book.ts";

/** The effects observers use; every one but the daemon's own has a real default. */
export interface ObserverDeps {
  log: Logger;
  /** The running configuration (it changes on reload). */
  config(): Config;
  /** The daemon's status, which the metrics are made from. */
  status(): DaemonStatus;
  /** How the metrics file is written (default: atomically, system/atomic-file.ts). */
  writeFile?: WriteFile;
  /** Replaces parts of how notify scripts are run (tests). */
  notify?: Pick<NotifyQueueDeps, "isRoot" | "runScript">;
}

export class Observers {
  readonly #deps: ObserverDeps;
  readonly #errors: Record<ErrorKind, number> = zeroErrorCounts();
  readonly #file: MetricsFile;
  readonly #notify: NotifyQueue;

  constructor(deps: ObserverDeps) {
    this.#deps = deps;
    this.#file = new MetricsFile(deps.log, deps.writeFile);
    this.#notify = new NotifyQueue({ log: deps.log, config: deps.config, ...deps.notify });
  }

  /** After an evaluation was recorded: notify its changes, write the metrics. Returns at once. */
  evaluated(evaluation: Evaluation, transitions: readonly Transition[]): void {
    this.#guard(() => {
      this.notify(notifyEventsOf(evaluation, transitions));
      this.#writeMetrics();
    });
  }

  /** After an evaluation ended in an error (not a shutdown): count it by kind, write the metrics. */
  failed(error: unknown): void {
    this.#guard(() => {
      this.#errors[errorKindOf(messageOf(error))]++;
      this.#writeMetrics();
    });
  }

  /** Queues events for the notify scripts, after those already queued. */
  notify(events: readonly NotifyEvent[]): void {
    this.#notify.enqueue(events);
  }

  /** The metrics text, as the file holds it. */
  metrics(): string {
    return renderMetrics({ status: this.#deps.status(), errorsByKind: this.#errors, notifyDropped: this.#notify.dropped });
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
      this.#deps.log.error({ err: messageOf(error) }, "metrics or notify scripts not updated after an evaluation");
    }
  }

  #writeMetrics(): void {
    const path = this.#deps.config().metricsFile;
    if (path !== undefined) this.#file.update(path, this.metrics());
  }
}
