/**
 * The socket server on a real Unix socket with stand-in handlers: pipelined and half-closed
 * clients get their replies in order, every connection has a deadline (for its request, for taking
 * its reply), a long reply is preceded by interim 102s, unread replies are bounded in total, and at
 * the cap the connection idle longest makes room. Half-closing clients are OpenBSD nc -N (as on
 * FreeBSD): Bun 1.3.14's own node:net client closes both ways on end().
 */
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ListenOptions, listenSocket, type SocketHandlers, type SocketServer } from "../../src/daemon/socket-server.ts";
import { type DaemonStatus, type Evaluation, REPLY_IDLE_TIMEOUT_MS } from "../../src/protocol/wire.ts";
import { makeSandbox, runCli, type Sandbox, spawnDaemon, waitFor } from "../helpers.ts";
import { tool } from "../tools.ts";

const NC = tool("nc", "netcat-openbsd");
const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

/** Stand-in handlers: the evaluation takes `evaluateMs`, and each reply says which call it was. */
function handlers(evaluateMs: number, statusPadding = 0): SocketHandlers & { calls: string[] } {
  const calls: string[] = [];
  const padding = "x".repeat(statusPadding);
  return {
    calls,
    evaluate: async () => {
      calls.push("evaluate");
      await Bun.sleep(evaluateMs);
      return { action: "none", services: [], demotionAfter: 0, call: calls.length } as unknown as Evaluation;
    },
    status: () => {
      calls.push("status");
      return { version: "x", counters: {}, services: [], call: calls.length, padding } as unknown as DaemonStatus;
    },
    metrics: () => {
      calls.push("metrics");
      return `calls ${calls.length}\n`;
    },
    maintenance: () => {
      calls.push("maintenance");
      return {} as never;
    },
  };
}

async function serve(
  options: { evaluateMs?: number; statusPadding?: number } & Omit<ListenOptions, "handlers"> = {},
): Promise<{ socket: string; server: SocketServer & { connections(): number }; calls: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), "carp-server-"));
  const socket = join(dir, "sock");
  const stub = handlers(options.evaluateMs ?? 0, options.statusPadding);
  const server = await listenSocket(socket, { ...options, handlers: stub });
  cleanups.push(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { socket, server, calls: stub.calls };
}

/** Writes bytes and collects everything until the server closes. */
function exchange(socket: string, bytes: string): Promise<{ reply: string; elapsedMs: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const client = connect({ path: socket });
    let reply = "";
    client.on("data", (data) => {
      reply += data.toString();
    });
    client.on("error", reject);
    client.on("close", () => resolve({ reply, elapsedMs: performance.now() - started }));
    client.write(bytes);
  });
}

/** nc -N: sends the bytes, half-closes, and prints everything until the server closes. */
async function halfClosing(socket: string, bytes: string): Promise<string> {
  const proc = Bun.spawn([NC!, "-N", "-U", "-w", "10", socket], { stdin: new Blob([bytes]), stdout: "pipe", stderr: "ignore" });
  const [reply] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
  return reply;
}

/**
 * A client that sends its request and never reads: its reply stays with the server (and the
 * kernel). Bun.connect paused, as node:net's pause() in Bun 1.3.14 still reads.
 */
async function nonReader(socket: string, bytes: string): Promise<Bun.Socket<undefined>> {
  const client = await Bun.connect({ unix: socket, socket: { open: (s) => void s.pause(), data() {} } });
  client.write(bytes);
  cleanups.push(() => client.terminate());
  return client;
}

/** Whether the server has closed a client's connection: a write to it fails. */
const closedByServer = (client: Bun.Socket<undefined>) => client.write("\r\n") < 0;

const bodies = (reply: string) => [...reply.matchAll(/\r\n\r\n(\{[^\r]*?\})(?=HTTP|$)/g)].map((m) => JSON.parse(m[1]!));
const statusLines = (reply: string) => [...reply.matchAll(/HTTP\/1\.1 (\d{3}) [A-Za-z ]+\r\n/g)].map((m) => Number(m[1]));
/** Whether a reply arrived whole: its body as long as its Content-Length. */
function isWhole(reply: string): boolean {
  const head = reply.indexOf("\r\n\r\n");
  const length = Number(/Content-Length: (\d+)/.exec(reply)?.[1]);
  return head >= 0 && reply.length - head - 4 === length;
}

