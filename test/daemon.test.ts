/**
 * The daemon driven by hand: a fake evaluation, listener, schedule and clock, no processes, no
 * timers. The real process, socket and signals are in test/integration/daemon.test.ts.
 */
import { describe, expect, test } from "bun:test";
import pino from "pino";
import { CarpError } from "../src/common/errors.ts";
import { type Config, type LoadedConfig, parseConfig } from "../src/config/config.ts";
import { Daemon, type DaemonDeps, startDaemon } from "../src/daemon/daemon.ts";
import { planReload } from "../src/daemon/reload.ts";
import type { SocketHandlers } from "../src/daemon/socket-server.ts";
import { stockBackMessage } from "../src/daemon/stock-watch.ts";
import type { HistoryMemory } from "../src/engine/flap-history.ts";
import type { Evaluation } from "../src/protocol/wire.ts";
import { captureLog } from "./log-capture.ts";
import { evaluationOf } from "./wire-builders.ts";

const BASE = { hooksDir: "/h", sysctl: "simulated", logger: "simulated", lockFile: "/l", socket: "/s.sock", schedule: "*/10 * * * * *" };

function config(extra: Record<string, unknown> = {}): Config {
  return parseConfig({ ...BASE, ...extra });
}

function evaluation(failed: string[] = []): Evaluation {
  return evaluationOf([], { failed });
}

/** A daemon world under the test's control: evaluations resolve when the test says so. */
function world(initial: Config = config()) {
  const events: string[] = [];
  const pending: Array<{ resolve(e: Evaluation): void; reject(e: unknown): void; signal: AbortSignal }> = [];
  let handlers: SocketHandlers | null = null;
  let tick: (() => void) | null = null;
  let now = Date.parse("2026-11-30T12:00:00Z");
  /** The monotonic clock: it moves with `advance`, not with `stepWall`. */
  let monotonic = 1_000_000;
  let nextConfig: LoadedConfig | Error = { config: initial, file: "/c.toml", notices: [] };
  let listenError: unknown = null;
  const timers: Array<() => void> = [];
  const fresh: boolean[] = [];
  const memories: HistoryMemory[] = [];
  const deps: DaemonDeps = {
    log: pino({ level: "silent" }),
    loadConfig: () => {
      if (nextConfig instanceof Error) throw nextConfig;
      return nextConfig;
    },
    evaluate: (_config, { signal, freshStart, memory }) => {
      events.push("evaluate");
      fresh.push(freshStart);
      memories.push(memory);
      return new Promise((resolve, reject) => pending.push({ resolve, reject, signal }));
    },
    listen: async (path, options) => {
      if (listenError) throw listenError;
      events.push(`listen ${path}`);
      handlers = options.handlers;
      return {
        path,
        replacedStale: false,
        stopAccepting: () => void events.push("stop accepting"),
        close: () => void events.push("close"),
      };
    },
    startSchedule: (pattern, onTick) => {
      events.push(`schedule ${pattern}`);
      tick = onTick;
      return { nextRun: () => new Date(now + 10_000), stop: () => void events.push(`unschedule ${pattern}`) };
    },
    now: () => new Date(now),
    monotonicMs: () => monotonic,
    setTimer: (ms, fn) => {
      events.push(`timer ${ms}`);
      timers.push(fn);
      return () => events.push(`cancel timer ${ms}`);
    },
  };
  return {
    deps,
    events,
    pending,
    fresh,
    memories,
    handlers: () => handlers!,
    /** Fires the newest timer. */
    fireTimer: () => timers.pop()!(),
    tick: () => tick!(),
    advance: (ms: number) => {
      now += ms;
      monotonic += ms;
    },
    /** Steps the wall clock alone, as NTP or an admin does. */
    stepWall: (ms: number) => {
      now += ms;
    },
    setNextConfig: (next: LoadedConfig | Error) => {
      nextConfig = next;
    },
    failListen: (error: unknown) => {
      listenError = error;
    },
    /** Settles the oldest running evaluation. */
    finish: async (result: Evaluation | Error = evaluation()) => {
      const next = pending.shift()!;
      if (result instanceof Error) next.reject(result);
      else next.resolve(result);
      await Bun.sleep(0);
    },
  };
}

