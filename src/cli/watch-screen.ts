/**
 * The screen of `status --watch`, as a pure function of what the daemon last said, the time and
 * the terminal's size: per hook its state, duration, time in that state and first output line;
 * the demotion explained; the last run and the time to the next. Every line fits the width, so
 * nothing wraps and a redraw in place stays in place. Light to import: the client path uses it.
 */
import { escapeControl } from "../common/escape.ts";
import type { DaemonStatus } from "../protocol/wire.ts";
import { formatDemotionLines } from "./demotion-lines.ts";
import { bitReasonOf, formatServices, holdLine, maintenanceLine } from "./report.ts";

/** What the view knows: the last status received (and when), and why the latest poll failed, if it did. */
export interface WatchState {
  socket: string;
  status: DaemonStatus | null;
  /** When `status` was received (ms since the epoch). */
  receivedAt: number | null;
  /** The latest poll's failure, or null when it answered. */
  error: string | null;
}

export interface ScreenSize {
  columns: number;
  rows: number;
}

/** "5 s", "3m 07s", "2h 05m", "4d 03h": short enough for a column, exact enough to watch. */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const pad = (n: number) => String(n).padStart(2, "0");
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${pad(s % 60)}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ${pad(Math.floor((s % 3600) / 60))}m`;
  return `${Math.floor(s / 86_400)}d ${pad(Math.floor((s % 86_400) / 3600))}h`;
}

/** HH:MM:SS of a time, local. */
function clock(ms: number): string {
  return new Date(ms).toTimeString().slice(0, 8);
}

function nextRunLine(status: DaemonStatus, now: number): string {
  if (status.running) return "running now";
  if (status.nextRun === null) return "next run on trigger only";
  return `next run in ${formatAge(Date.parse(status.nextRun) - now + 999)}`;
}

/** Cuts a line to `columns` characters (code points), marking the cut. */
function fit(line: string, columns: number): string {
  const chars = [...line];
  if (chars.length <= columns) return line;
  return columns <= 1 ? chars.slice(0, columns).join("") : `${chars.slice(0, columns - 1).join("")}…`;
}

/**
 * The hold-down as of now: what the daemon said was left when it answered, less the time since on
 * this machine's clock (never the daemon's `until` against ours: the two clocks may disagree).
 */
function holdLines(state: WatchState, now: number): string[] {
  const held = state.status?.promotionHeld;
  if (!held) return [];
  const elapsed = state.receivedAt === null ? 0 : Math.max(0, now - state.receivedAt);
  const remainingMs = Math.max(0, held.remainingMs - elapsed);
  return [holdLine({ ...held, remainingMs }, { since: (iso) => clock(Date.parse(iso)) })];
}

function statusLines(state: WatchState & { status: DaemonStatus }, now: number): string[] {
  const { status } = state;
  const lastRun = status.lastRun
    ? `last run ${clock(Date.parse(status.lastRun.startedAt))} (${status.lastRun.durationMs} ms, ${status.lastRun.action})`
    : "no run yet";
  return [
    ...(status.demotion === null ? ["demotion not read yet"] : formatDemotionLines(status.demotion, { why: bitReasonOf(status) })),
    ...(status.maintenance ? [maintenanceLine(status.maintenance, { since: (iso) => clock(Date.parse(iso)) })] : []),
    ...holdLines(state, now),
    `${lastRun} · ${nextRunLine(status, now)}`,
    ...(status.lastError ? [`last error at ${clock(Date.parse(status.lastError.at))}: ${escapeControl(status.lastError.message)}`] : []),
    ...status.anomalies.map((a) => `ANOMALY: ${escapeControl(a)}`),
    "",
    ...formatServices(status.services, { hooksDir: status.hooksDir, since: (s) => formatAge(now - Date.parse(s.since)) }).split("\n"),
  ];
}

/** The lines of one frame, each at most `columns` long, at most `rows` of them. */
export function renderWatchScreen(state: WatchState, now: number, size: ScreenSize): string[] {
  const { status } = state;
  const title = status
    ? `carp-service-status ${status.version} · pid ${status.pid} · up ${formatAge(status.uptimeMs)}`
    : "carp-service-status";
  const lines = [`${title} · ${clock(now)}`];
  if (state.error !== null) {
    const seen = state.receivedAt === null ? "" : `; below: as last seen at ${clock(state.receivedAt)}`;
    lines.push(`no answer from the daemon: ${escapeControl(state.error)}; asking again every second${seen}`);
  }
  if (status) lines.push(...statusLines({ ...state, status }, now));
  else if (state.error === null) lines.push(`asking the daemon at ${escapeControl(state.socket)} …`);
  const footer = "q or Ctrl-C: quit";
  const room = Math.max(1, size.rows - 2);
  const body = lines.length > room ? [...lines.slice(0, room - 1), `… ${lines.length - room + 1} more lines: enlarge the window`] : lines;
  return [...body, "", footer].slice(0, Math.max(1, size.rows)).map((line) => fit(line, Math.max(1, size.columns)));
}
