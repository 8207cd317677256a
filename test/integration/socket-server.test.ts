/**
 * The socket server on a real Unix socket with stand-in handlers: pipelined and half-closed
 * clients get their replies in order, the idle timeout closes silent clients but never cuts a
 * reply that takes longer, and a real daemon answers an evaluation longer than 12 s.
 */
import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { listenSocket, type SocketHandlers, type SocketServer } from "../../src/daemon/socket-server.ts";
import type { DaemonStatus, Evaluation } from "../../src/protocol/wire.ts";
import { makeSandbox, runCli, type Sandbox, spawnDaemon, waitFor } from "../helpers.ts";

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

/** Stand-in handlers: the evaluation takes `evaluateMs`, and each reply says which call it was. */
function handlers(evaluateMs: number): SocketHandlers & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    evaluate: async () => {
      calls.push("evaluate");
      await Bun.sleep(evaluateMs);
      return { action: "none", services: [], demotionAfter: 0, call: calls.length } as unknown as Evaluation;
    },
    status: () => {
      calls.push("status");
      return { version: "x", counters: {}, services: [], call: calls.length } as unknown as DaemonStatus;
    },
    metrics: () => {
      calls.push("metrics");
      return `calls ${calls.length}\n`;
    },
  };
}

async function serve(options: {
  evaluateMs: number;
  idleTimeoutS?: number;
  maxConnections?: number;
}): Promise<{ socket: string; server: SocketServer; calls: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), "carp-server-"));
  const socket = join(dir, "sock");
  const stub = handlers(options.evaluateMs);
  const server = await listenSocket(socket, { handlers: stub, idleTimeoutS: options.idleTimeoutS, maxConnections: options.maxConnections });
  cleanups.push(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { socket, server, calls: stub.calls };
}

/** Writes bytes, optionally half-closes, and collects everything until the server closes. */
function exchange(socket: string, bytes: string, { halfClose }: { halfClose: boolean }): Promise<{ reply: string; elapsedMs: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const client = connect({ path: socket, allowHalfOpen: true });
    let reply = "";
    client.on("data", (data) => {
      reply += data.toString();
    });
    client.on("error", reject);
    // allowHalfOpen leaves our side open when the server ends; close it then.
    client.on("end", () => client.end());
    client.on("close", () => resolve({ reply, elapsedMs: performance.now() - started }));
    client.write(bytes);
    if (halfClose) client.end();
  });
}

const bodies = (reply: string) => [...reply.matchAll(/\r\n\r\n(\{[^\r]*?\})(?=HTTP|$)/g)].map((m) => JSON.parse(m[1]!));

test("pipelined requests are answered in order, the slow evaluation first", async () => {
  const { socket, calls } = await serve({ evaluateMs: 300 });
  const { reply } = await exchange(
    socket,
    "POST /evaluate HTTP/1.1\r\nHost: x\r\n\r\nGET /status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    {
      halfClose: false,
    },
  );
  expect(reply.match(/HTTP\/1\.1 200/g)).toHaveLength(2);
  expect(bodies(reply).map((b) => b.call)).toEqual([1, 2]);
  expect(calls).toEqual(["evaluate", "status"]);
});

test("a client that half-closes after its request still gets the reply of a slow evaluation", async () => {
  const { socket } = await serve({ evaluateMs: 300 });
  const { reply } = await exchange(socket, "POST /evaluate HTTP/1.1\r\nHost: x\r\n\r\n", { halfClose: true });
  expect(reply).toStartWith("HTTP/1.1 200");
  expect(bodies(reply)[0]).toMatchObject({ action: "none" });
});

test("a half-closed client with a request cut short gets a clean error", async () => {
  const { socket, calls } = await serve({ evaluateMs: 0 });
  const { reply } = await exchange(socket, "POST /evaluate HTTP/1.1\r\nHost:", { halfClose: true });
  expect(reply).toStartWith("HTTP/1.1 400");
  expect(reply).toContain("Incomplete request");
  expect(calls).toEqual([]);
});

test("every reply carries the protocol version, errors too", async () => {
  const { socket } = await serve({ evaluateMs: 0 });
  const { reply } = await exchange(socket, "GET /nowhere HTTP/1.0\r\n\r\n", { halfClose: false });
  expect(reply).toStartWith("HTTP/1.1 404");
  expect(reply).toMatch(/\r\ncarp-service-status-protocol: \d+\.\d+\r\n/);
});

