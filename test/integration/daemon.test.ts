/** A real daemon process, real socket, real signals; the fake FreeBSD sysctl and logger. */
import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { REQUEST_TIMEOUT_MS } from "../../src/protocol/wire.ts";
import { type DaemonProcess, isAlive, makeSandbox, runCli, type Sandbox, spawnDaemon, waitFor } from "../helpers.ts";

const BIT = 1048576;
let sandbox: Sandbox;
let daemons: DaemonProcess[] = [];

afterEach(async () => {
  for (const daemon of daemons) if (daemon.proc.exitCode === null) await daemon.stop();
  daemons = [];
  sandbox.cleanup();
});

async function start(extra: Record<string, unknown> = {}, options: { waitForSocket?: boolean } = {}) {
  sandbox.writeConfig({ schedule: false, logLevel: "info", ...extra });
  const daemon = await spawnDaemon(sandbox, options);
  daemons.push(daemon);
  return daemon;
}

/**
 * Sends raw bytes on the socket and returns what comes back until the daemon closes. No half-close
 * (Bun 1.3.14's node:net closes both ways on end()): every request here makes the daemon close.
 */
function rawRequest(socket: string, bytes: string | Buffer, options: { keepOpenMs?: number } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const client = connect(socket);
    let reply = "";
    client.on("data", (data) => (reply += data.toString()));
    client.on("error", reject);
    client.on("close", () => resolve(reply));
    client.write(bytes);
    if (options.keepOpenMs !== undefined) setTimeout(() => client.end(), options.keepOpenMs);
  });
}

