/**
 * Operational logs, each record formatted once, for where it is read:
 *   - "text" on a terminal: a short coloured line (`[HH:MM:SS] WARN: message key=value ...`).
 *   - "text" elsewhere: `TIME LEVEL message key=value ...` on stderr, or `message key=value ...` as
 *     a syslog record (syslog adds time and host) with the priority of the line's level.
 *   - "json": pino's own lines (for log shippers), on stderr or as syslog records.
 * The text forms are made from the call's fields and message directly (log-format.ts); pino is
 * loaded only for "json", on its first line. Destinations are plain and synchronous: pino's
 * transports run in worker threads, which compiled executables do not support.
 */
import { writeSync } from "node:fs";
import { isatty } from "node:tty";
import type { Logger as PinoLogger } from "pino";
import { formatMessage, formatTextLine, LEVEL_NAMES, type LogRecord, syslogPriority } from "./log-format.ts";
import type { SyslogWriter } from "./log-syslog.ts";

/**
 * The logger's type is pino's, so engine and daemon code (and tests, which pass pino loggers) take
 * either. Ours implements what they call: the six level methods with (fields, message) or
 * (message), `level` (read and set: a reload changes it) and `flush`.
 */
export type Logger = PinoLogger;

export type LogFormat = "text" | "json";

export interface LogOptions {
  /** Default "text". */
  format?: LogFormat;
  /** Send every line to syslog through this writer instead of stderr. */
  syslog?: SyslogWriter;
  /** Whether stderr is a terminal (default: asked of fd 2). */
  terminal?: boolean;
}

/** pino's level numbers, which "json" lines carry and log-format.ts names. */
const LEVELS = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 } as const;
type LevelName = keyof typeof LEVELS;
const LEVEL_METHODS = Object.keys(LEVELS) as LevelName[];

function levelValue(level: string): number {
  return level === "silent" ? Number.POSITIVE_INFINITY : (LEVELS[level as LevelName] ?? LEVELS.info);
}

/** pino-pretty's colours, as the terminal line had them before it was made here. */
const LEVEL_COLOURS: Record<number, [string, string]> = {
  10: ["\x1b[90m", "\x1b[39m"],
  20: ["\x1b[34m", "\x1b[39m"],
  30: ["\x1b[32m", "\x1b[39m"],
  40: ["\x1b[33m", "\x1b[39m"],
  50: ["\x1b[31m", "\x1b[39m"],
  60: ["\x1b[41m", "\x1b[49m"],
};

/** A line for a person at a terminal: local time, the coloured level, the message and fields in cyan. */
export function formatTerminalLine(record: LogRecord, now: Date): string {
  const time = [now.getHours(), now.getMinutes(), now.getSeconds()].map((n) => String(n).padStart(2, "0")).join(":");
  const level = record.level ?? LEVELS.info;
  const [on, off] = LEVEL_COLOURS[level] ?? ["", ""];
  return `[${time}] ${on}${LEVEL_NAMES[level] ?? String(level)}${off}: \x1b[36m${formatMessage(record)}\x1b[39m`;
}

/** Writes one record: called only for records at or above the level. */
type Sink = (record: LogRecord, now: Date) => void;

function textSink(options: LogOptions): Sink {
  const { syslog } = options;
  if (syslog) return (record) => syslog.send(syslogPriority(record.level), formatMessage(record));
  if (options.terminal ?? isatty(2)) return (record, now) => writeSync(2, `${formatTerminalLine(record, now)}\n`);
  return (record, now) => writeSync(2, `${formatTextLine({ ...record, time: now.toISOString() })}\n`);
}

/** The record of one call: pino's (fields, message) or (message). */
function recordOf(level: number, args: unknown[]): LogRecord {
  const [first, second] = args;
  if (typeof first === "object" && first !== null) {
    return { ...(first as Record<string, unknown>), level, msg: typeof second === "string" ? second : undefined };
  }
  return { level, msg: first === undefined ? undefined : String(first) };
}

/** "json": pino, made on the first line, writing where the text would go. */
function jsonLogger(level: () => string, options: LogOptions): (method: LevelName, args: unknown[]) => void {
  let pinoLogger: PinoLogger | null = null;
  let priorityOfLine = syslogPriority(LEVELS.info);
  const make = (): PinoLogger => {
    const pino = (require("pino") as typeof import("pino")).pino;
    const settings = { level: "trace", base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime };
    const { syslog } = options;
    // pino writes synchronously within the call, so the line's priority is the call's.
    if (syslog) return pino(settings, { write: (line: string) => syslog.send(priorityOfLine, line.trimEnd()) });
    return pino(settings, pino.destination({ dest: 2, sync: true }));
  };
  return (method, args) => {
    if (levelValue(level()) > LEVELS[method]) return;
    pinoLogger ??= make();
    priorityOfLine = syslogPriority(LEVELS[method]);
    (pinoLogger[method] as (...a: unknown[]) => void)(...args);
  };
}

/** A logger at `level`, writing as options say (default: text on stderr). Loads nothing until "json" logs a line. */
export function createLog(level: string, options: LogOptions = {}): Logger {
  let current = level;
  let threshold = levelValue(level);
  const json = options.format === "json" ? jsonLogger(() => current, options) : null;
  let sink: Sink | null = null;
  const logger: Record<string, unknown> = {
    get level() {
      return current;
    },
    set level(next: string) {
      current = next;
      threshold = levelValue(next);
    },
    flush(callback?: (error?: Error) => void) {
      if (options.syslog) void options.syslog.flush().then(() => callback?.());
      else callback?.();
    },
  };
  for (const method of LEVEL_METHODS) {
    logger[method] = (...args: unknown[]) => {
      if (json) return json(method, args);
      if (threshold > LEVELS[method]) return;
      sink ??= textSink(options);
      sink(recordOf(LEVELS[method], args), new Date());
    };
  }
  return logger as unknown as Logger;
}

/** Settles once every line logged so far has been delivered (syslog lines are sent asynchronously). */
export function flushLog(log: Logger): Promise<void> {
  return new Promise((resolve) => log.flush(() => resolve()));
}
