/** The evaluation with hand-written fakes for sysctl, syslog and the hook runner. */
import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import pino from "pino";
import { CarpError } from "../src/common/errors.ts";
import { parseConfig } from "../src/config/config.ts";
import { type EvaluateOptions, type EvaluationDeps, evaluate } from "../src/engine/evaluate.ts";
import { type FlapHistory, NO_HISTORY } from "../src/engine/flap.ts";
import { emptyMemory } from "../src/engine/flap-history.ts";
import type { HookRun, RunHookOptions } from "../src/engine/hook-runner.ts";
import type { MaintenanceRead } from "../src/engine/maintenance.ts";
import { formatState, type HistoryRead, historyAsOf, type StoredHistory } from "../src/engine/state-file.ts";
import type { ClockReading } from "../src/system/clock.ts";
import type { DemotionSysctl } from "../src/system/sysctl.ts";
import { timeline } from "./fake-clock.ts";
import { makeSandbox, type Sandbox } from "./helpers.ts";

const BIT = 1048576;

/** A kernel-like counter that records what happened, in order. */
function fakeKernel(initial: number, events: string[], options: { ignoreWrites?: boolean; failWrites?: boolean } = {}) {
  let value = initial;
  const sysctl: DemotionSysctl = {
    async read() {
      events.push(`read ${value}`);
      return value;
    },
    async add(delta) {
      if (options.failWrites) throw new CarpError("system", "sysctl net.inet.carp.demotion=1048576 failed: Operation not permitted");
      events.push(`add ${delta}`);
      const before = value;
      if (!options.ignoreWrites) value += delta;
      return { before, after: value };
    },
  };
  return { sysctl, value: () => value };
}

function fakeSyslog(events: string[], fail = false) {
  return {
    async warning(message: string) {
      if (fail) throw new CarpError("system", "logger failed: cannot connect to syslogd");
      events.push(`syslog ${message}`);
    },
  };
}

/** Hook results by name: an exit code, or a whole HookRun. */
function fakeRunner(outcomes: Record<string, number | Partial<HookRun>>, stats = { running: 0, peak: 0 }) {
  return async (path: string, _options: RunHookOptions): Promise<HookRun> => {
    stats.running++;
    stats.peak = Math.max(stats.peak, stats.running);
    await Bun.sleep(5);
    stats.running--;
    const outcome = outcomes[path.slice(path.lastIndexOf("/") + 1)] ?? 0;
    const fields = typeof outcome === "number" ? { exitCode: outcome } : outcome;
    return {
      exitCode: null,
      signal: null,
      timedOut: false,
      aborted: false,
      durationMs: 5,
      output: "",
      outputDroppedBytes: 0,
      execError: null,
      leftProcesses: false,
      leftBehind: [],
      ...fields,
    };
  };
}

const silent = pino({ level: "silent" });
let sandbox: Sandbox;
afterEach(() => sandbox.cleanup());

function setup(names: string[], initial: number, outcomes: Record<string, number | Partial<HookRun>>, extra: Partial<EvaluationDeps> = {}) {
  sandbox = makeSandbox();
  for (const name of names) sandbox.addHook(name, { fixture: "pass" });
  const events: string[] = [];
  const kernel = fakeKernel(initial, events);
  const deps: EvaluationDeps = {
    sysctl: kernel.sysctl,
    syslog: fakeSyslog(events),
    log: silent,
    runHook: fakeRunner(outcomes),
    isRoot: false,
    ...extra,
  };
  return { events, kernel, deps };
}