test("the idle timeout closes a silent client, but never a connection waiting for a longer reply", async () => {
  // Bun checks timeouts in steps of seconds: a 1 s idle timeout fires within about 4 s.
  const { socket } = await serve({ evaluateMs: 5000, idleTimeoutS: 1 });
  const [silent, waiting] = await Promise.all([
    exchange(socket, "GET /status HTTP/1.1\r\n", { halfClose: false }),
    exchange(socket, "POST /evaluate HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", { halfClose: false }),
  ]);
  expect(silent.reply).toBe("");
  expect(silent.elapsedMs).toBeLessThan(waiting.elapsedMs);
  expect(waiting.elapsedMs).toBeGreaterThanOrEqual(5000);
  expect(waiting.reply).toStartWith("HTTP/1.1 200");
}, 15_000);

test("a half-closed keep-alive client gets the whole of a large reply before the connection closes", async () => {
  const dir = mkdtempSync(join(tmpdir(), "carp-server-"));
  const socket = join(dir, "sock");
  const big = { version: "x", counters: {}, services: [], padding: "x".repeat(2_000_000) } as unknown as DaemonStatus;
  const server = await listenSocket(socket, { handlers: { ...handlers(0), status: () => big } });
  cleanups.push(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const { reply } = await exchange(socket, "GET /status HTTP/1.1\r\nHost: x\r\n\r\n", { halfClose: true });
  const [head, body = ""] = reply.split("\r\n\r\n");
  const length = Number(/Content-Length: (\d+)/.exec(head!)?.[1]);
  expect(length).toBeGreaterThan(2_000_000);
  expect(Buffer.byteLength(body)).toBe(length);
});

test("a client that keeps sending without reading its replies is cut off, and others are still served", async () => {
  const { socket } = await serve({ evaluateMs: 0 });
  const flood = "GET /status HTTP/1.1\r\nHost: x\r\n\r\n".repeat(20_000);
  const cut = await new Promise<boolean>((resolve) => {
    const client = connect({ path: socket });
    client.pause(); // never reads
    client.on("error", () => resolve(true));
    client.on("close", () => resolve(true));
    client.write(flood);
    setTimeout(() => {
      client.destroy();
      resolve(false);
    }, 5000);
  });
  expect(cut).toBe(true);
  const { reply } = await exchange(socket, "GET /status HTTP/1.0\r\n\r\n", { halfClose: false });
  expect(reply).toStartWith("HTTP/1.1 200");
});

test("connections past the limit are closed at once; the server keeps serving", async () => {
  const { socket } = await serve({ evaluateMs: 0, maxConnections: 4 });
  const silent = Array.from({ length: 10 }, () => connect({ path: socket }));
  const closed = await Promise.all(
    silent.map(
      (client) =>
        new Promise<boolean>((resolve) => {
          client.on("close", () => resolve(true));
          client.on("error", () => resolve(true));
          setTimeout(() => resolve(false), 1000);
        }),
    ),
  );
  expect(closed.filter(Boolean)).toHaveLength(6);
  for (const client of silent) client.destroy();
  await Bun.sleep(50);
  const { reply } = await exchange(socket, "GET /status HTTP/1.0\r\n\r\n", { halfClose: false });
  expect(reply).toStartWith("HTTP/1.1 200");
});

let sandbox: Sandbox | null = null;
afterEach(() => {
  sandbox?.cleanup();
  sandbox = null;
});

test("a trigger gets its answer from a real daemon when the evaluation takes longer than 12 s", async () => {
  sandbox = makeSandbox({ hookTimeoutMs: 30_000, schedule: false });
  const slowFrom = join(sandbox.dir, "slow-from-now");
  sandbox.addHook("slow", { content: `#!/bin/sh\n[ -e ${JSON.stringify(slowFrom)} ] && sleep 13\nexit 0\n` });
  const daemon = await spawnDaemon(sandbox);
  cleanups.push(() => daemon.proc.kill("SIGKILL"));
  await waitFor(async () => (await daemon.call("status")).counters.evaluations === 1, "the quick start-up evaluation");
  writeFileSync(slowFrom, "");
  const { stdout, exitCode } = await runCli(["trigger", "--config", sandbox.configFile, "--json", "--no-fallback"]);
  expect(exitCode).toBe(0);
  expect(JSON.parse(stdout).services[0]).toMatchObject({ name: "slow", status: "pass" });
}, 60_000);
