/**
 * The long-running evaluator: evaluates at start, on the schedule and when triggered on the
 * socket, one evaluation at a time. Its effects (evaluation, socket, schedule, clock, config
 * file) enter through DaemonDeps, so tests can drive it without processes or timers; the command
 * (cli/daemon.ts) adds signals.
 */
import { dirname } from "node:path";
import { settledWithin } from "../common/deadline.ts";
import { CarpError, kindOf, messageOf } from "../common/errors.ts";
import { escapeText } from "../common/escape.ts";
import { VERSION } from "../common/version.ts";
import type { Config, LoadedConfig } from "../config/config.ts";
import { PREEMPT_OID, SIMULATION_DIR } from "../config/defaults.ts";
import { evaluate } from "../engine/evaluate.ts";
import { emptyMemory, type HistoryMemory } from "../engine/flap-history.ts";
import { type SwitchOptions, switchMaintenance } from "../engine/maintenance.ts";
import type {
  DaemonStatus,
  Evaluation,
  Maintenance,
  MaintenanceReply,
  MaintenanceRequest,
  StockScriptObservation,
} from "../protocol/wire.ts";
import { createEffects, createOidReaderFor } from "../system/effects.ts";
import { openFilesLimit } from "../system/limits.ts";
import type { Logger } from "../system/log.ts";
import { ensurePrivateDir } from "../system/private-dir.ts";
import { logChanges } from "./change-log.ts";
import { Coalescer } from "./coalescer.ts";
import { connectionCap } from "./connection-cap.ts";
import { brokenRuns, holdChangeOf } from "./notify-events.ts";
import { type ObserverDeps, Observers } from "./observers.ts";
import { planReload } from "./reload.ts";
import { type Scheduler, type StartSchedule, startCronSchedule } from "./scheduler.ts";
import { type ListenOptions, listenSocket, type SocketServer } from "./socket-server.ts";
import { StatusBook } from "./status-book.ts";
import { stockBackMessage, stockScriptChange } from "./stock-watch.ts";

/** How long a stop waits for a running evaluation to wind down (its hooks are being killed). */
const STOP_WAIT_MS = 1500;
const REPLY_FLUSH_MS = 20;
const HOLD_TIMER_SLACK_MS = 20;

/** Creates the socket and serves the handlers on it. */
export type Listen = (
  path: string,
  options: Pick<ListenOptions, "group" | "handlers" | "maxConnections">,
) => Promise<SocketServer & { replacedStale: boolean }>;

/** Everything the daemon does to the world. */
export interface DaemonDeps {
  log: Logger;
  /** Re-reads the configuration (the `--config` file, or the default one) on reload. */
  loadConfig(): LoadedConfig;
  /**
   * One evaluation with the given config; aborted by the signal at shutdown. `memory` is the
   * daemon's own flap history, which carries on when the state file cannot be read or written.
   */
  evaluate(config: Config, options: { signal: AbortSignal; freshStart: boolean; memory: HistoryMemory; all: boolean }): Promise<Evaluation>;
  /** Turns the maintenance switch under the evaluation lock (default: engine/maintenance.ts, on the config's files). */
  switchMaintenance?(config: Config, options: SwitchOptions): Promise<Maintenance | null>;
  listen: Listen;
  startSchedule: StartSchedule;
  now(): Date;
  /**
   * Calls `fn` once after `ms`; returns what cancels it. On the monotonic clock (Bun's setTimeout
   * is): a stepped wall clock moves the end of a hold-down neither way.
   */
  setTimer(ms: number, fn: () => void): () => void;
  /** A clock that never steps, in ms (default performance.now): what is left of a hold-down is kept on it. */
  monotonicMs?(): number;
  /** Reads net.inet.carp.preempt for the metrics (real or simulated, as the config says); without it, no preempt series. */
  readPreempt?(config: Config): Promise<string>;
  /**
   * Whether the stock script is still our shim where install replaced it (install/stock-state.ts),
   * looked at before every evaluation; without it, not watched.
   */
  observeStockScript?(): StockScriptObservation;
  /** Replaces how the metrics file is written and notify scripts run (tests). */
  observers?: Pick<ObserverDeps, "writeFile" | "notify">;
}