describe("evaluate", () => {
  test("demotes once when a service fails, logging after the write", async () => {
    const { events, kernel, deps } = setup(["ok", "unbound", "frr"], 0, { unbound: 1, frr: 2 });
    const evaluation = await evaluate(sandbox.config, deps);
    expect(evaluation.action).toBe("demoted");
    expect(evaluation.failed).toEqual(["frr", "unbound"]);
    expect(kernel.value()).toBe(BIT);
    expect(events).toEqual([
      "read 0",
      `add ${BIT}`,
      `read ${BIT}`,
      "syslog carp demoted by 1048576 due to service disruption (services: frr,unbound)",
    ]);
  });

  test("holds the lock from before the read until after the syslog line", async () => {
    const { events, deps } = setup(["svc"], 0, { svc: 1 });
    deps.acquireLock = async (file, options) => {
      events.push(`lock ${file} ${options.timeoutMs}`);
      return { release: () => void events.push("release") };
    };
    await evaluate(sandbox.config, deps);
    expect(events).toEqual([
      `lock ${sandbox.config.lockFile} ${sandbox.config.lockTimeoutMs}`,
      "read 0",
      `add ${BIT}`,
      `read ${BIT}`,
      "syslog carp demoted by 1048576 due to service disruption (services: svc)",
      "release",
    ]);
  });

  test("releases the lock when the write fails", async () => {
    const { events, deps } = setup(["svc"], 0, { svc: 1 });
    deps.sysctl = fakeKernel(0, events, { failWrites: true }).sysctl;
    deps.acquireLock = async () => {
      events.push("lock");
      return { release: () => void events.push("release") };
    };
    await expect(evaluate(sandbox.config, deps)).rejects.toBeInstanceOf(CarpError);
    expect(events).toEqual(["lock", "read 0", "release"]);
  });

  test("a hook we could not start for want of resources stops the run: the others are aborted, nothing is read or written", async () => {
    const { events, deps } = setup(["a", "b", "c"], 0, {});
    const aborted: string[] = [];
    deps.runHook = async (path, options) => {
      const name = path.slice(path.lastIndexOf("/") + 1);
      if (name === "b") throw new CarpError("system", `Cannot start hook "${path}": EMFILE`);
      await new Promise((resolve) => options.signal?.addEventListener("abort", resolve, { once: true }));
      aborted.push(name);
      return {
        exitCode: null,
        signal: "SIGTERM",
        timedOut: false,
        aborted: true,
        durationMs: 1,
        output: "",
        outputDroppedBytes: 0,
        execError: null,
        leftProcesses: false,
        leftBehind: [],
      };
    };
    const error = await evaluate(sandbox.config, deps).catch((e) => e);
    expect(error).toBeInstanceOf(CarpError);
    expect(error.message).toContain("EMFILE");
    expect(aborted.sort()).toEqual(["a", "c"]);
    expect(events).toEqual([]);
  });

  test("a hook that left processes behind passes, with the warning on its result", async () => {
    const { deps } = setup(["svc"], 0, { svc: { exitCode: 0, leftProcesses: true, leftBehind: ["sleep (pid 4242)"] } });
    const evaluation = await evaluate(sandbox.config, deps);
    expect(evaluation.action).toBe("none");
    expect(evaluation.services[0]).toMatchObject({
      name: "svc",
      status: "pass",
      warnings: [expect.stringContaining("left processes running: sleep (pid 4242); they were killed")],
    });
  });

  test("keeps other demotion contributors when demoting and promoting", async () => {
    const { kernel, deps } = setup(["svc"], 240, { svc: 1 });
    expect((await evaluate(sandbox.config, deps)).demotionAfter).toBe(1048816);
    deps.runHook = fakeRunner({ svc: 0 });
    const evaluation = await evaluate(sandbox.config, deps);
    expect(evaluation.action).toBe("promoted");
    expect(kernel.value()).toBe(240);
  });

  test("writes and logs nothing when the state already matches", async () => {
    const { events, deps } = setup(["svc"], BIT + 240, { svc: 1 });
    const evaluation = await evaluate(sandbox.config, deps);
    expect(evaluation.action).toBe("none");
    expect(evaluation.demoted).toBe(true);
    expect(events).toEqual([`read ${BIT + 240}`]);
  });

  test("a dry run decides but writes and logs nothing", async () => {
    const { events, deps } = setup(["svc"], 0, { svc: 1 });
    const evaluation = await evaluate(sandbox.config, deps, { dryRun: true });
    expect(evaluation.decision).toBe("demote");
    expect(evaluation.action).toBe("none");
    expect(evaluation.message).toContain("services: svc");
    expect(events).toEqual(["read 0"]);
  });

  test("a failed write logs nothing and throws a system error", async () => {
    const { events, deps } = setup(["svc"], 0, { svc: 1 });
    deps.sysctl = fakeKernel(0, events, { failWrites: true }).sysctl;
    const error = await evaluate(sandbox.config, deps).catch((e) => e);
    expect(error).toBeInstanceOf(CarpError);
    expect(error.code).toBe("system");
    expect(events.some((e) => e.startsWith("syslog"))).toBe(false);
  });

  test("a write that does not take is an anomaly", async () => {
    const { events, deps } = setup(["svc"], 0, { svc: 1 });
    deps.sysctl = fakeKernel(0, events, { ignoreWrites: true }).sysctl;
    const evaluation = await evaluate(sandbox.config, deps);
    expect(evaluation.anomalies[0]).toContain("the bit is not as written");
  });

  test("reports a stacked demotion left by someone else", async () => {
    const { deps } = setup(["svc"], 3 * BIT, { svc: 1 });
    const evaluation = await evaluate(sandbox.config, deps);
    expect(evaluation.action).toBe("none");
    expect(evaluation.anomalies[0]).toContain("2^21 or more");
  });

  test("a syslog failure after a good write is a warning, not a lost demotion", async () => {
    const { events, kernel, deps } = setup(["svc"], 0, { svc: 1 });
    deps.syslog = fakeSyslog(events, true);
    const evaluation = await evaluate(sandbox.config, deps);
    expect(evaluation.action).toBe("demoted");
    expect(kernel.value()).toBe(BIT);
    expect(evaluation.warnings[0]).toContain("syslog line was not sent");
  });

  test("timeouts, signals and exec failures fail with their reason", async () => {
    const { deps } = setup(["hung", "killed", "broken"], 0, {
      hung: { timedOut: true, exitCode: null, signal: "SIGTERM", durationMs: 10000 },
      killed: { signal: "SIGSEGV" },
      broken: { execError: 'cannot execute: interpreter "/x" not found (check the #! line)' },
    });
    const evaluation = await evaluate(sandbox.config, deps, { dryRun: true });
    expect(evaluation.services.map((s) => [s.name, s.status, s.reason])).toEqual([
      ["broken", "fail", 'cannot execute: interpreter "/x" not found (check the #! line)'],
      ["hung", "fail", "timed out after 10000 ms"],
      ["killed", "fail", "killed by SIGSEGV"],
    ]);
  });

  test("skipped entries are listed but never fail the node", async () => {
    const { deps } = setup(["svc"], BIT, { svc: 0 });
    sandbox.addHook("notes.txt", { content: "x" }, 0o644);
    const evaluation = await evaluate(sandbox.config, deps);
    expect(evaluation.services.map((s) => [s.name, s.status])).toEqual([
      ["notes.txt", "skipped"],
      ["svc", "pass"],
    ]);
    expect(evaluation.action).toBe("promoted");
  });

  test("an insecure hook fails the node when running as root", async () => {
    const { deps } = setup(["svc"], 0, { svc: 0, open: 0 });
    sandbox.addHook("open", { fixture: "pass" }, 0o777);
    const evaluation = await evaluate(sandbox.config, { ...deps, isRoot: true });
    expect(evaluation.failed).toEqual(["open"]);
    expect(evaluation.action).toBe("demoted");
  });

  test("a hook swapped while others run is refused right before its turn, and never run", async () => {
    const ran: string[] = [];
    const { deps } = setup(["a", "b"], 0, {});
    const b = join(sandbox.hooksDir, "b");
    const fake = fakeRunner({});
    deps.runHook = async (path, options) => {
      ran.push(path);
      // While "a" runs, "b" is replaced by another file with the same owner and mode.
      writeFileSync(`${b}.new`, "#!/bin/sh\nexit 0\n", { mode: 0o755 });
      renameSync(`${b}.new`, b);
      return fake(path, options);
    };
    const evaluation = await evaluate({ ...sandbox.config, concurrency: 1 }, { ...deps, isRoot: true });
    expect(ran).toEqual([join(sandbox.hooksDir, "a")]);
    expect(evaluation.services[1]).toMatchObject({ name: "b", status: "fail", exitCode: null });
    expect(evaluation.services[1]?.reason).toStartWith(
      `refused by script security: changed between discovery and exec: "${b}" now leads to another file`,
    );
    expect(evaluation.action).toBe("demoted");
  });

  test("a hooks directory that cannot be read is a system error and leaves the demotion alone", async () => {
    const { events, deps } = setup(["svc"], BIT, { svc: 0 });
    const error = await evaluate({ ...sandbox.config, hooksDir: join(sandbox.hooksDir, "svc") }, deps).catch((e) => e);
    expect(error).toBeInstanceOf(CarpError);
    expect(error.code).toBe("system");
    expect(events).toEqual([]);
  });

  test("a missing hooks directory counts as zero hooks, with a warning", async () => {
    const { deps } = setup([], BIT, {});
    const evaluation = await evaluate({ ...sandbox.config, hooksDir: "/nonexistent/hooks" }, deps);
    expect(evaluation.services).toEqual([]);
    expect(evaluation.warnings[0]).toContain('"/nonexistent/hooks" does not exist');
    expect(evaluation.action).toBe("promoted");
  });

  test("runs at most `concurrency` hooks at once", async () => {
    const names = Array.from({ length: 12 }, (_, i) => `h${i}`);
    const stats = { running: 0, peak: 0 };
    const { deps } = setup(names, 0, {}, { runHook: fakeRunner({}, stats) });
    await evaluate({ ...sandbox.config, concurrency: 3 }, deps, { dryRun: true });
    expect(stats.peak).toBe(3);
  });

  test("an aborted evaluation never writes", async () => {
    const { events, deps } = setup(["svc"], 0, { svc: 1 });
    const controller = new AbortController();
    controller.abort();
    await expect(evaluate(sandbox.config, deps, { signal: controller.signal })).rejects.toThrow();
    expect(events).toEqual([]);
  });
});