describe("evaluations", () => {
  test("evaluates once at start", async () => {
    sandbox = makeSandbox();
    sandbox.addHook("svc", { fixture: "fail" });
    const daemon = await start();
    await waitFor(async () => (await daemon.call("status")).counters.evaluations === 1, "the first evaluation");
    expect(sandbox.demotion()).toBe(BIT);
    await Bun.sleep(200);
    expect((await daemon.call("status")).counters.evaluations).toBe(1);
  });

  test("the schedule fires without any trigger", async () => {
    sandbox = makeSandbox();
    const daemon = await start({ schedule: "* * * * * *" });
    // Only after the start-up evaluation, so the demotion can come from the schedule alone.
    await waitFor(async () => (await daemon.call("status")).lastRun !== null, "the start-up evaluation");
    sandbox.addHook("svc", { fixture: "fail" });
    await waitFor(() => sandbox.demotion() === BIT, "a scheduled evaluation", 4000);
    const status = await daemon.call("status");
    expect(status.counters.scheduled).toBeGreaterThanOrEqual(1);
    expect(Date.parse(status.nextRun)).toBeGreaterThan(Date.now() - 1000);
  });

  test("a reset from outside (leaving maintenance mode) is repaired by the next scheduled run", async () => {
    sandbox = makeSandbox();
    sandbox.addHook("svc", { fixture: "fail" });
    const daemon = await start({ schedule: "* * * * * *" });
    const demotions = async () => (await daemon.call("status")).counters.demotions;
    await waitFor(async () => (await demotions()) === 1, "the first demotion");
    // What leaving CARP maintenance mode does: an absolute write that clears our bit.
    sandbox.setDemotion(0);
    await waitFor(async () => (await demotions()) === 2, "the repair", 4000);
    expect(sandbox.demotion()).toBe(BIT);
    expect(sandbox.syslog()).toHaveLength(2);
  });

  test("a trigger demotes and a later trigger promotes, seen through sysctl", async () => {
    sandbox = makeSandbox();
    sandbox.setDemotion(240);
    const daemon = await start();
    await daemon.waitForLog((l) => l.msg === "daemon started");
    const hook = sandbox.addHook("svc", { fixture: "fail" });
    const demoted = await runCli(["trigger", "--config", sandbox.configFile, "--json"]);
    expect(demoted.exitCode).toBe(1);
    expect(JSON.parse(demoted.stdout)).toMatchObject({ failed: ["svc"], demotionAfter: BIT + 240 });
    expect(sandbox.demotion()).toBe(BIT + 240);
    rmSync(hook);
    const promoted = await runCli(["trigger", "--config", sandbox.configFile]);
    expect(promoted.exitCode).toBe(0);
    expect(promoted.stdout).toContain("promoted");
    expect(sandbox.demotion()).toBe(240);
    expect(sandbox.syslog()).toEqual([
      "carp daemon.warning: carp demoted by 1048576 due to service disruption (services: svc)",
      "carp daemon.warning: carp promoted by 1048576 due to service recovery",
    ]);
  });

  test("200 concurrent triggers: every caller answered by a handful of evaluations", async () => {
    sandbox = makeSandbox();
    for (let i = 0; i < 4; i++) sandbox.addHook(`slow${i}`, { fixture: "slow-pass" });
    const daemon = await start();
    await waitFor(async () => (await daemon.call("status")).counters.evaluations === 1, "the first evaluation");
    const replies = await Promise.all(Array.from({ length: 200 }, () => daemon.call("evaluate")));
    expect(replies.every((r) => r.services?.length === 4)).toBe(true);
    const status = await daemon.call("status");
    expect(status.counters.triggers).toBe(200);
    // The first trigger starts one evaluation; all others arrive during it and share one follow-up.
    expect(status.counters.evaluations - 1).toBeLessThanOrEqual(3);
  });

  test("a hook logs one line when it goes from pass to fail and back, not every run", async () => {
    sandbox = makeSandbox();
    const hook = sandbox.addHook("svc", { fixture: "pass" });
    const daemon = await start();
    await daemon.call("evaluate");
    rmSync(hook);
    sandbox.addHook("svc", { fixture: "fail" });
    await daemon.call("evaluate");
    await daemon.call("evaluate");
    rmSync(hook);
    sandbox.addHook("svc", { fixture: "pass" });
    await daemon.call("evaluate");
    const lines = daemon
      .logs()
      .filter((l) => l.hook === "svc")
      .map((l) => l.msg);
    expect(lines).toEqual(['hook "svc" pass -> fail', 'hook "svc" fail -> pass']);
  });

  test("status reports hooks, demotion, counters and version", async () => {
    sandbox = makeSandbox();
    sandbox.addHook("bad", { fixture: "fail" });
    sandbox.addHook("good", { fixture: "pass" });
    const daemon = await start();
    await daemon.call("evaluate");
    const { stdout, exitCode } = await runCli(["status", "--config", sandbox.configFile, "--json"]);
    expect(exitCode).toBe(0);
    const status = JSON.parse(stdout);
    expect(status).toMatchObject({ demotion: BIT, demoted: true, anomalies: [], version: expect.any(String), pid: daemon.proc.pid });
    expect(status.services.map((s: { name: string; status: string }) => [s.name, s.status])).toEqual([
      ["bad", "fail"],
      ["good", "pass"],
    ]);
    expect(status.services[0].output).toContain("service down");
    expect(status.counters).toMatchObject({ evaluations: 2, triggers: 1, demotions: 1 });
    expect(status.lastRun.action).toBe("none");
    const text = await runCli(["status", "--config", sandbox.configFile]);
    expect(text.stdout).toContain("demotion:  1048576 (demoted by this tool)");
  });

  test("an evaluation error is replied, counted and does not end the daemon", async () => {
    sandbox = makeSandbox();
    sandbox.addHook("svc", { fixture: "fail" });
    const daemon = await start({ sysctl: join(sandbox.dir, "missing-sysctl") });
    const reply = await daemon.call("evaluate");
    expect(reply.error.code).toBe("system");
    expect(reply.error.message).toContain("missing-sysctl");
    const status = await daemon.call("status");
    expect(status.counters.errors).toBe(2);
    expect(status.lastError.message).toContain("missing-sysctl");
    const trigger = await runCli(["trigger", "--config", sandbox.configFile]);
    expect(trigger.exitCode).toBe(3);
  });
});