/** The real effects: the engine with sysctl/logger from the config, a Unix socket, croner, the clock. */
export function realDaemonDeps(log: Logger, loadConfig: () => LoadedConfig): DaemonDeps {
  return {
    log,
    loadConfig,
    evaluate: (config, options) => evaluate(config, { ...createEffects(config), log }, options),
    listen: async (path, options) => {
      // The simulation's directory is ours to create (and check); a real one (/var/run) must already exist.
      if (dirname(path) === SIMULATION_DIR) ensurePrivateDir(SIMULATION_DIR);
      return listenSocket(path, options);
    },
    startSchedule: startCronSchedule,
    now: () => new Date(),
    setTimer: (ms, fn) => {
      const timer = setTimeout(fn, ms);
      return () => clearTimeout(timer);
    },
    readPreempt: (config) => createOidReaderFor(config).readOid(PREEMPT_OID),
  };
}

export class Daemon {
  readonly #deps: DaemonDeps;
  readonly #book: StatusBook;
  readonly #shutdown = new AbortController();
  readonly #coalescer: Coalescer<Evaluation>;
  readonly #observers: Observers;
  readonly #startedAt: string;
  #config: Config;
  #configFile: string | null;
  #server: SocketServer | null = null;
  #scheduler: Scheduler | null = null;
  /** Until an evaluation succeeds, the next one observes afresh (flap control's first observation). */
  #freshStart = true;
  /** The flap history as this daemon counted it: a read-only or full /var/run does not stop flap control. */
  readonly #memory: HistoryMemory = emptyMemory();
  /** Cancels the run due when a promotion hold-down ends. */
  #cancelHoldTimer: (() => void) | null = null;
  /** The stock script as last seen; null until looked at (or when not watched). */
  #stockScript: StockScriptObservation | null = null;

