/**
 * Operational logs: pino, JSON lines on stderr. A synchronous plain destination, since pino's
 * transports run in worker threads, which compiled executables do not support.
 */
import pino, { type Logger } from "pino";

export type { Logger };

export function createLog(level: string, destination: number | string = 2): Logger {
  return pino(
    { level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime },
    pino.destination({ dest: destination, sync: true }),
  );
}