describe("flap control in an evaluation", () => {
  /** The sandbox's config with flap settings on top. */
  function withFlap(extra: Record<string, unknown>) {
    return parseConfig({ ...sandbox.config, ...extra });
  }

  test("counters outlive one evaluation through the state file: fall 2 demotes on the second failure", async () => {
    const { deps, kernel } = setup(["ospf"], 0, { ospf: 0 });
    const config = withFlap({ fall: 2 });
    await evaluate(config, deps);
    deps.runHook = fakeRunner({ ospf: 1 });
    const first = await evaluate(config, deps);
    expect(first.action).toBe("none");
    expect(first.failed).toEqual([]);
    expect(first.services[0]).toMatchObject({ status: "fail", counted: { state: "pass", streak: 1, needed: 2 } });
    const second = await evaluate(config, deps);
    expect(second.action).toBe("demoted");
    expect(second.failed).toEqual(["ospf"]);
    expect(kernel.value()).toBe(BIT);
  });

  test("a daemon's fresh start sets each hook's state from what it observes", async () => {
    const { deps } = setup(["ospf"], 0, { ospf: 0 });
    const config = withFlap({ fall: 3 });
    await evaluate(config, deps);
    deps.runHook = fakeRunner({ ospf: 1 });
    expect((await evaluate(config, deps)).action).toBe("none");
    expect((await evaluate(config, deps, { freshStart: true })).action).toBe("demoted");
  });

  test("a corrupt state file is a lost history: a failing check still demotes at once, with the reason", async () => {
    const { deps } = setup(["ospf"], 0, { ospf: 1 });
    writeFileSync(sandbox.config.stateFile, "{ not json");
    const evaluation = await evaluate(withFlap({ fall: 3 }), deps);
    expect(evaluation.action).toBe("demoted");
    expect(evaluation.warnings).toEqual([expect.stringContaining("is not JSON: the flap history is lost for this run")]);
    expect(evaluation.promotionWithheld).toBeNull();
  });

  test("someone clearing our bit while a check counts as failed: set again, and said", async () => {
    const { deps, events } = setup(["ospf"], 0, { ospf: 1 });
    await evaluate(sandbox.config, deps);
    // Leaving CARP maintenance mode writes the value back to the default.
    deps.sysctl = fakeKernel(0, events).sysctl;
    const evaluation = await evaluate(sandbox.config, deps);
    expect(evaluation.action).toBe("demoted");
    expect(evaluation.warnings).toEqual([expect.stringContaining("taken off outside this tool")]);
  });

  test("a held promotion says until when, and promotes once the hold-down has passed", async () => {
    const { deps, kernel } = setup(["ospf"], 0, { ospf: 1 });
    const time = timeline();
    deps.clock = time.clock("check");
    const config = withFlap({ promoteDelayMs: 60_000 });
    await evaluate(config, deps);
    deps.runHook = fakeRunner({ ospf: 0 });
    time.advance(5_000);
    const held = await evaluate(config, deps);
    expect(held.action).toBe("none");
    expect(held.promotionHeld).toEqual({
      passingSince: "2026-11-30T12:00:05.000Z",
      until: "2026-11-30T12:01:05.000Z",
      remainingMs: 60_000,
      started: true,
    });
    // The next run finds it lasting: it did not start it.
    time.advance(20_000);
    expect((await evaluate(config, deps)).promotionHeld).toEqual({
      passingSince: "2026-11-30T12:00:05.000Z",
      until: "2026-11-30T12:01:05.000Z",
      remainingMs: 40_000,
      started: false,
    });
    time.advance(40_000);
    expect((await evaluate(config, deps)).action).toBe("promoted");
    expect(kernel.value()).toBe(0);
  });

  test("results older than another run's decision do not overrule it: a slow passing run cannot promote after a newer demotion", async () => {
    const { deps, kernel } = setup(["ospf"], BIT, { ospf: 0 });
    const time = timeline();
    deps.clock = time.clock("slow");
    const passing = fakeRunner({ ospf: 0 });
    let newer: FlapHistory | null = null;
    deps.runHook = async (path, options) => {
      // While this run's checks run, a newer run (a check, configd's evaluate) sees the failure and decides.
      time.advance(5_000);
      const other = time.clock("newer").reading();
      newer = { hooks: { ospf: { state: "fail", streak: 0 } }, passingSince: null, bitSet: true, observedAt: other.monotonicMs - 1_000 };
      writeFileSync(sandbox.config.stateFile, formatState(newer, other));
      return passing(path, options);
    };
    const evaluation = await evaluate(sandbox.config, deps);
    expect(evaluation.action).toBe("none");
    expect(evaluation.warnings).toEqual([expect.stringContaining("its result stands")]);
    expect(kernel.value()).toBe(BIT);
    expect(JSON.parse(readFileSync(sandbox.config.stateFile, "utf8")).observedAt).toBe(newer!.observedAt);
  });

  test("a state file that cannot be written: a failing check still demotes at once, and the reason is given", async () => {
    const { deps, kernel } = setup(["ospf"], 0, { ospf: 1 });
    writeFileSync(join(sandbox.dir, "not-a-directory"), "");
    const config = withFlap({ fall: 3, stateFile: join(sandbox.dir, "not-a-directory", "state") });
    const evaluation = await evaluate(config, deps);
    expect(evaluation.action).toBe("demoted");
    expect(kernel.value()).toBe(BIT);
    expect(evaluation.warnings).toEqual(expect.arrayContaining([expect.stringContaining("the flap history is lost for this run")]));
  });

  test("a dry run shows the counted states but keeps no history", async () => {
    const { deps } = setup(["ospf"], 0, { ospf: 1 });
    const config = withFlap({ fall: 2 });
    await evaluate(config, deps, { dryRun: true });
    await evaluate(config, deps, { dryRun: true });
    expect(existsSync(sandbox.config.stateFile)).toBe(false);
  });

  test("[hooks.NAME] enabled = false lists the hook as skipped and never runs it", async () => {
    const ran: string[] = [];
    const { deps } = setup(["ospf", "dns"], 0, {});
    deps.runHook = async (path, options) => {
      ran.push(path.slice(path.lastIndexOf("/") + 1));
      return fakeRunner({ dns: 1, ospf: 1 })(path, options);
    };
    const evaluation = await evaluate(withFlap({ hooks: { ospf: { enabled: false } } }), deps);
    expect(ran).toEqual(["dns"]);
    expect(evaluation.services.find((s) => s.name === "ospf")).toMatchObject({
      status: "skipped",
      reason: expect.stringContaining("enabled = false"),
    });
    expect(evaluation.failed).toEqual(["dns"]);
  });

  test("[hooks.NAME] timeoutMs overrides hookTimeoutMs for that hook only", async () => {
    const timeouts: Record<string, number> = {};
    const { deps } = setup(["ospf", "dns"], 0, {});
    deps.runHook = async (path, options) => {
      timeouts[path.slice(path.lastIndexOf("/") + 1)] = options.timeoutMs;
      return fakeRunner({})(path, options);
    };
    await evaluate(withFlap({ hookTimeoutMs: 10_000, hooks: { ospf: { timeoutMs: 3000 } } }), deps);
    expect(timeouts).toEqual({ ospf: 3000, dns: 10_000 });
  });

  test("a [hooks.NAME] without a file is a warning, not an error", async () => {
    const { deps } = setup(["dns"], 0, {});
    const evaluation = await evaluate(withFlap({ hooks: { later: { fall: 3 } } }), deps);
    expect(evaluation.warnings).toEqual([expect.stringContaining('[hooks."later"] names no file')]);
  });
});

