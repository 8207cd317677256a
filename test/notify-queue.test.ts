/** The notify queue with a stand-in runner: its bound (hook events drop, changes of our bit fold), a stop, a runner that throws, no notifyDir. */
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseConfig } from "../src/config/config.ts";
import { describeEvent, type NotifyEvent } from "../src/daemon/notify-events.ts";
import { bound, MAX_QUEUED_EVENTS, NotifyQueue } from "../src/daemon/notify-queue.ts";
import type { HookRun, RunHookOptions } from "../src/engine/hook-runner.ts";
import { waitFor } from "./helpers.ts";
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
  exitCode: 1,
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
  leftBehind: [],
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

/** A change of our bit, told apart by its time. */
const change = (kind: "demoted" | "promoted", n: number): Extract<NotifyEvent, { kind: "demoted" | "promoted" }> => ({
  kind,
  at: `change ${n}`,
  failed: [],
  demotionBefore: 0,
  demotionAfter: 0,
});

/** The changes of our bit, alternating from a demotion, as the daemon makes them. */
const changes = (count: number): NotifyEvent[] => Array.from({ length: count }, (_, i) => change(i % 2 === 0 ? "demoted" : "promoted", i));

/** A runner that holds its first run until released and lets the others through, recording arguments and environments. */
function firstHeldRunner() {
  const runs: Array<{ args: string[]; env: Record<string, string> }> = [];
  let release = () => {};
  const held = new Promise<void>((resolve) => {
    release = resolve;
  });
  const run = async (_path: string, options: RunHookOptions): Promise<HookRun> => {
    runs.push({ args: [...(options.args ?? [])], env: options.env });
    if (runs.length === 1) await held;
    return ok();
  };
  return { runs, run, release };
}

test("past MAX_QUEUED_EVENTS the oldest hook events are dropped, never a change of our bit; counted, and said once", async () => {
  const captured = captureLog();
  const runner = heldRunner();
  const queue = new NotifyQueue({ log: captured.log, config: () => config, isRoot: false, runScript: runner.run });
  queue.enqueue([event(0)]);
  await waitFor(() => runner.runs.length === 1, "event 0 to run and hold the queue");
  queue.enqueue([change("demoted", 0), ...Array.from({ length: MAX_QUEUED_EVENTS }, (_, i) => event(i + 1))]);
  queue.enqueue([event(MAX_QUEUED_EVENTS + 1), change("promoted", 1)]);
  expect(queue.waiting).toBe(MAX_QUEUED_EVENTS);
  expect(queue.dropped).toEqual({ hook: 3, change: 0 });
  const full = captured.lines.filter((l) => l.msg.startsWith("notify queue full"));
  expect(full.map((l) => l.msg)).toEqual([
    `notify queue full (${MAX_QUEUED_EVENTS} events): dropping the oldest hook events; changes of our bit are kept (the oldest folded into a later one when they alone fill it); notify scripts are slower than the changes, check notifyTimeoutMs`,
  ]);
  await runner.releaseNext();
  await runner.releaseNext();
  await runner.releaseNext();
  expect(runner.runs.slice(0, 3)).toEqual([["hook", "h0", "fail"], ["demoted"], ["hook", "h4", "fail"]]);
  await queue.stop();
  // The events stopped were not delivered, but the last of them is the promotion.
  const stopped = captured.lines.find((l) => l.msg.endsWith("notify events not delivered: stopping"));
  expect((stopped?.events as string[] | undefined)?.at(-1)).toBe("promoted");
});