  constructor(loaded: LoadedConfig, deps: DaemonDeps) {
    this.#deps = deps;
    this.#config = loaded.config;
    this.#configFile = loaded.file;
    this.#startedAt = deps.now().toISOString();
    this.#book = new StatusBook(deps.now, deps.monotonicMs ?? (() => performance.now()));
    this.#coalescer = new Coalescer((all) => this.#evaluateOnce(all));
    this.#observers = new Observers({
      log: deps.log,
      config: () => this.#config,
      status: () => this.status(),
      now: deps.now,
      monotonicMs: deps.monotonicMs,
      readPreempt: deps.readPreempt,
      ...deps.observers,
    });
  }

  /** Opens the socket (or falls back to the schedule alone), starts the schedule, evaluates once. */
  async start(): Promise<void> {
    const { log } = this.#deps;
    const config = this.#config;
    if (config.socket === false && config.schedule === false) {
      throw new CarpError("config", "Neither socket nor schedule is set: nothing would ever trigger an evaluation");
    }
    if (config.socket !== false) await this.#listen(config.socket);
    this.#schedule();
    log.info(
      { version: VERSION, socket: this.#server?.path ?? null, schedule: config.schedule, hooksDir: config.hooksDir },
      "daemon started",
    );
    this.#book.counters.starts++;
    void this.#evaluateInBackground();
  }

  /** Re-reads the config; a bad one is reported and the running one kept. */
  reload(): boolean {
    const { log } = this.#deps;
    let next: LoadedConfig;
    try {
      next = this.#deps.loadConfig();
    } catch (error) {
      log.error({ kind: kindOf(error), err: messageOf(error) }, "configuration not reloaded; keeping the running one");
      this.#observers.reloaded(false);
      return false;
    }
    const plan = planReload(this.#config, next.config, { listening: this.#server !== null });
    if (!plan.accept) {
      log.error({ kind: "config" }, `configuration not reloaded: ${plan.reason}; keeping the running one`);
      this.#observers.reloaded(false);
      return false;
    }
    if (plan.socketChangeIgnored) log.warn({ socket: next.config.socket }, "socket changes take effect after a restart");
    this.#config = next.config;
    this.#configFile = next.file;
    log.level = next.config.logLevel;
    if (plan.reschedule) this.#schedule();
    log.info({ file: next.file, schedule: next.config.schedule }, "configuration reloaded");
    this.#observers.reloaded(true);
    return true;
  }

  /** Stops accepting, aborts a running evaluation, removes the socket. Never writes the demotion. */
  async stop(): Promise<void> {
    this.#scheduler?.stop();
    this.#cancelHoldTimer?.();
    this.#server?.stopAccepting();
    this.#shutdown.abort();
    await settledWithin(Promise.all([this.#coalescer.idle(), this.#observers.stop()]), STOP_WAIT_MS);
    // Let callers of an aborted evaluation read their "shutting down" reply.
    await Bun.sleep(REPLY_FLUSH_MS);
    this.#server?.close();
  }

  status(): DaemonStatus {
    const config = this.#config;
    const status = this.#book.snapshot({
      version: VERSION,
      pid: process.pid,
      startedAt: this.#startedAt,
      configFile: this.#configFile,
      hooksDir: config.hooksDir,
      socket: this.#server?.path ?? null,
      schedule: config.schedule,
      running: this.#coalescer.busy,
      nextRun: this.#scheduler?.nextRun()?.toISOString() ?? null,
    });
    const stock = this.#stockScript;
    if (stock === null || stock.state === "not-replaced") return status;
    const anomalies = stock.state === "stock-back" ? [...status.anomalies, stockBackMessage(stock.path)] : status.anomalies;
    return { ...status, stockScript: stock, anomalies };
  }

  /** Looks at the stock script; one log line when it came back over our shim, or the shim is back. */
  #watchStockScript(): void {
    const observe = this.#deps.observeStockScript;
    if (!observe) return;
    let next: StockScriptObservation;
    try {
      next = observe();
    } catch (error) {
      this.#deps.log.debug({ err: messageOf(error) }, "could not look at the stock script");
      return;
    }
    const change = stockScriptChange(this.#stockScript, next);
    this.#stockScript = next;
    if (change) this.#deps.log[change.level]({ stockScript: next.path }, change.message);
  }

  async #listen(path: string): Promise<void> {
    const { log } = this.#deps;
    try {
      const listening = await this.#deps.listen(path, {
        group: this.#config.socketGroup,
        // Asked at each connection: the descriptor limit less what an evaluation of the current config needs.
        maxConnections: () => connectionCap(openFilesLimit(), { concurrency: this.#config.concurrency }),
        handlers: {
          evaluate: (body) => {
            this.#book.counters.triggers++;
            return this.#coalescer.request(body?.all === true);
          },
          status: () => this.status(),
          metrics: () => this.#observers.metrics(),
          maintenance: (body) => this.#switchMaintenance(body),
        },
      });
      if (listening.replacedStale) log.warn({ socket: path }, "replaced a stale socket left by a previous daemon");
      this.#server = listening;
    } catch (error) {
      if (error instanceof CarpError && (error.code === "config" || error.code === "in_use")) throw error;
      if (this.#config.schedule === false) {
        throw new CarpError("system", `${messageOf(error)}, and no schedule is set: nothing would trigger an evaluation`, {
          cause: error,
          kind: "socket",
        });
      }
      log.error({ kind: "socket", socket: path, err: messageOf(error) }, "socket unavailable: evaluating on the schedule only");
    }
  }

  #schedule(): void {
    const { log } = this.#deps;
    this.#scheduler?.stop();
    const pattern = this.#config.schedule;
    this.#scheduler =
      pattern === false
        ? null
        : this.#deps.startSchedule(
            pattern,
            () => {
              this.#book.counters.scheduled++;
              void this.#evaluateInBackground();
            },
            (error) => log.error({ kind: kindOf(error), err: messageOf(error) }, "scheduled run failed"),
          );
  }

  /** A held promotion is decided when its hold-down ends, not up to a schedule period later. */
  #armHoldTimer(evaluation: Evaluation): void {
    this.#cancelHoldTimer?.();
    this.#cancelHoldTimer = null;
    const held = evaluation.promotionHeld;
    if (!held || this.#shutdown.signal.aborted) return;
    // A little past the end, so the run finds the hold-down over rather than a millisecond short.
    this.#cancelHoldTimer = this.#deps.setTimer(held.remainingMs + HOLD_TIMER_SLACK_MS, () => {
      this.#cancelHoldTimer = null;
      this.#book.counters.holdEnds++;
      void this.#evaluateInBackground();
    });
  }

  #evaluateInBackground(): Promise<unknown> {
    return this.#coalescer.request().catch(() => {});
  }

  /**
   * `POST /maintenance`: turns the switch under the evaluation lock, then evaluates at once (the
   * next evaluation to start), so the reply says what the switch did to the demotion. The one log
   * line about the change comes from that evaluation, as for a `check` that turned it.
   */
  async #switchMaintenance(request: MaintenanceRequest): Promise<MaintenanceReply> {
    const signal = this.#shutdown.signal;
    signal.throwIfAborted();
    const options = { on: request.on, reason: request.reason ?? null, now: this.#deps.now(), signal };
    await (this.#deps.switchMaintenance ?? switchMaintenance)(this.#config, options);
    this.#book.counters.triggers++;
    const evaluation = await this.#coalescer.request();
    return { maintenance: evaluation.maintenance ?? null, evaluation };
  }

  async #evaluateOnce(all = false): Promise<Evaluation> {
    const { log } = this.#deps;
    const signal = this.#shutdown.signal;
    signal.throwIfAborted();
    this.#watchStockScript();
    try {
      const evaluation = await this.#deps.evaluate(this.#config, { signal, freshStart: this.#freshStart, memory: this.#memory, all });
      this.#freshStart = false;
      this.#armHoldTimer(evaluation);
      const heldBefore = this.#book.promotionHeld() !== null;
      const changes = this.#book.record(evaluation);
      // Errors it went on past (the gateway status) count as errors still; the evaluation logged them.
      for (const { message } of evaluation.errors ?? []) this.#book.noteError(message);
      this.#observers.carriedOn(evaluation.errors ?? []);
      logChanges(log, { changes, evaluation });
      // The start of a hold-down is said by the evaluation itself (evaluation-report.ts); its end by a failure, here.
      if (holdChangeOf(evaluation, { heldBefore }) === "cancelled") {
        const broken = brokenRuns(evaluation).map(escapeText);
        const why = broken.length > 0 ? `${broken.join(", ")} failed a run` : "maintenance was turned on";
        log.info({ brokenBy: broken }, `promotion hold-down cancelled: ${why}; the 2^20 bit stays set`);
      }
      this.#observers.evaluated(evaluation, { transitions: changes.counted, heldBefore, maintenance: changes.maintenance });
      log.debug({ action: evaluation.action, failed: evaluation.failed, durationMs: evaluation.durationMs }, "evaluation done");
      return evaluation;
    } catch (error) {
      if (!signal.aborted) {
        this.#book.recordError(messageOf(error));
        this.#observers.failed(error);
        log.error({ kind: kindOf(error), err: messageOf(error) }, "evaluation failed");
      }
      throw error;
    }
  }
}

/** Starts a daemon: socket (or the polling fallback), schedule, and a first evaluation. */
export async function startDaemon(loaded: LoadedConfig, deps: DaemonDeps): Promise<Daemon> {
  const daemon = new Daemon(loaded, deps);
  await daemon.start();
  return daemon;
}
