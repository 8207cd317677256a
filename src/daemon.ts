/**
 * The long-running evaluator: evaluates at start, on the schedule and when triggered on the
 * socket, one evaluation at a time. Only this module wires the engine, the schedule and the
 * socket together; the command (daemon-command.ts) adds signals.
 */
import { Cron } from "croner";
import { dirname } from "node:path";
import { mkdirSync } from "node:fs";
import { Coalescer } from "./coalescer.ts";
import { loadConfig, type Config, type LoadedConfig } from "./config.ts";
import { SIMULATION_DIR } from "./defaults.ts";
import { createEffects } from "./effects.ts";
import { CarpError, messageOf } from "./errors.ts";
import { evaluate } from "./evaluate.ts";
import type { Logger } from "./log.ts";
import type { Evaluation } from "./result.ts";
import { listenSocket, type SocketServer } from "./socket-server.ts";
import { StatusBook, type DaemonStatus, type Transition } from "./status-book.ts";
import { VERSION } from "./version.ts";

/** How long a stop waits for a running evaluation to wind down (its hooks are being killed). */
const STOP_WAIT_MS = 1500;
const REPLY_FLUSH_MS = 20;

export interface Daemon {
  /** Re-reads the config file; a bad one is reported and the running config kept. */
  reload(): boolean;
  /** Stops accepting, aborts a running evaluation, removes the socket. Never writes the demotion. */
  stop(): Promise<void>;
  status(): DaemonStatus;
}

export interface DaemonOptions {
  log: Logger;
  /** The `--config` file, re-read on reload. */
  configFile?: string;
}

function logTransition(log: Logger, { transition, evaluation }: { transition: Transition; evaluation: Evaluation }): void {
  // Hooks first seen passing are the normal start, not a change worth a line.
  if (transition.from === null && transition.to !== "fail") return;
  const service = evaluation.services.find((s) => s.name === transition.name)!;
  const fields = { hook: service.name, from: transition.from, to: transition.to, exitCode: service.exitCode, reason: service.reason, output: service.output.slice(0, 200) };
  const message = `hook "${service.name}" ${transition.from ?? "new"} -> ${transition.to}`;
  if (transition.to === "fail") log.warn(fields, message);
  else log.info(fields, message);
}

/** Starts the daemon: socket (or the polling fallback), schedule, and a first evaluation. */
export async function startDaemon(loaded: LoadedConfig, options: DaemonOptions): Promise<Daemon> {
  const { log } = options;
  let config: Config = loaded.config;
  let configFile = loaded.file;
  let effects = createEffects(config);
  const startedAt = new Date().toISOString();
  const book = new StatusBook();
  const shutdown = new AbortController();

  const coalescer = new Coalescer(async (): Promise<Evaluation> => {
    shutdown.signal.throwIfAborted();
    try {
      const evaluation = await evaluate(config, { ...effects, log }, { signal: shutdown.signal });
      for (const transition of book.record(evaluation)) logTransition(log, { transition, evaluation });
      log.debug({ action: evaluation.action, failed: evaluation.failed, durationMs: evaluation.durationMs }, "evaluation done");
      return evaluation;
    } catch (error) {
      if (!shutdown.signal.aborted) {
        book.recordError(messageOf(error));
        log.error({ err: messageOf(error) }, "evaluation failed");
      }
      throw error;
    }
  });
  const evaluateInBackground = () => coalescer.request().catch(() => {});

  let cron: Cron | null = null;
  function schedule(): void {
    cron?.stop();
    cron =
      config.schedule === false
        ? null
        : new Cron(config.schedule, { catch: (error) => log.error({ err: messageOf(error) }, "scheduled run failed") }, () => {
            book.counters.scheduled++;
            void evaluateInBackground();
          });
  }

  if (config.socket === false && config.schedule === false) {
    throw new CarpError("config", "Neither socket nor schedule is set: nothing would ever trigger an evaluation");
  }

  let server: SocketServer | null = null;
  if (config.socket !== false) {
    // The simulation's directory is ours to create; a real one (/var/run) must already exist.
    if (dirname(config.socket) === SIMULATION_DIR) mkdirSync(SIMULATION_DIR, { recursive: true, mode: 0o700 });
    try {
      const listening = await listenSocket(config.socket, {
        group: config.socketGroup,
        handlers: {
          evaluate: () => {
            book.counters.triggers++;
            return coalescer.request();
          },
          status: () => daemon.status(),
        },
      });
      if (listening.replacedStale) log.warn({ socket: config.socket }, "replaced a stale socket left by a previous daemon");
      server = listening;
    } catch (error) {
      if (error instanceof CarpError && error.code === "config") throw error;
      if (config.schedule === false) {
        throw new CarpError("system", `${messageOf(error)}, and no schedule is set: nothing would trigger an evaluation`);
      }
      log.error({ socket: config.socket, err: messageOf(error) }, "socket unavailable: evaluating on the schedule only");
    }
  }
  schedule();
  log.info({ version: VERSION, socket: server?.path ?? null, schedule: config.schedule, hooksDir: config.hooksDir }, "daemon started");
  void evaluateInBackground();

  const daemon: Daemon = {
    reload() {
      let next: LoadedConfig;
      try {
        next = loadConfig({ file: options.configFile });
      } catch (error) {
        log.error({ err: messageOf(error) }, "configuration not reloaded; keeping the running one");
        return false;
      }
      if (next.config.socket !== config.socket || next.config.socketGroup !== config.socketGroup) {
        log.warn({ socket: next.config.socket }, "socket changes take effect after a restart");
      }
      if (server === null && next.config.schedule === false) {
        log.error("configuration not reloaded: without a socket it needs a schedule; keeping the running one");
        return false;
      }
      const scheduleChanged = next.config.schedule !== config.schedule;
      config = next.config;
      configFile = next.file;
      effects = createEffects(config);
      log.level = config.logLevel;
      if (scheduleChanged) schedule();
      log.info({ file: next.file, schedule: config.schedule }, "configuration reloaded");
      return true;
    },
    async stop() {
      cron?.stop();
      server?.stopAccepting();
      shutdown.abort();
      await Promise.race([coalescer.idle(), Bun.sleep(STOP_WAIT_MS)]);
      // Let callers of an aborted evaluation read their "shutting down" reply.
      await Bun.sleep(REPLY_FLUSH_MS);
      server?.close();
    },
    status() {
      return book.snapshot({
        version: VERSION,
        pid: process.pid,
        startedAt,
        configFile,
        hooksDir: config.hooksDir,
        socket: server?.path ?? null,
        schedule: config.schedule,
        running: coalescer.busy,
        nextRun: cron?.nextRun()?.toISOString() ?? null,
      });
    },
  };
  return daemon;
}