/** The state file as a test controls it: kept as a history and the clock that wrote it, and made to fail. */
function fakeStore() {
  let stored: StoredHistory | null = null;
  const store = {
    failRead: null as string | null,
    failWrite: null as string | null,
    writes: 0,
    read(now: ClockReading): HistoryRead {
      if (store.failRead !== null) return { status: "unreadable", history: NO_HISTORY, reason: store.failRead };
      if (stored === null) return { status: "missing", history: NO_HISTORY };
      return { status: "read", ...historyAsOf(stored, now) };
    },
    write(history: FlapHistory, now: ClockReading): string | null {
      if (store.failWrite !== null) return store.failWrite;
      store.writes++;
      stored = { history, clock: now };
      return null;
    },
  };
  return store;
}

describe("time that cannot jump: the hold-down is measured on the monotonic clock", () => {
  /** ospf failed (demoted), then passes: the hold-down of promoteDelayMs has just begun. */
  async function holding(promoteDelayMs = 300_000, options: { bootIds?: boolean } = {}) {
    const { deps, kernel } = setup(["ospf"], 0, { ospf: 1 });
    const time = timeline();
    const store = fakeStore();
    deps.historyStore = store;
    deps.clock = time.clock("check-1", { bootId: options.bootIds ?? true });
    const config = parseConfig({ ...sandbox.config, promoteDelayMs });
    expect((await evaluate(config, deps)).action).toBe("demoted");
    deps.runHook = fakeRunner({ ospf: 0 });
    time.advance(1_000);
    deps.clock = time.clock("check-2", { bootId: options.bootIds ?? true });
    expect((await evaluate(config, deps)).promotionHeld?.remainingMs).toBe(promoteDelayMs);
    return { deps, kernel, time, store, config };
  }

  test("the wall clock stepped +1 h inside one process (the daemon) does not end a hold-down early", async () => {
    const { deps, kernel, time, config } = await holding();
    time.advance(6_000);
    time.stepWall(3_600_000);
    const evaluation = await evaluate(config, deps);
    expect(evaluation.action).toBe("none");
    expect(evaluation.promotionHeld?.remainingMs).toBe(294_000);
    expect(kernel.value()).toBe(BIT);
    // Shown on the wall clock as it reads now.
    expect(evaluation.promotionHeld?.until).toBe(new Date(Date.parse("2026-11-30T12:00:01Z") + 3_600_000 + 300_000).toISOString());
  });

  test("the wall clock stepped +1 h between one-shot runs of one boot: the hold-down goes on, on the monotonic clock", async () => {
    const { deps, kernel, time, config } = await holding();
    time.advance(6_000);
    time.stepWall(3_600_000);
    deps.clock = time.clock("check-3");
    const stepped = await evaluate(config, deps);
    expect(stepped.action).toBe("none");
    expect(stepped.promotionHeld?.remainingMs).toBe(294_000);
    time.advance(294_000);
    deps.clock = time.clock("check-4");
    expect((await evaluate(config, deps)).action).toBe("promoted");
    expect(kernel.value()).toBe(0);
  });

  test("the wall clock stepped back 1 h between one-shot runs does not stretch the hold-down either", async () => {
    const { deps, time, config } = await holding();
    time.stepWall(-3_600_000);
    time.advance(300_000);
    deps.clock = time.clock("check-3");
    expect((await evaluate(config, deps)).action).toBe("promoted");
  });

  test("without boot ids, a stepped wall clock between processes restarts the hold-down in full, never ends it early", async () => {
    const { deps, kernel, time, config } = await holding(300_000, { bootIds: false });
    time.advance(6_000);
    time.stepWall(3_600_000);
    deps.clock = time.clock("check-3", { bootId: false });
    const stepped = await evaluate(config, deps);
    expect(stepped.action).toBe("none");
    expect(stepped.promotionHeld?.remainingMs).toBe(300_000);
    expect(stepped.warnings).toEqual([expect.stringContaining("The hold-down starts over: the wall clock has moved +3600 s")]);
    expect(kernel.value()).toBe(BIT);
  });

  test("after a reboot a stored hold-down restarts in full", async () => {
    const { deps, time, config } = await holding();
    time.reboot({ uptimeMs: 400_000 });
    deps.clock = time.clock("check-after-boot");
    const evaluation = await evaluate(config, deps);
    expect(evaluation.action).toBe("none");
    expect(evaluation.promotionHeld?.remainingMs).toBe(300_000);
    expect(evaluation.warnings).toEqual([expect.stringContaining("the machine has restarted")]);
  });
});

