/** The lean client against small stand-in servers on real Unix sockets. */
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CarpError } from "../src/common/errors.ts";
import { listenSocket } from "../src/daemon/socket-server.ts";
import { callDaemon, DaemonIncompatible, DaemonUnreachable, findSocket } from "../src/protocol/client.ts";
import { type DaemonStatus, type Evaluation, PROTOCOL_HEADER, PROTOCOL_VERSION, protocolMajor } from "../src/protocol/wire.ts";

const dirs: string[] = [];
const servers: Array<{ stop(force: boolean): unknown }> = [];
afterEach(() => {
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

test("a daemon that does not answer in time is a system error, not a fallback", async () => {
  const socket = serve(() => new Promise<Response>(() => {}) as unknown as Response);
  const error = (await callDaemon(socket, "evaluate", { timeoutMs: 200 }).catch((e: unknown) => e)) as CarpError;
  expect(error).toBeInstanceOf(CarpError);
  expect(error.message).toContain("did not answer within 200 ms");
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
      handlers: { evaluate: async () => evaluationBody as unknown as Evaluation, status: () => status, metrics: () => "m_total 1\n" },
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
    const socket = serve(() => Response.json(evaluationBody, { headers: { [PROTOCOL_HEADER]: "2.0" } }));
    const error = await callDaemon(socket, "evaluate", { timeoutMs: 1000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DaemonIncompatible);
    expect((error as Error).message).toContain("speaks protocol 2.0");
    expect((error as Error).message).toContain("restart the daemon after an upgrade");
  });

  test("a daemon from before protocol versions (no header) is incompatible too", async () => {
    const socket = serve(() => Response.json(evaluationBody));
    await expect(callDaemon(socket, "evaluate", { timeoutMs: 1000 })).rejects.toThrow("restart the daemon after an upgrade");
  });

  test("a newer minor version of the same major is understood", async () => {
    const socket = serve(() => Response.json(evaluationBody, { headers: { [PROTOCOL_HEADER]: "1.7" } }));
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