const loaded = (c: Config): LoadedConfig => ({ config: c, file: "/c.toml", notices: [] });

describe("daemon", () => {
  test("starts by listening, scheduling and evaluating once", async () => {
    const w = world();
    await startDaemon(loaded(config()), w.deps);
    expect(w.events).toEqual(["listen /s.sock", "schedule */10 * * * * *", "evaluate"]);
  });

  test("a tick while an evaluation runs is served by one follow-up, and counted", async () => {
    const w = world();
    const daemon = await startDaemon(loaded(config()), w.deps);
    w.tick();
    w.tick();
    await w.finish();
    expect(w.events.filter((e) => e === "evaluate")).toHaveLength(2);
    await w.finish();
    expect(daemon.status().counters).toMatchObject({ scheduled: 2, evaluations: 2 });
  });

  test("triggers on the socket share the next evaluation and get its result", async () => {
    const w = world();
    const daemon = await startDaemon(loaded(config()), w.deps);
    const first = w.handlers().evaluate();
    const second = w.handlers().evaluate();
    await w.finish(); // the start-up evaluation
    await w.finish(evaluation(["dns"]));
    expect((await first).failed).toEqual(["dns"]);
    expect(await second).toBe(await first);
    expect(daemon.status().counters.triggers).toBe(2);
  });

  test("status tells uptime and the next run from the injected clock and schedule", async () => {
    const w = world();
    const daemon = await startDaemon(loaded(config()), w.deps);
    await w.finish();
    w.advance(42_000);
    const status = await w.handlers().status();
    expect(status.uptimeMs).toBe(42_000);
    expect(status.nextRun).toBe(new Date(Date.parse("2026-11-30T12:00:52Z")).toISOString());
    expect(status.configFile).toBe("/c.toml");
    expect(daemon.status().running).toBe(false);
  });

  test("a failed evaluation is counted as an error and kept for status", async () => {
    const w = world();
    const daemon = await startDaemon(loaded(config()), w.deps);
    await w.finish(new CarpError("system", "sysctl failed: unknown oid"));
    expect(daemon.status().counters.errors).toBe(1);
    expect(daemon.status().lastError?.message).toBe("sysctl failed: unknown oid");
  });

  test("reload with a new schedule replaces the old one", async () => {
    const w = world();
    const daemon = await startDaemon(loaded(config()), w.deps);
    w.setNextConfig(loaded(config({ schedule: "*/5 * * * * *" })));
    expect(daemon.reload()).toBe(true);
    expect(w.events.slice(-2)).toEqual(["unschedule */10 * * * * *", "schedule */5 * * * * *"]);
  });

  test("a config that cannot be read is not reloaded and the running one stays", async () => {
    const w = world();
    const daemon = await startDaemon(loaded(config()), w.deps);
    w.setNextConfig(new CarpError("config", "Invalid config"));
    expect(daemon.reload()).toBe(false);
    expect(daemon.status().schedule).toBe("*/10 * * * * *");
  });

  test("stop aborts the running evaluation, stops the schedule and closes the socket, writing nothing", async () => {
    const w = world();
    const daemon = await startDaemon(loaded(config()), w.deps);
    const running = w.pending[0]!;
    const stopped = daemon.stop();
    expect(running.signal.aborted).toBe(true);
    running.reject(running.signal.reason);
    await stopped;
    expect(w.events).toEqual([
      "listen /s.sock",
      "schedule */10 * * * * *",
      "evaluate",
      "unschedule */10 * * * * *",
      "stop accepting",
      "close",
    ]);
    expect(daemon.status().counters.errors).toBe(0);
  });

  test("a socket that cannot be created falls back to the schedule", async () => {
    const w = world();
    w.failListen(new CarpError("system", "Cannot create socket"));
    const daemon = await startDaemon(loaded(config()), w.deps);
    expect(daemon.status().socket).toBeNull();
    expect(w.events).toEqual(["schedule */10 * * * * *", "evaluate"]);
  });

  test("without a socket and without a schedule nothing could trigger: a system error", async () => {
    const w = world();
    w.failListen(new CarpError("system", "Cannot create socket"));
    const error = await startDaemon(loaded(config({ schedule: false })), w.deps).catch((e) => e);
    expect(error).toBeInstanceOf(CarpError);
    expect(error.message).toContain("no schedule is set");
  });

  test("a live daemon on the socket stops the start with its own error code", async () => {
    const w = world();
    w.failListen(new CarpError("in_use", "Another carp-service-status daemon is already listening"));
    const error = await new Daemon(loaded(config()), w.deps).start().catch((e) => e);
    expect(error.code).toBe("in_use");
  });
});