describe("the socket", () => {
  test("is created mode 0600", async () => {
    sandbox = makeSandbox();
    await start();
    expect(statSync(sandbox.config.socket as string).mode & 0o777).toBe(0o600);
  });

  test("is 0660 and group-owned with socketGroup", async () => {
    sandbox = makeSandbox();
    await start({ socketGroup: 65534 });
    const info = statSync(sandbox.config.socket as string);
    expect(info.mode & 0o777).toBe(0o660);
    expect(info.gid).toBe(65534);
  });

  test("answers garbage, oversized and unknown requests with an error and changes nothing", async () => {
    sandbox = makeSandbox();
    sandbox.addHook("svc", { fixture: "fail" });
    const daemon = await start();
    await waitFor(async () => (await daemon.call("status")).counters.evaluations === 1, "the first evaluation");
    const socket = sandbox.config.socket as string;
    expect(await rawRequest(socket, "garbage\r\n\r\n")).toStartWith("HTTP/1.1 400");
    const body = Buffer.alloc(64 * 1024, "x");
    const oversized = await rawRequest(
      socket,
      Buffer.concat([Buffer.from(`POST /evaluate HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n`), body]),
    );
    expect(oversized).toStartWith("HTTP/1.1 413");
    const unknown = await rawRequest(socket, "GET /shutdown HTTP/1.0\r\n\r\n");
    expect(unknown).toStartWith("HTTP/1.1 404");
    expect(unknown).toContain('"code":"not_found"');
    const wrongMethod = await rawRequest(socket, "GET /evaluate HTTP/1.0\r\n\r\n");
    expect(wrongMethod).toStartWith("HTTP/1.1 405");
    // RFC 9112's framing faults, each refused at once: no reading of the framing can differ.
    for (const [bytes, message] of [
      ["POST /evaluate HTTP/1.0\n\n", "Bare LF"],
      ["POST /evaluate HTTP/1.1\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n", "More than one Content-Length"],
      ["POST /evaluate HTTP/1.1\r\nContent-Length : 0\r\n\r\n", "no whitespace before the colon"],
      ["POST /evaluate HTTP/1.1\r\nX: \0\r\n\r\n", "NUL byte"],
    ]) {
      const started = performance.now();
      const reply = await rawRequest(socket, bytes!);
      expect(reply).toStartWith("HTTP/1.1 400");
      expect(reply).toContain(message!);
      // At once, not at the request deadline (a bare LF used to wait 12 s for a CR LF CR LF).
      expect(performance.now() - started).toBeLessThan(REQUEST_TIMEOUT_MS / 2);
    }
    const status = await daemon.call("status");
    expect(status.counters).toMatchObject({ evaluations: 1, triggers: 0 });
    expect(sandbox.syslog()).toHaveLength(1);
  });

  test("works with a plain HTTP/1.0 request, as nc would send it", async () => {
    sandbox = makeSandbox();
    await start();
    const reply = await rawRequest(sandbox.config.socket as string, "GET /status HTTP/1.0\r\n\r\n");
    expect(reply).toStartWith("HTTP/1.1 200");
    expect(reply).toContain('"counters"');
  });

  test("a silent client does not block others", async () => {
    sandbox = makeSandbox();
    const daemon = await start();
    const silent = rawRequest(sandbox.config.socket as string, "GET /status HTTP/1.1\r\nHost: x\r\n", { keepOpenMs: 1500 });
    const status = await daemon.call("status");
    expect(status.pid).toBe(daemon.proc.pid);
    expect(await daemon.call("evaluate")).toHaveProperty("action");
    await silent;
  });

  test("a stale socket from a crashed daemon is replaced", async () => {
    sandbox = makeSandbox();
    const crashed = await start();
    crashed.proc.kill("SIGKILL");
    await crashed.proc.exited;
    expect(existsSync(sandbox.config.socket as string)).toBe(true);
    const daemon = await start();
    expect((await daemon.call("status")).pid).toBe(daemon.proc.pid);
    await daemon.waitForLog((l) => String(l.msg).includes("replaced a stale socket"));
  });

  test("a second daemon on a live socket exits 2 with a clear message", async () => {
    sandbox = makeSandbox();
    const first = await start();
    const second = await start({}, { waitForSocket: false });
    expect(await second.proc.exited).toBe(2);
    await waitFor(() => second.stderr().includes("already listening"), "the error message");
    expect(second.stderr()).toContain(`Another carp-service-status daemon is already listening on "${sandbox.config.socket}"`);
    expect((await first.call("status")).pid).toBe(first.proc.pid);
  });
});

