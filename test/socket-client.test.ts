/** The lean client against small stand-in servers on real Unix sockets. */
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CarpError } from "../src/common/errors.ts";
import { findSocket } from "../src/config/socket.ts";
import { listenSocket } from "../src/daemon/socket-server.ts";
import { callDaemon, DaemonIncompatible, DaemonUnreachable } from "../src/protocol/client.ts";
import {
  type DaemonStatus,
  type ErrorReply,
  type Evaluation,
  PROTOCOL_HEADER,
  PROTOCOL_VERSION,
  protocolMajor,
} from "../src/protocol/wire.ts";

const dirs: string[] = [];
const servers: Array<{ stop(force: boolean): unknown }> = [];
const cleanupTimers: Array<() => void> = [];
afterEach(() => {
  for (const clear of cleanupTimers.splice(0)) clear();
  for (const server of servers.splice(0)) server.stop(true);
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), "carp-client-"));
  dirs.push(dir);
  return dir;
}

function serve(reply: () => Response): string {
  const socket = join(scratch(), "sock");
  servers.push(Bun.serve({ unix: socket, fetch: reply }));
  return socket;
}

test("a missing socket means no daemon: the caller may evaluate by itself", async () => {
  await expect(callDaemon(join(scratch(), "none"), "status", { timeoutMs: 1000 })).rejects.toBeInstanceOf(DaemonUnreachable);
});

test("a daemon that is shutting down counts as no daemon", async () => {
  const socket = serve(() => Response.json({ error: { code: "shutting_down", message: "The daemon is shutting down" } }, { status: 503 }));
  await expect(callDaemon(socket, "evaluate", { timeoutMs: 1000 })).rejects.toBeInstanceOf(DaemonUnreachable);
});

test("an evaluation error is a system error carrying the daemon's message", async () => {
  const socket = serve(() => Response.json({ error: { code: "system", message: "sysctl failed: unknown oid" } }, { status: 500 }));
  const error = (await callDaemon(socket, "evaluate", { timeoutMs: 1000 }).catch((e: unknown) => e)) as CarpError;
  expect(error).toBeInstanceOf(CarpError);
  expect(error.code).toBe("system");
  expect(error.message).toContain("sysctl failed: unknown oid");
});

test("a reply that is not JSON is a clear error", async () => {
  const socket = serve(() => new Response("<html>"));
  await expect(callDaemon(socket, "status", { timeoutMs: 1000 })).rejects.toThrow("not JSON");
});