describe("flap control in the daemon", () => {
  test("the first evaluation observes afresh, and so does the next one if it failed", async () => {
    const w = world();
    const daemon = await startDaemon(loaded(config()), w.deps);
    await w.finish(new CarpError("system", "sysctl failed"));
    w.tick();
    await w.finish();
    w.tick();
    await w.finish();
    expect(w.fresh).toEqual([true, true, false]);
    expect(daemon.status().counters.evaluations).toBe(3);
  });

  test("every evaluation counts in the same memory, across reloads: it is the history when the state file is not", async () => {
    const w = world();
    const daemon = await startDaemon(loaded(config()), w.deps);
    await w.finish();
    w.setNextConfig(loaded(config({ rise: 3 })));
    daemon.reload();
    w.tick();
    await w.finish();
    expect(w.memories).toHaveLength(2);
    expect(w.memories[1]).toBe(w.memories[0]!);
    expect(w.memories[0]).toEqual({ history: null, fileBehind: false, logged: new Set() });
  });

  test("a held promotion runs again when its hold-down ends, not a schedule period later", async () => {
    const w = world();
    await startDaemon(loaded(config()), w.deps);
    const held = { passingSince: "2026-11-30T12:00:00.000Z", until: "2026-11-30T12:01:00.000Z", remainingMs: 42_000 };
    await w.finish({ ...evaluation(), demoted: true, promotionHeld: held });
    expect(w.events.slice(-1)).toEqual(["timer 42020"]);
    w.fireTimer();
    expect(w.events.slice(-1)).toEqual(["evaluate"]);
    await w.finish();
    expect(w.events.filter((e) => e.startsWith("timer"))).toHaveLength(1);
  });

  test("every evaluation's source is counted: the start, the schedule, the socket and the end of a hold-down", async () => {
    const w = world();
    const daemon = await startDaemon(loaded(config()), w.deps);
    const held = { passingSince: "x", until: "y", remainingMs: 1_000 };
    await w.finish({ ...evaluation(), demoted: true, promotionHeld: held });
    w.fireTimer();
    await w.finish();
    w.tick();
    await w.finish();
    void w.handlers().evaluate();
    await w.finish();
    expect(daemon.status().counters).toMatchObject({ evaluations: 4, starts: 1, holdEnds: 1, scheduled: 1, triggers: 1 });
  });

  test("status says what is left of the hold-down as of the reply, on the monotonic clock: a stepped wall clock moves it neither way", async () => {
    const w = world();
    const daemon = await startDaemon(loaded(config()), w.deps);
    const held = { passingSince: "2026-11-30T12:00:00.000Z", until: "2026-11-30T12:00:30.000Z", remainingMs: 30_000, started: true };
    await w.finish({ ...evaluation(), demoted: true, promotionHeld: held });
    w.advance(10_000);
    expect(daemon.status().promotionHeld).toEqual({
      passingSince: "2026-11-30T12:00:00.000Z",
      until: "2026-11-30T12:00:30.000Z",
      remainingMs: 20_000,
    });
    w.stepWall(3_600_000);
    const stepped = daemon.status().promotionHeld!;
    expect(stepped.remainingMs).toBe(20_000);
    // `until` is the end as the daemon's wall clock reads now.
    expect(stepped.until).toBe("2026-11-30T13:00:30.000Z");
    w.advance(25_000);
    expect(daemon.status().promotionHeld?.remainingMs).toBe(0);
    w.tick();
    await w.finish();
    expect(daemon.status().promotionHeld).toBeNull();
  });

  test("a new evaluation replaces the pending hold-down timer, and stop cancels it", async () => {
    const w = world();
    const daemon = await startDaemon(loaded(config()), w.deps);
    const held = (remainingMs: number) => ({ passingSince: "x", until: "y", remainingMs });
    await w.finish({ ...evaluation(), promotionHeld: held(30_000) });
    w.tick();
    await w.finish({ ...evaluation(), promotionHeld: held(20_000) });
    expect(w.events.filter((e) => e.includes("timer"))).toEqual(["timer 30020", "cancel timer 30020", "timer 20020"]);
    await daemon.stop();
    expect(w.events).toContain("cancel timer 20020");
  });
});