test("changes of our bit alone past MAX_QUEUED_EVENTS: the oldest fold into a later one, which tells how many", async () => {
  const captured = captureLog();
  const runner = firstHeldRunner();
  const queue = new NotifyQueue({ log: captured.log, config: () => config, isRoot: false, runScript: runner.run });
  queue.enqueue([event(0)]);
  await waitFor(() => runner.runs.length === 1, "event 0 to run and hold the queue");
  queue.enqueue(changes(MAX_QUEUED_EVENTS + 3));
  // Two pairs (a demotion and the promotion undoing it) folded into the fifth change, a demotion.
  expect(queue.waiting).toBe(MAX_QUEUED_EVENTS - 1);
  expect(queue.dropped).toEqual({ hook: 0, change: 4 });
  runner.release();
  await queue.idle();
  const told = runner.runs.slice(1);
  expect(told).toHaveLength(MAX_QUEUED_EVENTS - 1);
  expect(told[0]).toEqual({ args: ["demoted"], env: expect.objectContaining({ CARP_EVENT_TIME: "change 4", CARP_CHANGES_FOLDED: "4" }) });
  expect(told.slice(1).every((run) => run.env.CARP_CHANGES_FOLDED === "0")).toBe(true);
  // Told one after the other, the changes still alternate, and the last one told is the last made.
  expect(told.every((run, i) => run.args[0] === (i % 2 === 0 ? "demoted" : "promoted"))).toBe(true);
  expect(told.at(-1)?.env.CARP_EVENT_TIME).toBe(`change ${MAX_QUEUED_EVENTS + 2}`);
  // One line when it filled, one when it emptied, with what it cost.
  const said = captured.lines.filter((l) => l.msg.startsWith("notify queue"));
  expect(said.map((l) => l.msg)).toEqual([
    expect.stringMatching(/^notify queue full /),
    "notify queue emptied: 0 hook events dropped and 4 changes of our bit folded while it was full",
  ]);
});

describe("bound", () => {
  test("drops the oldest hook events first, wherever they are", () => {
    const queue = [event(1), change("demoted", 0), event(2), event(3), change("promoted", 1)];
    expect(bound(queue, 3)).toEqual({ hook: 2, change: 0 });
    expect(queue.map(describeEvent)).toEqual(["demoted", 'hook "h3" fail', "promoted"]);
  });

  test("a change followed by one of the same kind (the bit reset outside) folds into that one", () => {
    const queue = [change("demoted", 0), change("demoted", 1), change("promoted", 2)];
    expect(bound(queue, 2)).toEqual({ hook: 0, change: 1 });
    expect(queue).toEqual([{ ...change("demoted", 1), folded: 1 }, change("promoted", 2)]);
  });

  test("a change and its undoing fold into the change after them, counts carried over", () => {
    const queue = [{ ...change("demoted", 0), folded: 6 }, change("promoted", 1), change("demoted", 2), change("promoted", 3)];
    expect(bound(queue, 3)).toEqual({ hook: 0, change: 2 });
    expect(queue).toEqual([{ ...change("demoted", 2), folded: 8 }, change("promoted", 3)]);
  });

  test("hold-down events go like hook events, before any change of our bit", () => {
    const held: NotifyEvent = {
      kind: "held",
      since: "s",
      until: "u",
      remainingMs: 1,
      at: "",
      failed: [],
      demotionBefore: 0,
      demotionAfter: 0,
    };
    const cancelled: NotifyEvent = { kind: "held-cancelled", brokenBy: ["x"], at: "", failed: [], demotionBefore: 0, demotionAfter: 0 };
    const queue = [held, change("demoted", 0), cancelled, change("promoted", 1)];
    expect(bound(queue, 2)).toEqual({ hook: 2, change: 0 });
    expect(queue.map(describeEvent)).toEqual(["demoted", "promoted"]);
  });

  test("within the bound nothing changes", () => {
    const queue = [event(1), change("demoted", 0)];
    expect(bound(queue, 2)).toEqual({ hook: 0, change: 0 });
    expect(queue).toHaveLength(2);
  });
});

test("a stop ends the running script, drops what waits, says how many, and queues nothing after", async () => {
  const captured = captureLog();
  const runner = heldRunner();
  const queue = new NotifyQueue({ log: captured.log, config: () => config, isRoot: false, runScript: runner.run });
  queue.enqueue([event(1), event(2), event(3)]);
  await waitFor(() => runner.runs.length === 1, "the first script to run");
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
  expect(queue.failures).toBe(1);
});

test("script runs that fail are counted: an exit status, a signal, a timeout; a run stopped by the daemon's stop is not", async () => {
  const outcomes = [ok({ exitCode: 1 }), ok({ exitCode: null, signal: "SIGKILL" }), ok({ exitCode: null, timedOut: true }), ok()];
  const queue = new NotifyQueue({ log: captureLog().log, config: () => config, isRoot: false, runScript: async () => outcomes.shift()! });
  queue.enqueue([event(1), event(2), event(3), event(4)]);
  await queue.idle();
  expect(queue.failures).toBe(3);
  const runner = heldRunner();
  const stopping = new NotifyQueue({ log: captureLog().log, config: () => config, isRoot: false, runScript: runner.run });
  stopping.enqueue([event(5)]);
  await waitFor(() => runner.runs.length === 1, "the first script to run");
  await stopping.stop();
  expect(stopping.failures).toBe(0);
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
