/**
 * Notify scripts as real processes: one at a time in the order of events under a burst, a hung
 * one killed with its group while the next still runs, an insecure one refused and logged.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Config, parseConfig } from "../../src/config/config.ts";
import type { NotifyEvent } from "../../src/daemon/notify-events.ts";
import { MAX_QUEUED_EVENTS, NotifyQueue } from "../../src/daemon/notify-queue.ts";
import { type DaemonProcess, isAlive, makeSandbox, type Sandbox, spawnDaemon, waitFor } from "../helpers.ts";
import { captureLog } from "../log-capture.ts";

let sandbox: Sandbox;
const queues: NotifyQueue[] = [];
afterEach(async () => {
  for (const queue of queues.splice(0)) await queue.stop();
  sandbox.cleanup();
});

/** A sandbox with a notify directory, and a queue on it running as root with script security. */
function setUp(extra: Partial<Config> = {}) {
  sandbox = makeSandbox();
  const notifyDir = join(sandbox.dir, "notify.d");
  mkdirSync(notifyDir, { mode: 0o755 });
  const config = parseConfig({ ...sandbox.config, notifyDir, notifyTimeoutMs: 2000, killGraceMs: 100, ...extra });
  const captured = captureLog();
  const queue = new NotifyQueue({ log: captured.log, config: () => config, isRoot: true });
  queues.push(queue);
  const addScript = (name: string, content: string, mode = 0o755) => {
    const path = join(notifyDir, name);
    writeFileSync(path, content);
    chmodSync(path, mode);
    return path;
  };
  return { queue, captured, notifyDir, addScript, record: join(sandbox.dir, "record") };
}

const context = { at: "2026-11-30T12:00:00.000Z", failed: ["dns"], demotionBefore: 0, demotionAfter: 1048576 };
const hook = (name: string, state: "pass" | "fail", output = ""): NotifyEvent => ({
  kind: "hook",
  hook: name,
  state,
  output,
  reason: "",
  exitCode: state === "pass" ? 0 : 1,
  ...context,
});
const bit = (kind: "demoted" | "promoted"): NotifyEvent => ({ kind, ...context });

/** A script that logs its start and end around a short sleep, so overlapping runs would interleave. */
function recorder(record: string, name: string): string {
  return `#!/bin/sh\necho "start ${name} $*" >> ${JSON.stringify(record)}\nsleep 0.01\necho "end ${name} $*" >> ${JSON.stringify(record)}\n`;
}