describe("planReload", () => {
  const current = config();
  const cases: Array<[string, Config, { listening: boolean }, ReturnType<typeof planReload>]> = [
    ["nothing changed", config(), { listening: true }, { accept: true, reschedule: false, socketChangeIgnored: false }],
    [
      "schedule changed",
      config({ schedule: "*/5 * * * * *" }),
      { listening: true },
      { accept: true, reschedule: true, socketChangeIgnored: false },
    ],
    [
      "schedule removed while listening",
      config({ schedule: false }),
      { listening: true },
      { accept: true, reschedule: true, socketChangeIgnored: false },
    ],
    [
      "socket changed",
      config({ socket: "/other.sock" }),
      { listening: true },
      { accept: true, reschedule: false, socketChangeIgnored: true },
    ],
    [
      "socket group changed",
      config({ socketGroup: 0 }),
      { listening: true },
      { accept: true, reschedule: false, socketChangeIgnored: true },
    ],
    [
      "no socket and no schedule",
      config({ schedule: false }),
      { listening: false },
      { accept: false, reason: "without a socket it needs a schedule" },
    ],
    ["no socket, schedule kept", config(), { listening: false }, { accept: true, reschedule: false, socketChangeIgnored: false }],
  ];
  for (const [name, next, context, plan] of cases) {
    test(name, () => expect(planReload(current, next, context)).toEqual(plan));
  }
});

