/** `daemon`: the foreground process that rc.d runs under daemon(8). */

import { EXIT } from "../common/errors.ts";
import { loadConfig } from "../config/config.ts";
import { type Daemon, realDaemonDeps, startDaemon } from "../daemon/daemon.ts";
import { createLog, flushLog } from "../system/log.ts";
import { createSyslogWriter } from "../system/log-syslog.ts";
import type { Flags } from "./flags.ts";

/** How long a stopping daemon waits for its last log lines to reach syslog. */
const FLUSH_AT_EXIT_MS = 300;

export async function run(flags: Flags): Promise<number> {
  const configFile = flags.config as string | undefined;
  const loaded = loadConfig({ file: configFile });
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

  daemon = await startDaemon(
    loaded,
    realDaemonDeps(log, () => loadConfig({ file: configFile })),
  );
  if (reloadPending) daemon.reload();

  const signal = await stopSignal;
  log.info({ signal }, "stopping");
  await daemon.stop();
  log.info("stopped");
  // Lines still queued for a wedged syslogd must not hold the exit past the two seconds.
  await Promise.race([flushLog(log), Bun.sleep(FLUSH_AT_EXIT_MS)]);
  // Timers of aborted work may linger; nothing is left to do.
  process.exit(EXIT.ok);
}