test("pipelined requests are answered in order, the slow evaluation first", async () => {
  const { socket, calls } = await serve({ evaluateMs: 300 });
  const { reply } = await exchange(
    socket,
    "POST /evaluate HTTP/1.1\r\nHost: x\r\n\r\nGET /status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
  );
  expect(statusLines(reply)).toEqual([200, 200]);
  expect(bodies(reply).map((b) => b.call)).toEqual([1, 2]);
  expect(calls).toEqual(["evaluate", "status"]);
});

describe.skipIf(!NC)("half-closing clients (nc -N)", () => {
  test("a client that half-closes after its request still gets the reply of a slow evaluation", async () => {
    const { socket } = await serve({ evaluateMs: 300 });
    const reply = await halfClosing(socket, "POST /evaluate HTTP/1.1\r\nHost: x\r\n\r\n");
    expect(reply).toStartWith("HTTP/1.1 200");
    expect(bodies(reply)[0]).toMatchObject({ action: "none" });
  });

  test("pipelined requests and then a half-close: every reply, in order", async () => {
    const { socket, calls } = await serve({ evaluateMs: 200 });
    const reply = await halfClosing(socket, "POST /evaluate HTTP/1.1\r\n\r\nGET /status HTTP/1.1\r\n\r\nGET /metrics HTTP/1.1\r\n\r\n");
    expect(statusLines(reply)).toEqual([200, 200, 200]);
    expect(calls).toEqual(["evaluate", "status", "metrics"]);
  });

  test("a half-closed client with a request cut short gets a clean error", async () => {
    const { socket, calls } = await serve();
    const reply = await halfClosing(socket, "POST /evaluate HTTP/1.1\r\nHost:");
    expect(reply).toStartWith("HTTP/1.1 400");
    expect(reply).toContain("Incomplete request");
    expect(calls).toEqual([]);
  });

  test("a half-closed keep-alive client gets the whole of a large reply before the connection closes", async () => {
    const { socket } = await serve({ statusPadding: 2_000_000 });
    const reply = await halfClosing(socket, "GET /status HTTP/1.1\r\nHost: x\r\n\r\n");
    expect(Number(/Content-Length: (\d+)/.exec(reply)?.[1])).toBeGreaterThan(2_000_000);
    expect(isWhole(reply)).toBe(true);
  });
});

test("every reply carries the protocol version, errors and interim replies too", async () => {
  const { socket } = await serve({ evaluateMs: 700, timeouts: { heartbeatMs: 200 } });
  const { reply } = await exchange(socket, "GET /nowhere HTTP/1.0\r\n\r\n");
  expect(reply).toStartWith("HTTP/1.1 404");
  expect(reply).toMatch(/\r\ncarp-service-status-protocol: \d+\.\d+\r\n/);
  const slow = await exchange(socket, "POST /evaluate HTTP/1.1\r\nConnection: close\r\n\r\n");
  const heads = slow.reply.split("\r\n\r\n").filter((part) => part.startsWith("HTTP/1.1"));
  expect(heads.length).toBeGreaterThan(1);
  for (const head of heads) expect(head).toMatch(/\r\ncarp-service-status-protocol: \d+\.\d+(\r\n|$)/);
});