describe("notify scripts", () => {
  test("a burst of changes runs every script once per event, one at a time, in the order of events", async () => {
    const { queue, addScript, record } = setUp();
    addScript("20-second", recorder(record, "second"));
    addScript("10-first", recorder(record, "first"));
    const bursts: NotifyEvent[][] = [
      [hook("dns", "fail"), bit("demoted")],
      [hook("dns", "pass"), bit("promoted")],
      [hook("ntp", "fail"), hook("web server", "fail"), bit("demoted")],
      [hook("ntp", "pass")],
      [hook("web server", "pass"), bit("promoted")],
    ];
    // Queued as evaluations would queue them: back to back, while the first scripts still run.
    for (const events of bursts) queue.enqueue(events);
    await queue.idle();
    const expected = bursts.flat().flatMap((event) => {
      const args = event.kind === "hook" ? `hook ${event.hook} ${event.state}` : event.kind;
      return [`start first ${args}`, `end first ${args}`, `start second ${args}`, `end second ${args}`];
    });
    expect(readFileSync(record, "utf8").trim().split("\n")).toEqual(expected);
  });

  test("a script gets the event as argv and a small environment of its own", async () => {
    const { queue, addScript, record } = setUp();
    addScript(
      "env",
      `#!/bin/sh\nprintf '%s|' "$@" > ${JSON.stringify(record)}\necho >> ${JSON.stringify(record)}\nenv >> ${JSON.stringify(record)}\n`,
    );
    queue.enqueue([hook("dns check", "fail", "no answer from 192.0.2.53")]);
    await queue.idle();
    const [argv, ...envLines] = readFileSync(record, "utf8").trim().split("\n");
    expect(argv).toBe("hook|dns check|fail|");
    const env = Object.fromEntries(envLines.map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]));
    expect(env).toMatchObject({
      CARP_EVENT: "hook",
      CARP_HOOK: "dns check",
      CARP_HOOK_STATE: "fail",
      CARP_HOOK_OUTPUT: "no answer from 192.0.2.53",
      CARP_FAILED_HOOKS: "dns",
      CARP_DEMOTION_BEFORE: "0",
      CARP_DEMOTION_AFTER: "1048576",
      HOME: "/",
    });
    // Nothing of the daemon's own environment leaks in.
    expect(Object.keys(env).filter((k) => k.startsWith("BUN") || k === "USER" || k === "TERM")).toEqual([]);
  });

  test("a hanging script is killed with its group after notifyTimeoutMs, the next still runs, and queuing never waits", async () => {
    const { queue, addScript, record, captured } = setUp({ notifyTimeoutMs: 300 });
    const pids = join(sandbox.dir, "hang.pids");
    addScript("10-hang", `#!/bin/sh\ntrap '' TERM\nsleep 600 &\necho "$$ $!" > ${JSON.stringify(pids)}\nwait\n`);
    addScript("20-after", recorder(record, "after"));
    const started = performance.now();
    queue.enqueue([bit("demoted")]);
    queue.enqueue([bit("promoted")]);
    expect(performance.now() - started).toBeLessThan(50);
    await waitFor(() => existsSync(pids) && readFileSync(pids, "utf8").includes(" "), "the hung script to start");
    const [script, child] = readFileSync(pids, "utf8").trim().split(" ").map(Number) as [number, number];
    await queue.idle();
    // Two events, each waiting out the hung script (300 ms + 100 ms grace), then the recorder.
    expect(performance.now() - started).toBeLessThan(2000);
    expect([isAlive(script), isAlive(child)]).toEqual([false, false]);
    expect(readFileSync(record, "utf8").trim().split("\n")).toEqual([
      "start after demoted",
      "end after demoted",
      "start after promoted",
      "end after promoted",
    ]);
    const timeouts = captured.lines.filter((l) => l.msg.includes("10-hang") && l.msg.includes("timed out after"));
    expect(timeouts).toHaveLength(2);
    expect(timeouts[0]!.msg).toContain("its process group was killed");
  });

  test("an insecure script is refused and logged with its fix; the secure ones run", async () => {
    const { queue, addScript, record, captured } = setUp();
    const insecure = addScript("10-writable", recorder(record, "writable"), 0o757);
    addScript("20-ok", recorder(record, "ok"));
    queue.enqueue([bit("demoted")]);
    await queue.idle();
    expect(readFileSync(record, "utf8").trim().split("\n")).toEqual(["start ok demoted", "end ok demoted"]);
    const refusal = captured.lines.find((l) => l.msg.includes("10-writable"));
    expect(refusal).toMatchObject({ level: 50 });
    expect(refusal!.msg).toContain("refused by script security");
    expect(refusal!.msg).toContain(`fix: chmod o-w "${insecure}"`);
  });

  test("a failing script is logged with its exit status and first output line, and nothing else happens", async () => {
    const { queue, addScript, record, captured } = setUp();
    addScript("10-fails", "#!/bin/sh\necho 'mail: cannot reach the relay' >&2\nexit 3\n");
    addScript("20-ok", recorder(record, "ok"));
    queue.enqueue([hook("dns", "fail")]);
    await queue.idle();
    expect(readFileSync(record, "utf8")).toContain("end ok hook dns fail");
    expect(captured.lines.find((l) => l.msg.includes("10-fails"))).toMatchObject({
      level: 40,
      msg: expect.stringContaining('failed for hook "dns" fail: exit status 3: mail: cannot reach the relay'),
    });
  });

  test("a missing notify directory is said once, not at every event", async () => {
    const { queue, captured, notifyDir } = setUp();
    rmSync(notifyDir, { recursive: true });
    queue.enqueue([bit("demoted"), bit("promoted"), bit("demoted")]);
    await queue.idle();
    expect(captured.messages().filter((m) => m.includes("does not exist"))).toEqual([
      `Notify directory "${notifyDir}" does not exist: no notify script runs; create it or unset notifyDir`,
    ]);
  });
});

