/**
 * Our own log lines sent to syslog, with our ident (`carp-service-status`) and the priority of
 * each line's level, so that OPNsense's log view shows them as what they are (the stock lines keep
 * the ident `carp`). Through syslog.ts's one logger(1) sender; one call at a time, in order. A line that cannot be sent goes to stderr instead of vanishing: under rc.d,
 * daemon(8) passes stderr to syslog too.
 */
import { writeSync } from "node:fs";
import { messageOf } from "../common/errors.ts";
import { SIMULATED } from "../config/defaults.ts";
import type { SyslogPriority } from "./log-format.ts";
import { appendSimulatedSyslog } from "./simulation.ts";
import { sendWithLogger } from "./syslog.ts";

/** Lines waiting for logger(1) at most; past that they go to stderr (daemon(8) passes it on). */
const MAX_QUEUED = 100;

/** The ident of every line we log ourselves (the stock lines use `carp`). */
export const LOG_IDENT = "carp-service-status";

export interface SyslogWriter {
  /** Queues one record; records go out in the order sent. */
  send(priority: SyslogPriority, message: string): void;
  /** Settles once every record queued so far was delivered (or written to stderr as lost). */
  flush(): Promise<void>;
}

/** Where the records go: logger(1), or the simulated syslog file ("simulated"), as the config says. */
export interface SyslogTarget {
  logger: string;
  simulationLog: string;
}

/** A writer for the config's logger (or its simulation). */
export function createSyslogWriter(target: SyslogTarget): SyslogWriter {
  const deliver =
    target.logger === SIMULATED
      ? async (priority: SyslogPriority, message: string) =>
          appendSimulatedSyslog(target.simulationLog, { ident: LOG_IDENT, priority, message })
      : (priority: SyslogPriority, message: string) => sendWithLogger(target.logger, { ident: LOG_IDENT, priority, message });
  let queue: Promise<void> = Promise.resolve();
  let pending = 0;
  return {
    send(priority, message) {
      // A wedged syslogd (each call then waits out its deadline) must not grow the queue for ever.
      if (pending >= MAX_QUEUED) {
        writeSync(2, `${LOG_IDENT}: syslog is not keeping up; not sent: ${message}\n`);
        return;
      }
      pending++;
      queue = queue
        .then(() => deliver(priority, message))
        .catch((error) => {
          writeSync(2, `${LOG_IDENT}: cannot log to syslog (${messageOf(error)}): ${message}\n`);
        })
        .finally(() => {
          pending--;
        });
    },
    flush: () => queue,
  };
}