describe("deadlines and failures: each is no daemon, so the caller evaluates by itself", () => {
  /** A stand-in on a raw socket: `onRequest` gets the connection once a request head arrived. */
  function rawServer(onRequest: (socket: Bun.Socket<undefined>) => void): string {
    const socket = join(scratch(), "sock");
    const listener = Bun.listen({
      unix: socket,
      socket: {
        data(s, chunk) {
          if (chunk.toString().includes("\r\n\r\n")) onRequest(s);
        },
      },
    });
    servers.push({ stop: (force) => listener.stop(force) });
    return socket;
  }

  test("a daemon that accepts and then says nothing (stopped) is given up on at the idle deadline", async () => {
    const socket = rawServer(() => {});
    const started = performance.now();
    const error = await callDaemon(socket, "evaluate", { idleTimeoutMs: 300 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DaemonUnreachable);
    expect((error as Error).message).toBe(`The daemon at "${socket}" sent nothing for 300 ms (stopped or hung?)`);
    expect(performance.now() - started).toBeLessThan(3000);
  });

  test("interim replies keep a long evaluation waited for, well past the idle deadline", async () => {
    const body = JSON.stringify({ action: "none", services: [], demotionAfter: 0 });
    const socket = rawServer((s) => {
      const heartbeat = setInterval(() => s.write(`HTTP/1.1 102 Processing\r\n${PROTOCOL_HEADER}: ${PROTOCOL_VERSION}\r\n\r\n`), 100);
      setTimeout(() => {
        clearInterval(heartbeat);
        s.end(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n${PROTOCOL_HEADER}: ${PROTOCOL_VERSION}\r\n\r\n${body}`);
      }, 1500);
    });
    expect((await callDaemon(socket, "evaluate", { idleTimeoutMs: 500 })).action).toBe("none");
  });

  test("a connection closed without a reply (a reset) is no daemon", async () => {
    const socket = rawServer((s) => s.terminate());
    const error = await callDaemon(socket, "evaluate").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DaemonUnreachable);
    expect((error as Error).message).toMatch(/closed the connection without answering|reset the connection/);
  });

  test("a reply cut short is no daemon either", async () => {
    const socket = rawServer((s) => s.end("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{}"));
    const error = await callDaemon(socket, "status").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DaemonUnreachable);
    expect((error as Error).message).toContain("closed the connection mid-reply");
  });

  test("the total deadline of a status call", async () => {
    const socket = rawServer((s) => {
      const heartbeat = setInterval(() => s.write("HTTP/1.1 102 Processing\r\n\r\n"), 50);
      cleanupTimers.push(() => clearInterval(heartbeat));
    });
    await expect(callDaemon(socket, "status", { timeoutMs: 300 })).rejects.toThrow("did not answer within 300 ms");
  });

  test("something that does not speak HTTP is a clear error, not a fallback", async () => {
    const socket = rawServer((s) => s.end("SSH-2.0-OpenSSH\r\n\r\n"));
    const error = await callDaemon(socket, "status").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CarpError);
    expect((error as Error).message).toContain("that is not the daemon answered");
  });

  test("a failed connect names its cause the same way under every Bun: ENOENT, ENOTSOCK, ECONNREFUSED", async () => {
    const dir = scratch();
    const file = join(dir, "file");
    writeFileSync(file, "");
    // A socket file nobody listens on, as a daemon killed with -9 leaves it.
    const stale = join(dir, "stale");
    const listener = Bun.spawn(
      [process.execPath, "-e", `Bun.listen({ unix: ${JSON.stringify(stale)}, socket: { data() {} } }); console.log("up")`],
      {
        stdout: "pipe",
      },
    );
    const reader = listener.stdout.getReader();
    await reader.read();
    listener.kill("SIGKILL");
    await listener.exited;
    for (const [path, code] of [
      [join(dir, "none"), "ENOENT"],
      [file, "ENOTSOCK"],
      [stale, "ECONNREFUSED"],
    ] as const) {
      const error = await callDaemon(path, "status").catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DaemonUnreachable);
      expect((error as Error).message).toBe(`No daemon answers at "${path}" (${code})`);
    }
  });
});

test("findSocket reads the socket from the config file, or false", () => {
  const dir = scratch();
  writeFileSync(join(dir, "a.toml"), 'socket = "/run/x.sock"\nhooksDir = "/h"\n');
  writeFileSync(join(dir, "b.toml"), "socket = false\n");
  writeFileSync(join(dir, "c.toml"), "socket = 42\n");
  expect(findSocket(join(dir, "a.toml"))).toBe("/run/x.sock");
  expect(findSocket(join(dir, "b.toml"))).toBe(false);
  expect(() => findSocket(join(dir, "c.toml"))).toThrow("socket must be a path or false");
});

describe("protocol versions", () => {
  const evaluationBody = { action: "none", decision: "none", failed: [], demotionAfter: 0, services: [] };

  test("the daemon's socket server marks every reply with its protocol version, which the client accepts", async () => {
    const socket = join(scratch(), "sock");
    const status = { version: "9.9.9", counters: {}, services: [] } as unknown as DaemonStatus;
    const server = await listenSocket(socket, {
      handlers: {
        evaluate: async () => evaluationBody as unknown as Evaluation,
        status: () => status,
        metrics: () => "m_total 1\n",
        maintenance: () => ({}) as never,
      },
    });
    servers.push({ stop: () => server.close() });
    const response = await fetch("http://localhost/status", { unix: socket });
    expect(response.headers.get(PROTOCOL_HEADER)).toBe(PROTOCOL_VERSION);
    expect(await callDaemon(socket, "status", { timeoutMs: 1000 })).toEqual(status);
    expect(await callDaemon(socket, "metrics", { timeoutMs: 1000 })).toBe("m_total 1\n");
    const missing = await fetch("http://localhost/nowhere", { unix: socket });
    expect(missing.status).toBe(404);
    expect(missing.headers.get(PROTOCOL_HEADER)).toBe(PROTOCOL_VERSION);
  });

  test("a daemon of another major version is incompatible: restart it after an upgrade", async () => {
    const other = `${protocolMajor(PROTOCOL_VERSION) - 1}.2`;
    const socket = serve(() => Response.json(evaluationBody, { headers: { [PROTOCOL_HEADER]: other } }));
    const error = await callDaemon(socket, "evaluate", { timeoutMs: 1000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DaemonIncompatible);
    expect((error as Error).message).toContain(`speaks protocol ${other}`);
    expect((error as Error).message).toContain("restart the daemon after an upgrade");
  });

  test("a daemon from before protocol versions (no header) is incompatible too", async () => {
    const socket = serve(() => Response.json(evaluationBody));
    await expect(callDaemon(socket, "evaluate", { timeoutMs: 1000 })).rejects.toThrow("restart the daemon after an upgrade");
  });

  test("a newer minor version of the same major is understood", async () => {
    const newerMinor = `${protocolMajor(PROTOCOL_VERSION)}.97`;
    const socket = serve(() => Response.json(evaluationBody, { headers: { [PROTOCOL_HEADER]: newerMinor } }));
    expect((await callDaemon(socket, "evaluate", { timeoutMs: 1000 })).action).toBe("none");
  });

  test("a reply of the right version but the wrong shape is a clear error", async () => {
    const socket = serve(() => Response.json({ hello: "world" }, { headers: { [PROTOCOL_HEADER]: PROTOCOL_VERSION } }));
    await expect(callDaemon(socket, "status", { timeoutMs: 1000 })).rejects.toThrow("reply to status of an unknown shape");
  });

  test("protocolMajor reads the major, and a missing header as 0", () => {
    expect(protocolMajor("1.0")).toBe(1);
    expect(protocolMajor("12.3")).toBe(12);
    expect(protocolMajor(null)).toBe(0);
    expect(protocolMajor("garbage")).toBe(0);
  });
});

describe("request bodies (protocol 2.1)", () => {
  /** The socket server with handlers that record the bodies they were given. */
  async function recording() {
    const socket = join(scratch(), "sock");
    const bodies: unknown[] = [];
    const evaluation = { action: "none", decision: "none", failed: [], demotionAfter: 0, services: [] } as unknown as Evaluation;
    const server = await listenSocket(socket, {
      handlers: {
        evaluate: (body) => {
          bodies.push(body);
          return evaluation;
        },
        status: () => ({}) as never,
        metrics: () => "",
        maintenance: (body) => {
          bodies.push(body);
          return { maintenance: body.on ? { reason: body.reason ?? null, since: "2026-12-06T08:00:00.000Z" } : null, evaluation };
        },
      },
    });
    servers.push({ stop: () => server.close() });
    return { socket, bodies };
  }

  test("the client sends a route's body as JSON, and the handler gets it parsed", async () => {
    const { socket, bodies } = await recording();
    await callDaemon(socket, "evaluate");
    await callDaemon(socket, "evaluate", { body: { all: true } });
    const reply = await callDaemon(socket, "maintenance", { body: { on: true, reason: "upgrading FRR ✓" } });
    expect(reply.maintenance).toEqual({ reason: "upgrading FRR ✓", since: "2026-12-06T08:00:00.000Z" });
    expect(bodies).toEqual([undefined, { all: true }, { on: true, reason: "upgrading FRR ✓" }]);
  });

  test("a body the route does not take is refused with 400 and why, and the handler never runs", async () => {
    const { socket, bodies } = await recording();
    const post = (path: string, body: string) =>
      fetch(`http://localhost${path}`, { method: "POST", unix: socket, body }).then(async (r) => [
        r.status,
        ((await r.json()) as ErrorReply).error.message,
      ]);
    expect(await post("/maintenance", "")).toEqual([
      400,
      'POST /maintenance takes a JSON body: {"on": true, "reason": "..."} or {"on": false}',
    ]);
    expect(await post("/maintenance", "{on}")).toEqual([400, "The body of POST /maintenance is not JSON"]);
    expect(await post("/maintenance", '{"on":"yes"}')).toEqual([400, '"on" is true or false']);
    expect(await post("/maintenance", '{"on":false,"reason":"x"}')).toEqual([400, '"reason" goes with {"on": true} only']);
    expect(await post("/maintenance", JSON.stringify({ on: true, reason: "x".repeat(201) }))).toEqual([
      400,
      "The reason is longer than 200 characters",
    ]);
    expect(await post("/maintenance", '{"on":true,"why":"x"}')).toEqual([
      400,
      'Unknown field "why" in the body of POST /maintenance; it takes "on" and "reason"',
    ]);
    expect(await post("/evaluate", '{"all":"yes"}')).toEqual([400, '"all" is true or false']);
    expect(await post("/evaluate", "[]")).toEqual([400, 'The body of POST /evaluate is a JSON object: {"all": true}, or none']);
    expect(bodies).toEqual([]);
  });

  test("a daemon of protocol 2.0 has no maintenance switch: the client says to restart it, and does not take it for no daemon", async () => {
    const socket = serve(() =>
      Response.json(
        { error: { code: "not_found", message: 'Unknown path "/maintenance"' } },
        { status: 404, headers: { [PROTOCOL_HEADER]: "2.0" } },
      ),
    );
    const error = await callDaemon(socket, "maintenance", { body: { on: true }, timeoutMs: 1000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CarpError);
    expect(error).not.toBeInstanceOf(DaemonUnreachable);
    expect((error as Error).message).toBe(
      `The daemon at "${socket}" speaks protocol 2.0, which has no POST /maintenance (it came with 2.1): restart the daemon after an upgrade (service carp_service_status restart)`,
    );
  });
});