describe("script security for notify scripts", () => {
  test("a script whose #! interpreter anyone can replace is refused with its fix, and that interpreter never runs", async () => {
    const { queue, addScript, record, captured } = setUp();
    const w = join(sandbox.dir, "w");
    mkdirSync(w);
    chmodSync(w, 0o777);
    const mark = join(sandbox.dir, "interpreter-ran");
    const interp = join(w, "interp");
    writeFileSync(interp, `#!/bin/sh\ntouch ${JSON.stringify(mark)}\n`);
    chmodSync(interp, 0o777);
    addScript("10-planted", `#!${interp}\n`);
    addScript("20-ok", recorder(record, "ok"));
    queue.enqueue([bit("demoted")]);
    await queue.idle();
    expect(existsSync(mark)).toBe(false);
    expect(readFileSync(record, "utf8").trim().split("\n")).toEqual(["start ok demoted", "end ok demoted"]);
    expect(captured.lines.find((l) => l.msg.includes("10-planted"))).toMatchObject({
      level: 50,
      msg: `notify script "10-planted" in "${join(sandbox.dir, "notify.d")}" not run: refused by script security: its interpreter "${interp}" (#! line): "${w}" is writable by others (mode 0777); fix: chmod o-w "${w}"`,
    });
  });
});

describe("a full notify queue in the daemon", () => {
  let daemon: DaemonProcess | null = null;
  afterEach(async () => {
    if (daemon && daemon.proc.exitCode === null) await daemon.stop();
    daemon = null;
  });

  test("drops hook events, never a change of our bit; the metric counts the drops and the log says so", async () => {
    sandbox = makeSandbox();
    const notifyDir = join(sandbox.dir, "notify.d");
    mkdirSync(notifyDir, { mode: 0o755 });
    const started = join(sandbox.dir, "notify-started");
    // The first event's script hangs (until the daemon stops), so every later event waits in the queue.
    writeFileSync(join(notifyDir, "notify"), `#!/bin/sh\ntouch ${JSON.stringify(started)}\nexec sleep 600\n`);
    chmodSync(join(notifyDir, "notify"), 0o755);
    const failing = join(sandbox.dir, "failing");
    const HOOKS = 60;
    for (let i = 0; i < HOOKS; i++)
      sandbox.addHook(`h${String(i).padStart(2, "0")}`, { content: `#!/bin/sh\n[ -f ${failing} ] && exit 1\nexit 0\n` });
    sandbox.writeConfig({ schedule: false, notifyDir, notifyTimeoutMs: 3_600_000, concurrency: 16 });
    daemon = await spawnDaemon(sandbox);
    await waitFor(async () => (await daemon!.call("status")).counters.evaluations === 1, "the first evaluation");

    // Every evaluation flips every hook and our bit: HOOKS hook events and one change each.
    const evaluations = Math.ceil(MAX_QUEUED_EVENTS / (HOOKS + 1)) + 2;
    const actions: string[] = [];
    for (let i = 0; i < evaluations; i++) {
      if (i % 2 === 0) writeFileSync(failing, "");
      else rmSync(failing);
      actions.push((await daemon.call("evaluate")).action);
      if (i === 0) await waitFor(() => existsSync(started), "the first notify script to hang");
    }
    expect(actions).toEqual(Array.from({ length: evaluations }, (_, i) => (i % 2 === 0 ? "demoted" : "promoted")));
    // One event is being delivered (the hung script); the rest of the queue is full.
    const made = evaluations * (HOOKS + 1);
    const dropped = made - 1 - MAX_QUEUED_EVENTS;
    expect(dropped).toBeGreaterThan(0);

    const metrics = await (await fetch("http://localhost/metrics", { unix: sandbox.config.socket as string })).text();
    expect(metrics).toContain(`\ncarp_service_status_notify_events_dropped_total{kind="hook"} ${dropped}\n`);
    expect(metrics).toContain('\ncarp_service_status_notify_events_dropped_total{kind="change"} 0\n');
    expect(daemon.logs().filter((l) => String(l.msg).startsWith("notify queue full"))).toHaveLength(1);

    // What waited when it stopped: every change of our bit, in order, and the newest hook events.
    expect(await daemon.stop()).toBe(0);
    const stopped = daemon.logs().find((l) => String(l.msg).endsWith("notify events not delivered: stopping"));
    const waiting = stopped?.events as string[];
    expect(waiting).toHaveLength(MAX_QUEUED_EVENTS);
    expect(waiting.filter((e) => !e.startsWith("hook "))).toEqual(actions);
    expect(waiting.at(-2)).toBe(`hook "h${HOOKS - 1}" ${evaluations % 2 === 0 ? "pass" : "fail"}`);
  });
});
