/**
 * Log records as people read them: the message, then the other fields as key=value pairs
 * (quoted where needed, control characters made visible). Pure functions of a record (a logger
 * call's fields, level and message), used for syslog records, text lines on a pipe and on a terminal.
 */
import { escapeControl } from "../common/escape.ts";

/** One logger call: its fields, pino's level number, the message. */
export type LogRecord = Record<string, unknown> & { level?: number; time?: string | number; msg?: string };

/** syslog(3) priorities, named as logger(1) -p takes them. */
export type SyslogPriority = "crit" | "err" | "warning" | "notice" | "info" | "debug";

/** pino's own keys: shown as the prefix (or by syslog itself), never as fields. */
const OWN_KEYS = new Set(["level", "time", "pid", "hostname", "msg"]);

/** The level's name in a text line. */
export const LEVEL_NAMES: Record<number, string> = { 10: "TRACE", 20: "DEBUG", 30: "INFO", 40: "WARN", 50: "ERROR", 60: "FATAL" };

/** The syslog priority of a pino level: warn is warning, error err, fatal crit; trace and debug are debug. */
export function syslogPriority(level: number | undefined): SyslogPriority {
  if (level === undefined || level <= 20) return "debug";
  if (level <= 30) return "info";
  if (level <= 40) return "warning";
  if (level <= 50) return "err";
  return "crit";
}

/**
 * One value as logfmt writes it: bare when it can be, else in double quotes with `"` escaped and
 * control characters made visible. A backslash stays as it is (as escape.ts keeps it): hook output
 * arrives escaped at the source already, and `\n` must read as `\n`, not `\\n`. For reading, not
 * for parsing back; "json" is for machines.
 */
export function formatValue(value: unknown): string {
  const text =
    typeof value === "string"
      ? value
      : value instanceof Date
        ? value.toISOString()
        : Array.isArray(value) && value.every((item) => typeof item !== "object" || item === null)
          ? value.join(",")
          : typeof value === "object"
            ? JSON.stringify(value)
            : String(value);
  const plain = text !== "" && !/[\s="]/.test(text) && escapeControl(text) === text;
  return plain ? text : `"${escapeControl(text).replace(/"/g, '\\"')}"`;
}

/** Whether a field says nothing: null, undefined, an empty string or an empty list. */
function isEmpty(value: unknown): boolean {
  return value === null || value === undefined || value === "" || (Array.isArray(value) && value.length === 0);
}

/** The fields that are not pino's own, as `key=value` pairs; empty ones are left out. */
export function formatFields(record: LogRecord): string {
  return Object.entries(record)
    .filter(([key, value]) => !OWN_KEYS.has(key) && !isEmpty(value))
    .map(([key, value]) => `${key}=${formatValue(value)}`)
    .join(" ");
}

/** The message and its fields: a syslog record's text (syslog adds the time, host, ident and priority). */
export function formatMessage(record: LogRecord): string {
  const fields = formatFields(record);
  const message = escapeControl(record.msg ?? "");
  return fields === "" ? message : message === "" ? fields : `${message} ${fields}`;
}

/** A line for a pipe or a file: ISO time, level, message and fields. */
export function formatTextLine(record: LogRecord): string {
  const time = typeof record.time === "number" ? new Date(record.time).toISOString() : String(record.time ?? "");
  const level = LEVEL_NAMES[record.level ?? 30] ?? String(record.level);
  return `${time} ${level} ${formatMessage(record)}`;
}