describe("fail closed when the history is lost", () => {
  /** rise 3 and a minute's hold-down: fail, then one passing run ("passing 1 of 3"). */
  async function passingOnce(extra: Partial<EvaluateOptions> = {}) {
    const { deps, kernel } = setup(["ospf"], 0, { ospf: 1 });
    const time = timeline();
    const store = fakeStore();
    deps.historyStore = store;
    deps.clock = time.clock("p");
    const config = parseConfig({ ...sandbox.config, rise: 3, promoteDelayMs: 60_000 });
    expect((await evaluate(config, deps, extra)).action).toBe("demoted");
    deps.runHook = fakeRunner({ ospf: 0 });
    time.advance(10_000);
    const once = await evaluate(config, deps, extra);
    expect(once.services[0]?.counted).toEqual({ state: "fail", streak: 1, needed: 3 });
    return { deps, kernel, time, store, config };
  }

  test("a one-shot run that cannot write the history keeps the bit and says why, however long it passes", async () => {
    const { deps, kernel, time, store, config } = await passingOnce();
    store.failWrite = 'Cannot write the state file "/var/run/s": EROFS: read-only file system';
    for (let run = 0; run < 5; run++) {
      time.advance(60_000);
      const evaluation = await evaluate(config, deps);
      expect(evaluation.action).toBe("none");
      expect(evaluation.services[0]?.counted).toEqual({ state: "fail", streak: 1, needed: 3 });
      expect(evaluation.promotionWithheld).toStartWith(
        'The 2^20 bit stays set although every check passes: Cannot write the state file "/var/run/s": EROFS: read-only file system, so this run cannot count',
      );
    }
    expect(kernel.value()).toBe(BIT);
  });

  test("a one-shot run that cannot read the history keeps the bit too", async () => {
    const { deps, kernel, time, store, config } = await passingOnce();
    store.failRead = 'Cannot read the state file "/var/run/s": it is a FIFO (named pipe), not a regular file';
    time.advance(600_000);
    const evaluation = await evaluate(config, deps);
    expect(evaluation.action).toBe("none");
    expect(evaluation.promotionWithheld).toContain("it is a FIFO");
    expect(kernel.value()).toBe(BIT);
  });

  test("with the history lost a failing check still demotes at once, whatever fall says", async () => {
    const { deps, kernel } = setup(["ospf"], 0, { ospf: 0 });
    const store = fakeStore();
    deps.historyStore = store;
    deps.clock = timeline().clock("p");
    const config = parseConfig({ ...sandbox.config, fall: 3 });
    await evaluate(config, deps);
    store.failWrite = "Cannot write the state file: ENOSPC";
    deps.runHook = fakeRunner({ ospf: 1 });
    const evaluation = await evaluate(config, deps);
    expect(evaluation.action).toBe("demoted");
    expect(evaluation.promotionWithheld).toBeNull();
    expect(kernel.value()).toBe(BIT);
  });

  test("without flap control a lost history changes nothing: every run decides alone, as the stock script", async () => {
    const { deps, kernel } = setup(["ospf"], BIT, { ospf: 0 });
    const store = fakeStore();
    store.failRead = "Cannot read the state file: EACCES";
    store.failWrite = "Cannot write the state file: EACCES";
    deps.historyStore = store;
    const evaluation = await evaluate(sandbox.config, deps);
    expect(evaluation.action).toBe("promoted");
    expect(evaluation.promotionWithheld).toBeNull();
    expect(kernel.value()).toBe(0);
  });

  test("the daemon counts on in memory when the state file cannot be written, and promotes on time", async () => {
    const memory = emptyMemory();
    const { deps, kernel, time, store, config } = await passingOnce({ memory });
    store.failWrite = "Cannot write the state file: EROFS";
    time.advance(10_000);
    const second = await evaluate(config, deps, { memory });
    expect(second.services[0]?.counted).toEqual({ state: "fail", streak: 2, needed: 3 });
    expect(second.promotionWithheld).toBeNull();
    expect(second.warnings).toEqual(["Cannot write the state file: EROFS; the daemon keeps counting in memory"]);
    time.advance(10_000);
    const third = await evaluate(config, deps, { memory });
    expect(third.services[0]?.counted).toEqual({ state: "pass", streak: 0, needed: 1 });
    expect(third.promotionHeld?.remainingMs).toBe(60_000);
    time.advance(60_000);
    expect((await evaluate(config, deps, { memory })).action).toBe("promoted");
    expect(kernel.value()).toBe(0);
  });

  test("the daemon counts from memory when the state file cannot be read", async () => {
    const memory = emptyMemory();
    const { deps, time, store, config } = await passingOnce({ memory });
    store.failRead = "Cannot read the state file: it is a FIFO (named pipe), not a regular file";
    time.advance(10_000);
    const evaluation = await evaluate(config, deps, { memory });
    expect(evaluation.services[0]?.counted).toEqual({ state: "fail", streak: 2, needed: 3 });
    expect(evaluation.warnings).toEqual([expect.stringContaining("counting from the daemon's memory")]);
  });

  test("a daemon that starts without a readable history and finds the bit set counts rise and the hold-down from its start", async () => {
    const memory = emptyMemory();
    const { deps, kernel } = setup(["ospf"], BIT, { ospf: 0 });
    const time = timeline();
    const store = fakeStore();
    store.failRead = "Cannot read the state file: EIO";
    deps.historyStore = store;
    deps.clock = time.clock("daemon");
    const config = parseConfig({ ...sandbox.config, rise: 2, promoteDelayMs: 30_000 });
    const first = await evaluate(config, deps, { memory, freshStart: true });
    expect(first.services[0]?.counted).toEqual({ state: "fail", streak: 1, needed: 2 });
    time.advance(10_000);
    expect((await evaluate(config, deps, { memory })).promotionHeld?.remainingMs).toBe(30_000);
    time.advance(30_000);
    expect((await evaluate(config, deps, { memory })).action).toBe("promoted");
    expect(kernel.value()).toBe(0);
  });

  test("a lasting state-file problem is logged once by the daemon, not at every run", async () => {
    const memory = emptyMemory();
    const lines: string[] = [];
    const log = pino({ level: "info" }, { write: (line: string) => void lines.push(JSON.parse(line).msg) });
    const { deps } = setup(["ospf"], 0, { ospf: 0 }, { log });
    const store = fakeStore();
    store.failWrite = "Cannot write the state file: EROFS";
    deps.historyStore = store;
    for (let run = 0; run < 3; run++) await evaluate(sandbox.config, deps, { memory });
    store.failWrite = null;
    await evaluate(sandbox.config, deps, { memory });
    expect(lines.filter((line) => line.includes("state file"))).toEqual([
      "Cannot write the state file: EROFS; the daemon keeps counting in memory",
      "the state file is read and written again",
    ]);
  });
});

