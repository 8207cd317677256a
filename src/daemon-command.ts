/** `daemon`: the foreground process that rc.d runs under daemon(8). */
import type { Flags } from "./cli.ts";
import { loadConfig } from "./config.ts";
import { startDaemon, type Daemon } from "./daemon.ts";
import { EXIT } from "./errors.ts";
import { createLog } from "./log.ts";

export async function run(flags: Flags): Promise<number> {
  const configFile = flags.config as string | undefined;
  const loaded = loadConfig({ file: configFile });
  const log = createLog(loaded.config.logLevel);
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
  process.on("SIGHUP", () => (daemon ? daemon.reload() : (reloadPending = true)));

  daemon = await startDaemon(loaded, { log, configFile });
  if (reloadPending) daemon.reload();

  const signal = await stopSignal;
  log.info({ signal }, "stopping");
  await daemon.stop();
  log.info("stopped");
  // Timers of aborted work may linger; nothing is left to do.
  process.exit(EXIT.ok);
}
