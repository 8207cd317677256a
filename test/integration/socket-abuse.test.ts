/**
 * A real daemon under abuse of its socket: floods of idle connections, clients that never read
 * their replies, a descriptor limit lower than the flood, and a daemon that is stopped (SIGSTOP).
 * In each, on-demand evaluations go on (the daemon answers `trigger`, or `trigger` evaluates by
 * itself within seconds), a failing check is demoted, and memory and descriptors stay bounded.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { connectionCap } from "../../src/daemon/connection-cap.ts";
import { REPLY_IDLE_TIMEOUT_MS, WRITE_TIMEOUT_MS } from "../../src/protocol/wire.ts";
import { type DaemonProcess, makeSandbox, runCli, type Sandbox, spawnDaemon, waitFor } from "../helpers.ts";

const BIT = 1048576;
const MB = 1024 * 1024;
let sandbox: Sandbox;
let daemon: DaemonProcess | null = null;
const cleanups: Array<() => void> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) cleanup();
  if (daemon && daemon.proc.exitCode === null) {
    daemon.proc.kill("SIGCONT");
    await daemon.stop();
  }
  daemon = null;
  sandbox.cleanup();
});

function openFds(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

function rssMb(pid: number): number {
  const kb = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1]);
  return (kb * 1024) / MB;
}

/** Idle connections that send nothing; each resolves once the daemon has accepted or refused it. */
async function idleFlood(socket: string, count: number): Promise<Socket[]> {
  const clients = Array.from({ length: count }, () => {
    const client = connect({ path: socket });
    client.on("error", () => {});
    cleanups.push(() => client.destroy());
    return client;
  });
  await waitFor(() => clients.every((c) => c.readyState === "open" || c.destroyed), "the flood to connect");
  return clients;
}

/** Clients that send a request and never read the reply (paused at the socket, so the kernel stops taking it). */
async function unreadClients(socket: string, count: number, request: string): Promise<Array<Bun.Socket<undefined>>> {
  const clients: Array<Bun.Socket<undefined>> = [];
  for (let i = 0; i < count; i++) {
    const client = await Bun.connect({ unix: socket, socket: { open: (s) => void s.pause(), data() {}, error() {} } });
    client.write(request);
    cleanups.push(() => client.terminate());
    clients.push(client);
  }
  return clients;
}

/** `trigger`, and whether the daemon answered it (no fallback). */
async function trigger(): Promise<{ exitCode: number; byDaemon: boolean; stderr: string; ms: number }> {
  const started = performance.now();
  const { exitCode, stderr } = await runCli(["trigger", "--config", sandbox.configFile]);
  return { exitCode, stderr, byDaemon: !stderr.includes("evaluating here"), ms: performance.now() - started };
}

async function evaluationsDone(): Promise<number> {
  const status = await daemon!.call("status");
  return status.running ? -1 : status.counters.evaluations;
}

