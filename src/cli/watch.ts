/**
 * `status --watch`: the daemon's status as a live view, redrawn in place when it changes. Plain
 * ANSI (alternate screen, cursor home, clear to end of line) works in every terminal an SSH
 * session brings, and a library would save no code here: the screen is one pure function
 * (watch-screen.ts), the rest is these few sequences, a poll and the ways to quit. A resize
 * repaints at the new size; q, Ctrl-C, SIGTERM or a hangup restores the terminal and exits 0.
 */

import { settledWithin } from "../common/deadline.ts";
import { CarpError, EXIT, messageOf } from "../common/errors.ts";
import { callDaemon } from "../protocol/client.ts";
import { STATUS_TIMEOUT_MS } from "../protocol/wire.ts";
import { renderWatchScreen, type WatchState } from "./watch-screen.ts";

/** Between two status requests; the countdown to the next run moves at the same pace. */
const POLL_MS = 1000;

const ESC = "\x1b[";
/** The alternate screen keeps the shell's scrollback as it was; the cursor would only flicker. */
const ENTER = `${ESC}?1049h${ESC}?25l`;
const LEAVE = `${ESC}?25h${ESC}?1049l`;
const HOME = `${ESC}H`;
const CLEAR_TO_LINE_END = `${ESC}K`;
const CLEAR_BELOW = `${ESC}J`;
const CLEAR_SCREEN = `${ESC}2J`;

/** Keys that quit: q, Q, Ctrl-C and Ctrl-D (raw mode delivers Ctrl-C as a byte, not SIGINT). */
const QUIT_KEYS = new Set(["q", "Q", "\x03", "\x04"]);
const QUIT_SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

/** The frame as bytes: from the top left, each line cleared to its end, everything below cleared. */
export function frameBytes(lines: readonly string[], { repaint }: { repaint: boolean }): string {
  return `${repaint ? CLEAR_SCREEN : ""}${HOME}${lines.map((line) => `${line}${CLEAR_TO_LINE_END}`).join("\r\n")}${CLEAR_BELOW}`;
}

function write(text: string): Promise<void> {
  return new Promise((resolve) => process.stdout.write(text, () => resolve()));
}

/** Shows the live view until the person quits; returns the exit status (0). */
export async function watchStatus(socket: string): Promise<number> {
  const { stdout, stdin } = process;
  if (!stdout.isTTY) throw new CarpError("usage", "status --watch needs a terminal; in scripts use status --json");

  const state: WatchState = { socket, status: null, receivedAt: null, error: null };
  let drawn = "";
  const draw = (repaint: boolean) => {
    const lines = renderWatchScreen(state, Date.now(), { columns: stdout.columns ?? 80, rows: stdout.rows ?? 24 });
    const text = lines.join("\n");
    if (!repaint && text === drawn) return;
    drawn = text;
    stdout.write(frameBytes(lines, { repaint }));
  };

  const { promise: quit, resolve: requestQuit } = Promise.withResolvers<void>();
  let quitting = false;
  void quit.then(() => {
    quitting = true;
  });
  const onKey = (data: Buffer) => {
    if ([...data.toString()].some((key) => QUIT_KEYS.has(key))) requestQuit();
  };
  const onQuitSignal = () => requestQuit();
  const onResize = () => draw(true);

  // Raw input: keys arrive one by one and are not echoed over the view.
  const rawInput = stdin.isTTY === true;
  if (rawInput) {
    stdin.setRawMode(true);
    stdin.on("data", onKey);
    stdin.resume();
  }
  for (const signal of QUIT_SIGNALS) process.on(signal, onQuitSignal);
  stdout.on("resize", onResize);
  await write(ENTER);
  try {
    draw(true);
    while (!quitting) {
      try {
        state.status = await callDaemon(socket, "status", { timeoutMs: STATUS_TIMEOUT_MS });
        state.receivedAt = Date.now();
        state.error = null;
      } catch (error) {
        // A daemon restarting or not yet started: say so and keep asking.
        state.error = messageOf(error);
      }
      if (quitting) break;
      draw(false);
      await settledWithin(quit, POLL_MS);
    }
  } finally {
    stdout.off("resize", onResize);
    for (const signal of QUIT_SIGNALS) process.off(signal, onQuitSignal);
    if (rawInput) {
      stdin.off("data", onKey);
      stdin.setRawMode(false);
      stdin.pause();
    }
    await write(LEAVE);
  }
  return EXIT.ok;
}
