/** `daemon`: the foreground process that rc.d runs under daemon(8). */
import type { Flags } from "./cli.ts";
import { loadConfig } from "./config.ts";
import { startDaemon } from "./daemon.ts";
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
  let reloadRequested = false;
  process.on("SIGHUP", () => {
    reloadRequested = true;
  });

  const daemon = await startDaemon(loaded, { log, configFile });
  const onHangup = () => daemon.reload();
  process.on("SIGHUP", onHangup);
  if (reloadRequested) onHangup();

  const signal = await stopSignal;
  log.info({ signal }, "stopping");
  await daemon.stop();
  log.info("stopped");
  // Timers of aborted work may linger; nothing is left to do.
  process.exit(EXIT.ok);
}