describe("the maintenance switch in an evaluation", () => {
  const on = (reason: string | null = "upgrading FRR") => ({ reason, since: "2026-11-30T11:00:00.000Z" });

  function withSwitch(read: () => MaintenanceRead, extra: Record<string, unknown> = {}) {
    return { readMaintenance: read, config: parseConfig({ ...sandbox.config, ...extra }) };
  }

  test("on: demotes although every check passes, with its own syslog line", async () => {
    const { deps, kernel, events } = setup(["ospf"], 240, { ospf: 0 });
    deps.readMaintenance = () => ({ status: "on", maintenance: on() });
    const evaluation = await evaluate(sandbox.config, deps);
    expect(evaluation.action).toBe("demoted");
    expect(evaluation.failed).toEqual([]);
    expect(evaluation.maintenance).toEqual(on());
    expect(kernel.value()).toBe(BIT + 240);
    expect(events).toContain("syslog carp demoted by 1048576 due to carp-service-status maintenance (upgrading FRR)");
  });

  test("on while a check fails: the stock line names the check", async () => {
    const { deps, events } = setup(["ospf"], 0, { ospf: 2 });
    deps.readMaintenance = () => ({ status: "on", maintenance: on(null) });
    await evaluate(sandbox.config, deps);
    expect(events).toContain("syslog carp demoted by 1048576 due to service disruption (services: ospf)");
  });

  test("the bit cleared from outside while it is on (leaving CARP maintenance mode): set again, and said", async () => {
    const { deps, events } = setup(["ospf"], 0, { ospf: 0 });
    deps.readMaintenance = () => ({ status: "on", maintenance: on() });
    expect((await evaluate(sandbox.config, deps)).action).toBe("demoted");
    deps.sysctl = fakeKernel(0, events).sysctl;
    const again = await evaluate(sandbox.config, deps);
    expect(again.action).toBe("demoted");
    expect(again.warnings).toEqual([
      "The 2^20 bit was taken off outside this tool while carp-service-status maintenance is on (leaving CARP maintenance mode does that); setting it again",
    ]);
  });

  test("off: promoted at once without a hold-down", async () => {
    const { deps, kernel } = setup(["ospf"], 0, { ospf: 0 });
    let read: MaintenanceRead = { status: "on", maintenance: on() };
    deps.readMaintenance = () => read;
    await evaluate(sandbox.config, deps);
    read = { status: "off" };
    const off = await evaluate(sandbox.config, deps);
    expect(off.action).toBe("promoted");
    expect(off.maintenance).toBeNull();
    expect(kernel.value()).toBe(0);
  });

  test("off with a hold-down: the whole hold-down runs from the moment it is off, however long the checks passed before", async () => {
    const { deps, kernel } = setup(["ospf"], 0, { ospf: 0 });
    const time = timeline();
    deps.clock = time.clock("daemon");
    let read: MaintenanceRead = { status: "on", maintenance: on() };
    const { config } = withSwitch(() => read, { promoteDelayMs: 60_000 });
    deps.readMaintenance = () => read;
    await evaluate(config, deps);
    time.advance(120_000);
    const still = await evaluate(config, deps);
    expect(still.promotionHeld).toBeNull();
    expect(still.demoted).toBe(true);
    read = { status: "off" };
    time.advance(1_000);
    const held = await evaluate(config, deps);
    expect(held.action).toBe("none");
    expect(held.promotionHeld).toMatchObject({ remainingMs: 60_000, started: true });
    time.advance(60_000);
    expect((await evaluate(config, deps)).action).toBe("promoted");
    expect(kernel.value()).toBe(0);
  });

  test("turned on during a hold-down: it ends the hold-down, and nothing is promoted", async () => {
    const { deps, kernel } = setup(["ospf"], BIT, { ospf: 0 });
    const time = timeline();
    deps.clock = time.clock("daemon");
    let read: MaintenanceRead = { status: "off" };
    deps.readMaintenance = () => read;
    const config = parseConfig({ ...sandbox.config, promoteDelayMs: 30_000 });
    expect((await evaluate(config, deps)).promotionHeld).not.toBeNull();
    read = { status: "on", maintenance: on() };
    time.advance(40_000);
    const evaluation = await evaluate(config, deps);
    expect(evaluation.action).toBe("none");
    expect(evaluation.promotionHeld).toBeNull();
    expect(kernel.value()).toBe(BIT);
  });

  test("a switch that cannot be told leaves the bit as it is, either way, and says why", async () => {
    const problem = 'The maintenance file "/var/db/x" is not a maintenance switch of version 1';
    const unknown = setup(["ospf"], BIT, { ospf: 0 });
    unknown.deps.readMaintenance = () => ({ status: "unknown", problem });
    const kept = await evaluate(sandbox.config, unknown.deps);
    expect(kept.action).toBe("none");
    expect(unknown.kernel.value()).toBe(BIT);
    expect(kept.promotionWithheld).toBe(
      `The 2^20 bit stays set although every check passes: ${problem}, so whether maintenance is on cannot be told`,
    );
    expect(kept.warnings).toEqual([expect.stringContaining(`${problem}: whether maintenance is on cannot be told`)]);
    sandbox.cleanup();
    const clear = setup(["ospf"], 0, { ospf: 0 });
    clear.deps.readMaintenance = () => ({ status: "unknown", problem });
    expect((await evaluate(sandbox.config, clear.deps)).action).toBe("none");
    expect(clear.kernel.value()).toBe(0);
  });

  test("the switch is read under the lock, as it is written", async () => {
    const { deps, events } = setup(["ospf"], 0, { ospf: 0 });
    deps.acquireLock = async () => {
      events.push("lock");
      return { release: () => void events.push("release") };
    };
    deps.readMaintenance = () => {
      events.push("maintenance");
      return { status: "off" };
    };
    await evaluate(sandbox.config, deps);
    expect(events).toEqual(["lock", "read 0", "maintenance", "release"]);
  });
});

