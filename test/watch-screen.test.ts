/** The frame of status --watch as a pure function: what it shows, and that it always fits. */
import { describe, expect, test } from "bun:test";
import { frameBytes } from "../src/cli/watch.ts";
import { formatAge, renderWatchScreen, type WatchState } from "../src/cli/watch-screen.ts";
import type { DaemonStatus, ServiceStatus } from "../src/protocol/wire.ts";

const NOW = Date.parse("2026-11-30T12:00:07.200Z");

function service(name: string, status: ServiceStatus["status"], extra: Partial<ServiceStatus> = {}): ServiceStatus {
  return {
    name,
    status,
    exitCode: status === "pass" ? 0 : 2,
    signal: null,
    timedOut: false,
    durationMs: 4,
    output: "",
    outputDroppedBytes: 0,
    reason: null,
    warnings: [],
    since: "2026-11-30T11:55:00.000Z",
    ...extra,
  };
}

const status: DaemonStatus = {
  version: "0.1.0",
  pid: 77,
  startedAt: "2026-11-30T10:00:00.000Z",
  uptimeMs: 7_207_200,
  configFile: null,
  hooksDir: "/h",
  socket: "/s",
  schedule: "*/10 * * * * *",
  running: false,
  lastRun: { startedAt: "2026-11-30T12:00:00.000Z", durationMs: 12, action: "demoted", failed: ["frr"] },
  lastError: null,
  nextRun: "2026-11-30T12:00:10.000Z",
  demotion: 1049056,
  demoted: true,
  anomalies: [],
  warnings: [],
  counters: { evaluations: 1, triggers: 0, scheduled: 0, failedEvaluations: 1, errors: 0, demotions: 1, promotions: 0 },
  services: [
    service("dns", "pass", { output: "unbound answers\n" }),
    service("frr", "fail", { output: "no neighbour \u001b[31mFull\u001b[0m\n", since: "2026-11-30T12:00:00.000Z" }),
  ],
};

const state = (extra: Partial<WatchState> = {}): WatchState => ({ socket: "/s", status, receivedAt: NOW, error: null, ...extra });

describe("renderWatchScreen", () => {
  const lines = renderWatchScreen(state(), NOW, { columns: 200, rows: 40 });

  test("shows the demotion explained, the last and the next run", () => {
    expect(lines[1]).toStartWith("demotion 1049056: our bit (2^20: a service check failed) + 480 = 2 x 240 from the kernel");
    expect(lines[2]).toMatch(/^last run \d\d:\d\d:\d\d \(12 ms, demoted\) · next run in 3 s$/);
  });

  test("shows each hook's state, duration, time in that state and first output line, escaped", () => {
    const rows = lines.filter((line) => /^(dns|frr) /.test(line));
    expect(rows[0]).toMatch(/^dns\s+pass\s+0\s+4 ms\s+5m 07s\s+unbound answers$/);
    expect(rows[1]).toMatch(/^frr\s+fail\s+2\s+4 ms\s+7 s\s+no neighbour \\x1b\[31mFull\\x1b\[0m$/);
  });

  test("ends with how to quit", () => {
    expect(lines.at(-1)).toBe("q or Ctrl-C: quit");
  });

  test("no line is wider than the terminal, and a narrow one cuts with a mark", () => {
    const narrow = renderWatchScreen(state(), NOW, { columns: 30, rows: 40 });
    expect(Math.max(...narrow.map((line) => [...line].length))).toBeLessThanOrEqual(30);
    expect(narrow[1]).toEndWith("…");
  });

  test("no more lines than rows: what does not fit is counted", () => {
    const short = renderWatchScreen(state(), NOW, { columns: 200, rows: 6 });
    expect(short).toHaveLength(6);
    expect(short[3]).toMatch(/^… \d+ more lines: enlarge the window$/);
  });

  test("while the daemon does not answer, says so above what it showed last", () => {
    const lost = renderWatchScreen(state({ error: 'No daemon answers at "/s" (ECONNREFUSED)' }), NOW, { columns: 200, rows: 40 });
    expect(lost[1]).toMatch(
      /^no answer from the daemon: No daemon answers at "\/s" \(ECONNREFUSED\); asking again every second; below: as last seen at /,
    );
    expect(lost.some((line) => line.startsWith("dns"))).toBe(true);
  });

  test("a running evaluation and a daemon without schedule say so instead of a countdown", () => {
    expect(renderWatchScreen(state({ status: { ...status, running: true } }), NOW, { columns: 200, rows: 40 })[2]).toEndWith(
      "· running now",
    );
    expect(renderWatchScreen(state({ status: { ...status, nextRun: null } }), NOW, { columns: 200, rows: 40 })[2]).toEndWith(
      "· next run on trigger only",
    );
  });
});

describe("a hold-down in the view", () => {
  // The daemon's `until` is on its own wall clock, here an hour off ours: only remainingMs counts.
  const held: DaemonStatus = {
    ...status,
    demotion: 1048576,
    services: [service("frr", "pass", { counted: { state: "pass", streak: 0, needed: 3 } })],
    promotionHeld: { passingSince: "2026-11-30T11:59:50.000Z", until: "2026-11-30T13:00:20.000Z", remainingMs: 20_000 },
  };

  test("says promotion held, how long is left and since when every check passes; the bit is held, not failed", () => {
    const lines = renderWatchScreen(state({ status: held }), NOW, { columns: 200, rows: 40 });
    expect(lines[1]).toBe("demotion 1048576: our bit (2^20: held by the hold-down; every check passes)");
    expect(lines[2]).toMatch(/^promotion held: 20 s left \(every check passing since \d\d:\d\d:\d\d\)$/);
    expect(lines.join("\n")).not.toContain("a service check failed");
  });

  test("counts down from the reply on this machine's clock, between two polls", () => {
    const later = renderWatchScreen(state({ status: held, receivedAt: NOW - 3_500 }), NOW, { columns: 200, rows: 40 });
    expect(later[2]).toStartWith("promotion held: 17 s left");
  });
});

test("formatAge is short and exact enough to watch", () => {
  expect([0, 5_400, 187_000, 7_500_000, 270_000_000].map(formatAge)).toEqual(["0 s", "5 s", "3m 07s", "2h 05m", "3d 03h"]);
});

test("a frame is drawn from the top left over the last one, each line cleared to its end", () => {
  expect(frameBytes(["a", "b"], { repaint: false })).toBe("\x1b[Ha\x1b[K\r\nb\x1b[K\x1b[J");
  expect(frameBytes(["a"], { repaint: true })).toStartWith("\x1b[2J\x1b[H");
});