describe("transition log lines", () => {
  const counted = (state: "pass" | "fail", streak: number, needed: number) => ({ state, streak, needed });
  const run = (status: "pass" | "fail", state: "pass" | "fail", streak: number) => ({
    name: "ospf",
    status,
    exitCode: status === "pass" ? 0 : 2,
    signal: null,
    timedOut: false,
    durationMs: 1,
    output: status === "pass" ? "" : "no neighbour Full\n",
    outputDroppedBytes: 0,
    reason: null,
    warnings: [],
    counted: counted(state, streak, 3),
  });

  test("a hook flapping below fall gets one info line per change of its raw result, never one per run", async () => {
    const w = world();
    const log = captureLog("info");
    w.deps.log = log.log;
    await startDaemon(loaded(config()), w.deps);
    const runs = [
      run("pass", "pass", 0),
      run("fail", "pass", 1),
      run("fail", "pass", 2),
      run("pass", "pass", 0),
      run("pass", "pass", 0),
      run("fail", "pass", 1),
    ];
    await w.finish({ ...evaluation(), services: [runs[0]!] });
    for (const next of runs.slice(1)) {
      w.tick();
      await w.finish({ ...evaluation(), services: [next] });
    }
    expect(log.lines.filter((line) => line.hook === "ospf").map((line) => [line.level, line.msg])).toEqual([
      [30, 'hook "ospf" failed its run (exit 2: no neighbour Full), still counts as pass: failing 1 of 3 (fall)'],
      [30, 'hook "ospf" passed its run, as it counts (pass)'],
      [30, 'hook "ospf" failed its run (exit 2: no neighbour Full), still counts as pass: failing 1 of 3 (fall)'],
    ]);
  });

  test("a hook that passes but still counts as failed (a stored failure at start) says why it is fail", async () => {
    const w = world();
    const log = captureLog("info");
    w.deps.log = log.log;
    await startDaemon(loaded(config()), w.deps);
    await w.finish({ ...evaluation(["ospf"]), demoted: true, services: [run("pass", "fail", 1)] });
    expect(log.lines.filter((line) => line.hook === "ospf").map((line) => line.msg)).toEqual([
      'hook "ospf" new -> fail: its last run passed, passing 1 of 3 (rise)',
    ]);
  });

  test("a failed run that ends a hold-down is one line, naming the hook", async () => {
    const w = world();
    const log = captureLog("info");
    w.deps.log = log.log;
    await startDaemon(loaded(config()), w.deps);
    const held = { passingSince: "x", until: "y", remainingMs: 30_000, started: true };
    await w.finish({ ...evaluation(), demoted: true, services: [run("pass", "pass", 0)], promotionHeld: held });
    w.tick();
    await w.finish({ ...evaluation(), demoted: true, services: [run("fail", "pass", 1)] });
    expect(log.messages()).toContain("promotion hold-down cancelled: ospf failed a run; the 2^20 bit stays set");
  });

  test("a change of the counted state is one line, not one more for the raw result that caused it", async () => {
    const w = world();
    const log = captureLog("info");
    w.deps.log = log.log;
    await startDaemon(loaded(config()), w.deps);
    await w.finish({ ...evaluation(), services: [run("pass", "pass", 0)] });
    w.tick();
    await w.finish({ ...evaluation(["ospf"]), services: [{ ...run("fail", "fail", 0), counted: counted("fail", 0, 1) }] });
    expect(log.lines.filter((line) => line.hook === "ospf").map((line) => [line.level, line.msg])).toEqual([
      [40, 'hook "ospf" pass -> fail'],
    ]);
  });

  test("escape a hook's name, reason and output, so a plain-text log keeps one line per record", async () => {
    const w = world();
    const lines: string[] = [];
    w.deps.log = pino({ level: "info" }, { write: (line: string) => void lines.push(line) });
    await startDaemon(loaded(config()), w.deps);
    const failing = {
      name: "a\nb",
      status: "fail" as const,
      exitCode: 1,
      signal: null,
      timedOut: false,
      durationMs: 1,
      output: "\u001b[31mboom\n",
      outputDroppedBytes: 0,
      reason: "killed by\rSIGKILL",
      warnings: [],
    };
    await w.finish({ ...evaluation(["a\nb"]), services: [failing] });
    const line = lines.map((l) => JSON.parse(l)).find((l) => l.to === "fail");
    expect(line).toMatchObject({
      hook: "a\\nb",
      output: "\\x1b[31mboom\\n",
      reason: "killed by\\rSIGKILL",
      msg: 'hook "a\\nb" new -> fail',
    });
  });
});

describe("the stock script back over our shim", () => {
  test("is looked at before each evaluation, logged once per change, and shown as an anomaly while it lasts", async () => {
    const w = world();
    const log = captureLog("info");
    w.deps.log = log.log;
    const path = "/usr/local/sbin/carp_service_status";
    let state: "shim" | "stock-back" | "not-replaced" = "shim";
    w.deps.observeStockScript = () => ({ state, path });
    const daemon = await startDaemon(loaded(config()), w.deps);
    await w.finish();
    expect(daemon.status()).toMatchObject({ stockScript: { state: "shim", path }, anomalies: [] });

    state = "stock-back"; // a firmware update
    for (let i = 0; i < 2; i++) {
      w.tick();
      await w.finish();
    }
    const stockLines = () => log.lines.filter((line) => line.stockScript === path).map((line) => [line.level, line.msg]);
    expect(stockLines()).toEqual([[40, stockBackMessage(path)]]);
    expect(daemon.status()).toMatchObject({ stockScript: { state: "stock-back" }, anomalies: [stockBackMessage(path)] });

    state = "shim"; // the update hook, or an admin, ran install --replace-stock
    w.tick();
    await w.finish();
    expect(stockLines().at(-1)).toEqual([30, `our shim is back at "${path}": the boot hook and plugins reach this daemon again`]);
    expect(daemon.status().anomalies).toEqual([]);

    state = "not-replaced"; // uninstall
    w.tick();
    await w.finish();
    expect(daemon.status().stockScript).toBeUndefined();
  });
});