describe("fallbacks", () => {
  test("without a socket directory the daemon keeps evaluating on the schedule", async () => {
    sandbox = makeSandbox();
    sandbox.addHook("svc", { fixture: "fail" });
    const daemon = await start({ socket: join(sandbox.dir, "missing", "sock"), schedule: "* * * * * *" }, { waitForSocket: false });
    await daemon.waitForLog((l) => String(l.msg).includes("socket unavailable: evaluating on the schedule only"));
    sandbox.setDemotion(0);
    await waitFor(() => sandbox.demotion() === BIT, "a scheduled evaluation", 4000);
    expect(daemon.proc.exitCode).toBeNull();
  });

  test("with neither socket nor schedule the daemon exits with an error", async () => {
    sandbox = makeSandbox();
    const daemon = await start({ socket: join(sandbox.dir, "missing", "sock"), schedule: false }, { waitForSocket: false });
    expect(await daemon.proc.exited).toBe(3);
  });

  test("trigger evaluates here when no daemon answers, and says so", async () => {
    sandbox = makeSandbox();
    sandbox.addHook("svc", { fixture: "fail" });
    const { stderr, exitCode } = await runCli(["trigger", "--config", sandbox.configFile]);
    expect(exitCode).toBe(1);
    expect(stderr).toContain("evaluating here");
    expect(sandbox.demotion()).toBe(BIT);
  });

  test("trigger --no-fallback exits 3 and evaluates nothing", async () => {
    sandbox = makeSandbox();
    sandbox.addHook("svc", { fixture: "fail" });
    const { stderr, exitCode } = await runCli(["trigger", "--config", sandbox.configFile, "--no-fallback"]);
    expect(exitCode).toBe(3);
    expect(stderr).toContain("No daemon answers");
    expect(sandbox.demotion()).toBe(0);
  });

  test("status exits 3 when no daemon answers", async () => {
    sandbox = makeSandbox();
    const { stderr, exitCode } = await runCli(["status", "--config", sandbox.configFile]);
    expect(exitCode).toBe(3);
    expect(stderr).toContain("is the daemon running?");
  });
});

describe("signals", () => {
  test("SIGHUP re-reads a good config", async () => {
    sandbox = makeSandbox();
    const daemon = await start();
    const otherHooks = join(sandbox.dir, "other-hooks");
    mkdirSync(otherHooks);
    sandbox.writeConfig({ schedule: false, logLevel: "info", hooksDir: otherHooks });
    daemon.proc.kill("SIGHUP");
    await daemon.waitForLog((l) => l.msg === "configuration reloaded");
    expect((await daemon.call("status")).hooksDir).toBe(otherHooks);
  });

  test("SIGHUP with a bad config reports it and keeps the running one", async () => {
    sandbox = makeSandbox();
    const daemon = await start();
    await Bun.write(sandbox.configFile, "hooksDir = 42\n");
    daemon.proc.kill("SIGHUP");
    const line = await daemon.waitForLog((l) => String(l.msg).includes("configuration not reloaded"));
    expect(String(line.err)).toContain("hooksDir");
    expect((await daemon.call("status")).hooksDir).toBe(sandbox.hooksDir);
  });

  test("SIGTERM during a hung hook: exit 0, no hook process, no socket, demotion unchanged", async () => {
    sandbox = makeSandbox();
    sandbox.addHook("stuck", {
      content: `#!/bin/sh
trap '' TERM
sh -c 'trap "" TERM; sleep 600' &
echo "$$ $!" > "$(dirname "$0")/../stuck.pids"
wait
while :; do sleep 600; done
`,
    });
    sandbox.setDemotion(240);
    const daemon = await start({ hookTimeoutMs: 60000, killGraceMs: 10000 });
    const pidFile = join(sandbox.dir, "stuck.pids");
    await waitFor(() => existsSync(pidFile) && readFileSync(pidFile, "utf8").includes(" "), "the hook to start");
    const pids = readFileSync(pidFile, "utf8").trim().split(" ").map(Number);
    const trigger = daemon.call("evaluate");
    // Signal only once the daemon holds the request: before that a stopping daemon refuses it.
    await waitFor(async () => (await daemon.call("status")).counters.triggers === 1, "the trigger to arrive");
    expect(await daemon.stop()).toBe(0);
    expect((await trigger).error.code).toBe("shutting_down");
    expect(pids.filter(isAlive)).toEqual([]);
    expect(existsSync(sandbox.config.socket as string)).toBe(false);
    expect(sandbox.demotion()).toBe(240);
    expect(sandbox.sysctlCalls().filter((c) => c.includes("="))).toEqual([]);
  });

  test("SIGINT stops it too", async () => {
    sandbox = makeSandbox();
    const daemon = await start();
    daemon.proc.kill("SIGINT");
    expect(await daemon.proc.exited).toBe(0);
    expect(existsSync(sandbox.config.socket as string)).toBe(false);
  });
});
