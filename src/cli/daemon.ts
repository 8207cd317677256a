/** `daemon`: the foreground process that rc.d runs under daemon(8). */

import { settledWithin } from "../common/deadline.ts";
import { EXIT } from "../common/errors.ts";
import { type Daemon, realDaemonDeps, startDaemon } from "../daemon/daemon.ts";
import { stockScriptWatcher } from "../install/stock-state.ts";
import { loadConfigResident } from "../system/config-cache.ts";
import { createLog, flushLog } from "../system/log.ts";
import { createSyslogWriter } from "../system/log-syslog.ts";
import { processTreeSupport } from "../system/process-group.ts";
import { endWhatWasLeftRunning, recordRuns, runFilePath } from "../system/run-file.ts";
import { type Flags, rootOf } from "./flags.ts";

/** How long a stopping daemon waits for its last log lines to reach syslog. */
const FLUSH_AT_EXIT_MS = 300;

export async function run(flags: Flags): Promise<number> {
  const configFile = flags.config as string | undefined;
  const loaded = loadConfigResident({ file: configFile });
  // Under rc.d (--syslog) the lines go to syslog with our ident and their own priorities, so that
  // daemon(8) -S, which would give every stderr line one priority, passes on only a crash.
  const syslog = flags.syslog === true ? createSyslogWriter(loaded.config) : undefined;
  const log = createLog(loaded.config.logLevel, { format: loaded.config.logFormat, syslog });
  for (const notice of loaded.notices) log.info(notice);

  // Listen for signals before anything starts, so a stop during start-up is not lost.
  const { promise: stopSignal, resolve: requestStop } = Promise.withResolvers<NodeJS.Signals>();
  // Kept for the whole life of the process: a second signal during shutdown must not fall back
  // to the default action, which would end us before the socket is removed.
  process.on("SIGTERM", () => requestStop("SIGTERM"));
  process.on("SIGINT", () => requestStop("SIGINT"));
  // A hangup during start-up is kept and served once the daemon exists.
  let daemon: Daemon | null = null;
  let reloadPending = false;
  process.on("SIGHUP", () => {
    if (daemon) daemon.reload();
    else reloadPending = true;
  });

  // Before anything of ours runs: what a daemon killed with -9 left running is ended first. The
  // run file follows the state file given at start (a reload does not move it).
  const trees = processTreeSupport();
  if (trees.reason !== null) log.warn(`Processes that hooks start are followed by their process group only: ${trees.reason}`);
  const runFile = runFilePath(loaded.config.stateFile);
  const keepRunFile = await endWhatWasLeftRunning(runFile, { graceMs: loaded.config.killGraceMs, log });
  const recorder = keepRunFile ? recordRuns(runFile, log) : null;

  try {
    daemon = await startDaemon(loaded, {
      ...realDaemonDeps(log, () => loadConfigResident({ file: configFile })),
      observeStockScript: stockScriptWatcher(rootOf(flags)),
    });
  } catch (error) {
    recorder?.close();
    throw error;
  }
  if (reloadPending) daemon.reload();

  const signal = await stopSignal;
  log.info({ signal }, "stopping");
  await daemon.stop();
  // Kept when something still runs (a stop that timed out): the next start ends it.
  recorder?.close();
  log.info("stopped");
  // Lines still queued for a wedged syslogd must not hold the exit past the two seconds.
  await settledWithin(flushLog(log), FLUSH_AT_EXIT_MS);
  // Timers of aborted work may linger; nothing is left to do.
  process.exit(EXIT.ok);
}
