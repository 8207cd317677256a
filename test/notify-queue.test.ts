/** The notify queue with a stand-in runner: its bound, a stop, a runner that throws, no notifyDir. */
import { afterAll, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseConfig } from "../src/config/config.ts";
import type { NotifyEvent } from "../src/daemon/notify-events.ts";
import { MAX_QUEUED_EVENTS, NotifyQueue } from "../src/daemon/notify-queue.ts";
import type { HookRun, RunHookOptions } from "../src/engine/hook-runner.ts";
import { captureLog } from "./log-capture.ts";

const dir = mkdtempSync(join(tmpdir(), "carp-notify-"));
chmodSync(dir, 0o755);
writeFileSync(join(dir, "script"), "#!/bin/sh\n");
chmodSync(join(dir, "script"), 0o755);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const BASE = { hooksDir: "/h", sysctl: "simulated", logger: "simulated", lockFile: "/l", socket: false, schedule: "* * * * * *" };
const config = parseConfig({ ...BASE, notifyDir: dir });
const event = (n: number): NotifyEvent => ({
  kind: "hook",
  hook: `h${n}`,
  state: "fail",
  output: "",
  reason: "",
  at: "",
  failed: [],
  demotionBefore: 0,
  demotionAfter: 0,
});

const ok = (fields: Partial<HookRun> = {}): HookRun => ({
  exitCode: 0,
  signal: null,
  timedOut: false,
  aborted: false,
  durationMs: 1,
  output: "",
  outputDroppedBytes: 0,
  execError: null,
  leftProcesses: false,
  ...fields,
});

/** A runner that holds each run until the test releases it, recording its arguments. */
function heldRunner() {
  const runs: string[][] = [];
  const waiting: Array<() => void> = [];
  const run = (_path: string, options: RunHookOptions): Promise<HookRun> => {
    runs.push([...(options.args ?? [])]);
    return new Promise((resolve) => {
      waiting.push(() => resolve(ok()));
      options.signal?.addEventListener("abort", () => resolve(ok({ aborted: true })));
    });
  };
  const releaseNext = async () => {
    await Bun.sleep(5);
    waiting.shift()?.();
  };
  return { runs, run, releaseNext };
}

test("past MAX_QUEUED_EVENTS the oldest waiting events are dropped and said, the latest kept", async () => {
  const captured = captureLog();
  const runner = heldRunner();
  const queue = new NotifyQueue({ log: captured.log, config: () => config, isRoot: false, runScript: runner.run });
  queue.enqueue([event(0)]);
  await Bun.sleep(20); // event 0 is running and holds the queue
  queue.enqueue(Array.from({ length: MAX_QUEUED_EVENTS + 2 }, (_, i) => event(i + 1)));
  expect(queue.waiting).toBe(MAX_QUEUED_EVENTS);
  const warning = captured.lines.find((l) => l.msg.startsWith("notify queue full"));
  expect(warning?.dropped).toEqual(['hook "h1" fail', 'hook "h2" fail']);
  await runner.releaseNext();
  await runner.releaseNext();
  expect(runner.runs.slice(0, 2)).toEqual([
    ["hook", "h0", "fail"],
    ["hook", "h3", "fail"],
  ]);
  await queue.stop();
});

test("a stop ends the running script, drops what waits, says how many, and queues nothing after", async () => {
  const captured = captureLog();
  const runner = heldRunner();
  const queue = new NotifyQueue({ log: captured.log, config: () => config, isRoot: false, runScript: runner.run });
  queue.enqueue([event(1), event(2), event(3)]);
  await Bun.sleep(20);
  await queue.stop();
  expect(runner.runs).toEqual([["hook", "h1", "fail"]]);
  expect(captured.messages()).toContain("2 notify events not delivered: stopping");
  queue.enqueue([event(4)]);
  expect(queue.waiting).toBe(0);
});

test("a runner that throws (out of processes) is logged, and the next event still runs", async () => {
  const captured = captureLog();
  const runs: string[] = [];
  const queue = new NotifyQueue({
    log: captured.log,
    config: () => config,
    isRoot: false,
    runScript: async (_path, options) => {
      runs.push(options.args![1]!);
      if (runs.length === 1) throw new Error("EAGAIN");
      return ok();
    },
  });
  queue.enqueue([event(1), event(2)]);
  await queue.idle();
  expect(runs).toEqual(["h1", "h2"]);
  expect(captured.messages().some((m) => m.includes('not started for hook "h1" fail: EAGAIN'))).toBe(true);
});

test("without notifyDir nothing is queued", () => {
  const queue = new NotifyQueue({
    log: captureLog().log,
    config: () => parseConfig(BASE),
    runScript: () => Promise.reject(new Error("ran")),
  });
  queue.enqueue([event(1)]);
  expect(queue.waiting).toBe(0);
});