describe("interim replies", () => {
  test("an HTTP/1.1 client gets 102 Processing every heartbeat while its evaluation runs, then the reply", async () => {
    const { socket } = await serve({ evaluateMs: 1000, timeouts: { heartbeatMs: 200 } });
    const { reply } = await exchange(socket, "POST /evaluate HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    const statuses = statusLines(reply);
    expect(statuses.at(-1)).toBe(200);
    // One each 200 ms of a 1 s evaluation: at least two, whatever the load.
    expect(statuses.slice(0, -1).length).toBeGreaterThanOrEqual(2);
    expect(new Set(statuses.slice(0, -1))).toEqual(new Set([102]));
    expect(bodies(reply)[0]).toMatchObject({ action: "none" });
  });

  test("a quick reply gets none, and an HTTP/1.0 client none at all (RFC 9110 15.2)", async () => {
    const { socket } = await serve({ evaluateMs: 1000, timeouts: { heartbeatMs: 200 } });
    expect(statusLines((await exchange(socket, "GET /status HTTP/1.1\r\nConnection: close\r\n\r\n")).reply)).toEqual([200]);
    expect(statusLines((await exchange(socket, "POST /evaluate HTTP/1.0\r\n\r\n")).reply)).toEqual([200]);
  });
});

describe("deadlines", () => {
  test("the request deadline closes a silent client, but never a connection waiting for a longer reply", async () => {
    const { socket } = await serve({ evaluateMs: 3000, timeouts: { requestTimeoutMs: 1000 } });
    const [silent, waiting] = await Promise.all([
      exchange(socket, "GET /status HTTP/1.1\r\n"),
      exchange(socket, "POST /evaluate HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
    ]);
    expect(silent.reply).toBe("");
    expect(silent.elapsedMs).toBeLessThan(waiting.elapsedMs);
    expect(waiting.elapsedMs).toBeGreaterThanOrEqual(3000);
    expect(statusLines(waiting.reply).at(-1)).toBe(200);
  }, 15_000);

  test("bytes trickled in do not extend the request deadline (slowloris)", async () => {
    const { socket } = await serve({ timeouts: { requestTimeoutMs: 1000 } });
    const client = connect({ path: socket });
    const request = "GET /status HTTP/1.1\r\nX-Slow: 1\r\n";
    const drip = setInterval(() => client.write("X-Drip: 1\r\n"), 100);
    cleanups.push(() => clearInterval(drip));
    client.write(request);
    const started = performance.now();
    const closed = await new Promise<string>((resolve) => {
      let reply = "";
      client.on("data", (data) => (reply += data.toString()));
      client.on("error", () => {});
      client.on("close", () => resolve(reply));
    });
    expect(closed).toBe("");
    // A second of it, not for as long as it keeps dripping (the test's timeout).
    expect(performance.now() - started).toBeLessThan(5000);
  });

  test("a Connection: close or HTTP/1.0 client that never reads its reply is closed at the write deadline", async () => {
    const { socket, server, calls } = await serve({ statusPadding: 4_000_000, timeouts: { writeTimeoutMs: 500 } });
    const unread = [
      await nonReader(socket, "GET /status HTTP/1.0\r\n\r\n"),
      await nonReader(socket, "GET /status HTTP/1.1\r\nConnection: close\r\n\r\n"),
    ];
    await waitFor(() => calls.length === 2, "both requests");
    await waitFor(() => server.connections() === 0, "the write deadline to close both", 5000);
    // The client learns of the close when its side has taken the FIN in: a write fails from then on.
    await waitFor(() => unread.every(closedByServer), "both clients to see the close");
    // One that reads gets it whole.
    expect(isWhole((await exchange(socket, "GET /status HTTP/1.0\r\n\r\n")).reply)).toBe(true);
  });

  test("a client that keeps sending without reading its replies is cut off, and others are still served", async () => {
    const { socket, server } = await serve({ timeouts: { writeTimeoutMs: 500 } });
    const flood = "GET /status HTTP/1.1\r\nHost: x\r\n\r\n".repeat(20_000);
    const client = await nonReader(socket, flood);
    await waitFor(() => server.connections() === 0, "the flood to be cut off");
    await waitFor(() => closedByServer(client), "the client to see the close");
    const { reply } = await exchange(socket, "GET /status HTTP/1.0\r\n\r\n");
    expect(reply).toStartWith("HTTP/1.1 200");
  });
});

describe("bounds", () => {
  test("unread replies are bounded in total: the connections whose replies waited longest are closed first", async () => {
    // Replies of 2 MB, far more than a Unix socket's kernel buffer; 5 MB of them may wait.
    const { socket, server, calls } = await serve({
      statusPadding: 2_000_000,
      maxQueuedReplyBytes: 5_000_000,
      timeouts: { writeTimeoutMs: 30_000 },
    });
    const unread: Array<Bun.Socket<undefined>> = [];
    for (let i = 1; i <= 6; i++) {
      unread.push(await nonReader(socket, "GET /status HTTP/1.1\r\nConnection: close\r\n\r\n"));
      await waitFor(() => calls.length === i, `request ${i}`);
    }
    // At most two 2 MB replies (less what the kernel took) fit in 5 MB: the oldest went, the newest stayed.
    expect(server.connections()).toBeLessThanOrEqual(3);
    await waitFor(() => unread.slice(0, 3).every(closedByServer), "the three oldest to see the close");
    expect(closedByServer(unread.at(-1)!)).toBe(false);
  });

  test("at the cap, the connection idle longest makes room: a flood of idle connections locks no request out", async () => {
    const { socket } = await serve({ maxConnections: 4 });
    const closedOrder: number[] = [];
    for (let i = 0; i < 8; i++) {
      const client = connect({ path: socket });
      client.on("error", () => {});
      client.on("close", () => closedOrder.push(i));
      cleanups.push(() => client.destroy());
      await waitFor(() => client.readyState === "open" && closedOrder.length === Math.max(0, i - 3), `idle connection ${i}`);
    }
    expect(closedOrder).toEqual([0, 1, 2, 3]);
    const { reply } = await exchange(socket, "GET /status HTTP/1.0\r\n\r\n");
    expect(reply).toStartWith("HTTP/1.1 200");
    await waitFor(() => closedOrder.length === 5, "the next idle connection to make room");
    expect(closedOrder).toEqual([0, 1, 2, 3, 4]);
  });

  test("a cap function is asked at each connection", async () => {
    let cap = 1;
    const { socket, server } = await serve({ maxConnections: () => cap });
    const first = connect({ path: socket });
    cleanups.push(() => first.destroy());
    const firstClosed = new Promise<void>((resolve) => first.on("close", () => resolve()));
    first.on("error", () => {});
    await waitFor(() => server.connections() === 1, "the first connection");
    cap = 2;
    const second = connect({ path: socket });
    cleanups.push(() => second.destroy());
    await waitFor(() => server.connections() === 2, "the second connection, beside the first");
    expect((await exchange(socket, "GET /status HTTP/1.0\r\n\r\n")).reply).toStartWith("HTTP/1.1 200");
    await firstClosed;
  });
});

let sandbox: Sandbox | null = null;
afterEach(() => {
  sandbox?.cleanup();
  sandbox = null;
});

test("a trigger gets its answer from a real daemon when the evaluation outlasts the client's idle deadline", async () => {
  sandbox = makeSandbox({ hookTimeoutMs: 30_000, schedule: false });
  const slowFrom = join(sandbox.dir, "slow-from-now");
  // The daemon's 102 Processing every second is what keeps the client waiting past REPLY_IDLE_TIMEOUT_MS.
  const seconds = Math.ceil(REPLY_IDLE_TIMEOUT_MS / 1000) + 1.5;
  sandbox.addHook("slow", { content: `#!/bin/sh\n[ -e ${JSON.stringify(slowFrom)} ] && sleep ${seconds}\nexit 0\n` });
  const daemon = await spawnDaemon(sandbox);
  cleanups.push(() => daemon.proc.kill("SIGKILL"));
  await waitFor(async () => (await daemon.call("status")).counters.evaluations === 1, "the quick start-up evaluation");
  writeFileSync(slowFrom, "");
  const { stdout, exitCode } = await runCli(["trigger", "--config", sandbox.configFile, "--json", "--no-fallback"]);
  expect(exitCode).toBe(0);
  expect(JSON.parse(stdout).services[0]).toMatchObject({ name: "slow", status: "pass" });
}, 30_000);