describe("floods", () => {
  test("256 idle connections past the cap lock nobody out: trigger is answered by the daemon", async () => {
    sandbox = makeSandbox({ schedule: false });
    sandbox.addHook("svc", { fixture: "pass" });
    daemon = await spawnDaemon(sandbox);
    await waitFor(async () => (await evaluationsDone()) === 1, "the start-up evaluation");
    await idleFlood(sandbox.config.socket as string, 300);
    for (let i = 0; i < 3; i++) {
      const result = await trigger();
      expect(result).toMatchObject({ exitCode: 0, byDaemon: true });
    }
  }, 60_000);

  test("under ulimit -n 200, a flood of 256 connections costs no evaluation its descriptors: a failing check is demoted", async () => {
    sandbox = makeSandbox({ schedule: "* * * * * *", logLevel: "info" });
    sandbox.addHook("svc", { fixture: "fail" });
    daemon = await spawnDaemon(sandbox, { fdLimit: 200 });
    await waitFor(() => sandbox.demotion() === BIT, "the start-up demotion");
    const clients = await idleFlood(sandbox.config.socket as string, 256);
    // The cap follows the limit: the daemon holds at most that many of them.
    const cap = connectionCap(200, { concurrency: sandbox.config.concurrency });
    expect(cap).toBeLessThan(200);
    await waitFor(() => clients.filter((c) => !c.destroyed && c.readyState === "open").length <= 256, "the flood");
    expect(openFds(daemon.proc.pid)).toBeLessThan(200);
    // A reset of the bit from outside while the flood holds the socket: the next scheduled run repairs it.
    const evaluations = (await daemon.call("status")).counters.evaluations;
    sandbox.setDemotion(0);
    await waitFor(() => sandbox.demotion() === BIT, "a scheduled run to demote again", 10_000);
    await waitFor(async () => (await daemon!.call("status")).counters.evaluations > evaluations + 2, "more scheduled runs", 10_000);
    const status = await daemon.call("status");
    expect(status.counters.errors).toBe(0);
    expect(daemon.stderr()).not.toContain("EMFILE");
  }, 60_000);

  test("256 HTTP/1.0 /status clients that never read: trigger is answered, memory and descriptors stay bounded", async () => {
    sandbox = makeSandbox({ schedule: false, outputLimitBytes: 8192 });
    // About 300 KB of /status, as in the report: twelve hooks printing 4 KiB of NUL bytes, which
    // JSON escapes to six bytes each.
    for (let i = 0; i < 12; i++) sandbox.addHook(`svc${i}`, { content: "#!/bin/sh\nhead -c 4096 /dev/zero\nexit 0\n" });
    daemon = await spawnDaemon(sandbox);
    await waitFor(async () => (await evaluationsDone()) === 1, "the start-up evaluation");
    const pid = daemon.proc.pid;
    const statusMb = (await fetch("http://localhost/status", { unix: sandbox.config.socket as string }).then((r) => r.text())).length / MB;
    expect(statusMb).toBeGreaterThan(0.25);
    const rssBefore = rssMb(pid);
    const fdsBefore = openFds(pid);
    await unreadClients(sandbox.config.socket as string, 256, "GET /status HTTP/1.0\r\n\r\n");
    const during = await trigger();
    expect(during).toMatchObject({ exitCode: 0, byDaemon: true });
    // What the replies asked for is 256 statuses; a quarter of it is far more than the bounded queue.
    expect(rssMb(pid) - rssBefore).toBeLessThan((256 * statusMb) / 4);
    // After the write deadline, every descriptor is back.
    await waitFor(() => openFds(pid) <= fdsBefore + 2, "the write deadline to close the unread connections", WRITE_TIMEOUT_MS * 3);
    expect((await trigger()).byDaemon).toBe(true);
  }, 90_000);
});

describe("a stopped daemon (SIGSTOP)", () => {
  test("trigger gives up on it within seconds, says so, and evaluates here: the failing check is demoted", async () => {
    sandbox = makeSandbox({ schedule: false });
    sandbox.addHook("svc", { fixture: "fail" });
    daemon = await spawnDaemon(sandbox);
    // Stopped between evaluations: stopped in the middle of one, it would hold the lock.
    await waitFor(async () => (await evaluationsDone()) === 1, "the start-up evaluation");
    sandbox.setDemotion(0);
    daemon.proc.kill("SIGSTOP");
    const result = await trigger();
    expect(result.byDaemon).toBe(false);
    expect(result.stderr).toContain(
      `The daemon at "${sandbox.config.socket}" sent nothing for ${REPLY_IDLE_TIMEOUT_MS} ms (stopped or hung?): evaluating here`,
    );
    expect(result.exitCode).toBe(1);
    expect(sandbox.demotion()).toBe(BIT);
    expect(result.ms).toBeLessThan(REPLY_IDLE_TIMEOUT_MS * 4);
  }, 60_000);

  test("status says it is not answering within seconds, rather than waiting", async () => {
    sandbox = makeSandbox({ schedule: false });
    daemon = await spawnDaemon(sandbox);
    await waitFor(async () => (await evaluationsDone()) === 1, "the start-up evaluation");
    daemon.proc.kill("SIGSTOP");
    const started = performance.now();
    const { exitCode, stderr } = await runCli(["status", "--config", sandbox.configFile]);
    expect(exitCode).toBe(3);
    expect(stderr).toContain(`sent nothing for ${REPLY_IDLE_TIMEOUT_MS} ms (stopped or hung?); is the daemon running?`);
    expect(performance.now() - started).toBeLessThan(REPLY_IDLE_TIMEOUT_MS * 4);
  }, 30_000);
});
