/**
 * Operational logs: pino records, written where and how they are read.
 *   - "json": pino's own lines (for log shippers), on stderr or as syslog records.
 *   - "text" on a terminal: pino-pretty's short coloured line, then the fields as key=value.
 *   - "text" elsewhere: `TIME LEVEL message key=value ...` on stderr, or `message key=value ...` as
 *     a syslog record (syslog adds time and host) with the priority of the line's level.
 * Destinations are plain and synchronous, since pino's transports run in worker threads, which
 * compiled executables do not support. pino (and pino-pretty) load on the first line logged: a
 * `check` that changes nothing logs nothing, and starts without them.
 */
import { writeSync } from "node:fs";
import { isatty } from "node:tty";
import type { Logger } from "pino";
import { formatMessage, formatTextLine, type LogRecord, syslogPriority } from "./log-format.ts";
import type { SyslogWriter } from "./log-syslog.ts";

export type { Logger };

export type LogFormat = "text" | "json";

export interface LogOptions {
  /** Default "text". */
  format?: LogFormat;
  /** Send every line to syslog through this writer instead of stderr. */
  syslog?: SyslogWriter;
  /** Whether stderr is a terminal (default: asked of fd 2). */
  terminal?: boolean;
}

/** A pino destination: one call per line, and a flush for what a writer still holds. */
interface Destination {
  write(line: string): void;
  flush?(callback: (error?: Error) => void): void;
}

function parse(line: string): LogRecord {
  return JSON.parse(line) as LogRecord;
}

function syslogDestination(syslog: SyslogWriter, format: LogFormat): Destination {
  return {
    write(line) {
      const record = parse(line);
      syslog.send(syslogPriority(record.level), format === "json" ? line.trimEnd() : formatMessage(record));
    },
    flush(callback) {
      void syslog.flush().then(() => callback());
    },
  };
}

function terminalDestination(): Destination {
  // Loaded only for a person at a terminal: a daemon under rc.d never pays for it.
  const { prettyFactory } = require("pino-pretty") as typeof import("pino-pretty");
  const prettify = prettyFactory({
    colorize: true,
    translateTime: "SYS:HH:MM:ss",
    ignore: "pid,hostname",
    hideObject: true,
    messageFormat: (record) => formatMessage(record as LogRecord),
  });
  return { write: (line) => writeSync(2, prettify(line)) };
}

function build(level: string, options: LogOptions): Logger {
  const { format = "text", syslog } = options;
  const pino = (require("pino") as typeof import("pino")).pino;
  const settings = { level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime };
  if (syslog) return pino(settings, syslogDestination(syslog, format));
  if (format === "json") return pino(settings, pino.destination({ dest: 2, sync: true }));
  if (options.terminal ?? isatty(2)) return pino(settings, terminalDestination());
  return pino(settings, { write: (line: string) => writeSync(2, `${formatTextLine(parse(line))}\n`) });
}

/**
 * A logger that becomes pino on first use. Until then `flush` has nothing to wait for and calls back
 * at once, so flushing a logger that never logged loads nothing.
 */
function lazyLogger(create: () => Logger): Logger {
  let real: Logger | null = null;
  const instance = (): Logger => {
    real ??= create();
    return real;
  };
  return new Proxy({} as Logger, {
    get(_, key) {
      if (key === "flush" && real === null) return (callback?: (error?: Error) => void) => callback?.();
      const target = instance();
      const value: unknown = Reflect.get(target, key, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
    set(_, key, value) {
      const target = instance();
      return Reflect.set(target, key, value, target);
    },
  });
}

/** A logger at `level`, writing as options say (default: text on stderr). */
export function createLog(level: string, options: LogOptions = {}): Logger {
  return lazyLogger(() => build(level, options));
}

/** Settles once every line logged so far has been delivered (syslog lines are sent asynchronously). */
export function flushLog(log: Logger): Promise<void> {
  return new Promise((resolve) => log.flush(() => resolve()));
}
