/**
 * One evaluation in this process, as `check`, the fallback of `trigger` and `maintenance`, and
 * configd's actions run it: with the config's sysctl and logger, its log lines delivered before it
 * returns, and the exit status a local evaluation has. Not a command: the commands share it.
 */
import { EXIT } from "../common/errors.ts";
import { BLOCKING_DISCOVERY_FS } from "../engine/discover.ts";
import { evaluate } from "../engine/evaluate.ts";
import type { Evaluation } from "../protocol/wire.ts";
import { loadConfigCached } from "../system/config-cache.ts";
import { createEffects } from "../system/effects.ts";
import { createLog, flushLog } from "../system/log.ts";
import { createSyslogWriter } from "../system/log-syslog.ts";
import { exitCodeOfEvaluation, printEvaluation } from "./report.ts";

export interface EvaluateHereOptions {
  /** `--config FILE`; without it the default file when it exists, else the built-in defaults (no zod). */
  configFile?: string;
  dryRun?: boolean;
  /** Log to syslog (ident carp-service-status) instead of stderr: for configd, which logs stderr as errors. */
  syslog?: boolean;
  /** Said at info level before evaluating, e.g. why this evaluation runs here and not in the daemon. */
  notes?: string[];
  /** Runs every check, also those whose intervalMs has not passed (`--all`). */
  all?: boolean;
}

/** The signals that stop a one-shot evaluation: Ctrl-C, and kill's default. */
const STOP_SIGNALS = ["SIGINT", "SIGTERM"] as const;

/**
 * One evaluation in this process, with the config's sysctl and logger; its log lines are delivered
 * before it returns. SIGINT or SIGTERM while it runs ends its hooks (and all they started) first;
 * the process then dies of that signal, as the shell expects, having written nothing. A signal
 * that comes once the demotion is being written lets the evaluation finish.
 */
export async function evaluateHere(options: EvaluateHereOptions = {}): Promise<Evaluation> {
  const { config, notices } = await loadConfigCached({ file: options.configFile });
  const log = createLog(config.logLevel, {
    format: config.logFormat,
    syslog: options.syslog ? createSyslogWriter(config) : undefined,
  });
  const stop = new AbortController();
  let stoppedBy: NodeJS.Signals | null = null;
  const onSignal = (signal: NodeJS.Signals) => {
    // A second signal while the hooks are being ended changes nothing: they end within the grace.
    if (stoppedBy !== null) return;
    stoppedBy = signal;
    stop.abort(new Error(`stopped by ${signal}`));
  };
  const listen = (on: boolean) => {
    for (const signal of STOP_SIGNALS) on ? process.on(signal, onSignal) : process.off(signal, onSignal);
  };
  listen(true);
  try {
    for (const note of [...notices, ...(options.notes ?? [])]) log.info(note);
    return await evaluate(
      config,
      { ...createEffects(config), log, fs: BLOCKING_DISCOVERY_FS },
      { dryRun: options.dryRun === true, signal: stop.signal, all: options.all === true },
    );
  } catch (error) {
    if (stoppedBy !== null) {
      log.warn(`Stopped by ${stoppedBy}: the hooks were ended and nothing was written`);
      await flushLog(log);
      listen(false);
      process.kill(process.pid, stoppedBy);
    }
    throw error;
  } finally {
    listen(false);
    await flushLog(log);
  }
}

/**
 * check's exit status: 3 when the bit stays set for want of a history, a readable switch or a
 * readable gateway status (promotionWithheld), else as exitCodeOfEvaluation (3 for `errors` too).
 */
export function exitCodeOfLocalEvaluation(evaluation: Evaluation): number {
  // The bit stays set for what this run could not know, not for a failing check: a system error,
  // which the admin must fix (the table's warning and the log say why).
  if (evaluation.promotionWithheld) return EXIT.system;
  return exitCodeOfEvaluation(evaluation);
}

/** `check` as trigger's fallback runs it too: evaluate here, print the result, and return the exit status. */
export async function checkHere(options: EvaluateHereOptions & { json?: boolean }): Promise<number> {
  const evaluation = await evaluateHere(options);
  printEvaluation(evaluation, options.json === true);
  return exitCodeOfLocalEvaluation(evaluation);
}