describe("intervalMs in an evaluation", () => {
  /** A runner that counts the runs of each hook and answers from `exits`. */
  function countingRunner(exits: Record<string, number>, runs: Record<string, number>) {
    const inner = fakeRunner({});
    return async (path: string, options: RunHookOptions) => {
      const name = path.slice(path.lastIndexOf("/") + 1);
      runs[name] = (runs[name] ?? 0) + 1;
      return { ...(await inner(path, options)), exitCode: exits[name] ?? 0, output: `run ${runs[name]}\n` };
    };
  }

  function intervalSetup(extra: Record<string, unknown> = {}) {
    const { deps, kernel } = setup(["slow", "fast"], 0, {});
    const time = timeline();
    deps.clock = time.clock("daemon");
    const runs: Record<string, number> = {};
    const exits: Record<string, number> = {};
    deps.runHook = countingRunner(exits, runs);
    const config = parseConfig({ ...sandbox.config, hooks: { slow: { intervalMs: 60_000 } }, ...extra });
    return { deps, kernel, time, runs, exits, config };
  }

  test("a check runs at most every intervalMs; between runs its last result counts, with its age", async () => {
    const { deps, time, runs, config } = intervalSetup();
    const first = await evaluate(config, deps);
    expect(first.services.find((s) => s.name === "slow")).toMatchObject({ output: "run 1\n", ranAt: "2026-11-30T12:00:00.000Z" });
    expect(first.services.find((s) => s.name === "slow")?.cached).toBeUndefined();
    for (let i = 0; i < 5; i++) {
      time.advance(10_000);
      await evaluate(config, deps);
    }
    expect(runs).toEqual({ slow: 1, fast: 6 });
    time.advance(8_000);
    const kept = await evaluate(config, deps);
    expect(kept.services.find((s) => s.name === "slow")).toMatchObject({
      output: "run 1\n",
      cached: true,
      ageMs: 58_000,
      ranAt: "2026-11-30T12:00:00.000Z",
    });
    // Due a little early (a tenth of the interval, at most a second): a 60 s interval on a 10 s schedule runs every 60 s, not 70 s.
    time.advance(1_500);
    await evaluate(config, deps);
    expect(runs.slow).toBe(2);
  });

  test("the kept result decides: a kept failure keeps the node demoted although the check would pass now", async () => {
    const { deps, kernel, time, exits, config } = intervalSetup();
    exits.slow = 1;
    expect((await evaluate(config, deps)).action).toBe("demoted");
    exits.slow = 0;
    time.advance(10_000);
    const kept = await evaluate(config, deps);
    expect(kept.failed).toEqual(["slow"]);
    expect(kernel.value()).toBe(BIT);
    // --all runs it now, and it decides.
    const all = await evaluate(config, deps, { all: true });
    expect(all.action).toBe("promoted");
    expect(all.services.find((s) => s.name === "slow")?.cached).toBeUndefined();
  });

  test("flap control counts one observation per real run, not one per evaluation", async () => {
    const { deps, time, exits } = intervalSetup();
    const config = parseConfig({ ...sandbox.config, hooks: { slow: { intervalMs: 60_000, fall: 2 } } });
    await evaluate(config, deps);
    exits.slow = 1;
    time.advance(60_000);
    expect((await evaluate(config, deps)).services.find((s) => s.name === "slow")?.counted).toEqual({
      state: "pass",
      streak: 1,
      needed: 2,
    });
    for (let i = 0; i < 5; i++) {
      time.advance(10_000);
      const kept = await evaluate(config, deps);
      expect(kept.services.find((s) => s.name === "slow")?.counted).toEqual({ state: "pass", streak: 1, needed: 2 });
      expect(kept.action).toBe("none");
    }
    time.advance(10_000);
    expect((await evaluate(config, deps)).action).toBe("demoted");
  });

  test("a changed hook file or configuration runs it again at once", async () => {
    const { deps, time, runs, config } = intervalSetup();
    await evaluate(config, deps);
    time.advance(1_000);
    await evaluate(config, deps);
    expect(runs.slow).toBe(1);
    writeFileSync(join(sandbox.hooksDir, "slow"), "#!/bin/sh\nexit 0\n# edited\n");
    time.advance(1_000);
    await evaluate(config, deps);
    expect(runs.slow).toBe(2);
    const changed = parseConfig({ ...config, hookTimeoutMs: 4000 });
    time.advance(1_000);
    await evaluate(changed, deps);
    expect(runs.slow).toBe(3);
    time.advance(1_000);
    await evaluate(changed, deps);
    expect(runs.slow).toBe(3);
  });

  test("one-shot runs share the kept result through the state file; a reboot's clock does not place it, so it runs", async () => {
    const { deps, time, runs, config } = intervalSetup();
    await evaluate(config, deps);
    deps.clock = time.clock("check");
    time.advance(5_000);
    await evaluate(config, deps);
    expect(runs.slow).toBe(1);
    time.reboot();
    deps.clock = time.clock("daemon-after-boot");
    await evaluate(config, deps);
    expect(runs.slow).toBe(2);
  });
});
