import { describe, expect, test } from "bun:test";
import { formatFields, formatMessage, formatTextLine, formatValue, syslogPriority } from "../src/system/log-format.ts";

describe("log lines for people", () => {
  test("each pino level has the syslog priority of the same meaning", () => {
    const table = [10, 20, 30, 40, 50, 60].map((level) => [level, syslogPriority(level)]);
    expect(table).toEqual([
      [10, "debug"],
      [20, "debug"],
      [30, "info"],
      [40, "warning"],
      [50, "err"],
      [60, "crit"],
    ]);
  });

  const values: [unknown, string][] = [
    ["frr_ospf", "frr_ospf"],
    ["/var/run/carp_service_status.sock", "/var/run/carp_service_status.sock"],
    ["*/10 * * * * *", '"*/10 * * * * *"'],
    ['say "hi"', '"say \\"hi\\""'],
    ["a\\b", "a\\b"],
    ["escaped\\nat-the-source", "escaped\\nat-the-source"],
    ["a=b", '"a=b"'],
    ["", '""'],
    ["line one\nline two", '"line one\\nline two"'],
    ["\x1b[31mred", '"\\x1b[31mred"'],
    [1048576, "1048576"],
    [false, "false"],
    [["a", "b"], "a,b"],
    [["a b"], '"a b"'],
    [{ code: 1 }, '"{\\"code\\":1}"'],
  ];
  for (const [value, expected] of values) {
    test(`writes ${JSON.stringify(value)} as ${expected}`, () => {
      expect(formatValue(value)).toBe(expected);
    });
  }

  test("fields leave out pino's own keys and empty values", () => {
    const record = {
      level: 40,
      time: "t",
      pid: 1,
      hostname: "h",
      msg: "m",
      hook: "svc",
      exitCode: 1,
      reason: null,
      output: "down",
      failed: [],
    };
    expect(formatFields(record)).toBe("hook=svc exitCode=1 output=down");
    expect(formatFields({ msg: "m", output: "", exitCode: 0 })).toBe("exitCode=0");
  });

  test("a syslog record is the message, then the fields; control characters in the message are made visible", () => {
    expect(formatMessage({ level: 30, msg: "daemon started", version: "0.1.0" })).toBe("daemon started version=0.1.0");
    expect(formatMessage({ level: 30, msg: "stopped" })).toBe("stopped");
    expect(formatMessage({ level: 30, msg: 'hook "a\nb" pass -> fail' })).toBe('hook "a\\nb" pass -> fail');
  });

  test("a line for a pipe starts with the time and the level", () => {
    expect(formatTextLine({ level: 50, time: "2026-11-30T12:00:00.000Z", msg: "evaluation failed", err: "sysctl failed" })).toBe(
      '2026-11-30T12:00:00.000Z ERROR evaluation failed err="sysctl failed"',
    );
  });
});
