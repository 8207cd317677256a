/** A real pino logger whose lines the test can read. */
import pino from "pino";
import type { Logger } from "../src/system/log.ts";

export interface CapturedLog {
  log: Logger;
  /** Every line so far, parsed. */
  lines: Array<Record<string, unknown> & { level: number; msg: string }>;
  /** The messages so far, in order. */
  messages(): string[];
}

export function captureLog(level = "debug"): CapturedLog {
  const lines: CapturedLog["lines"] = [];
  const log = pino({ level }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { log, lines, messages: () => lines.map((line) => line.msg) };
}
