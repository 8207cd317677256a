/**
 * The socket server with the client the shim and the CARP event hook use: OpenBSD netcat (`nc -U`,
 * in FreeBSD's base system; Debian's netcat-openbsd is the same program). A request with
 * `Connection: close` gets its reply and the connection closed, so nc exits by itself; pipelined
 * requests are answered in order; a half-closed client (`nc -N`) still gets its reply; nc's -w is an
 * idle timeout, which interim 102 replies reset, so a long evaluation is waited for and a silent
 * daemon given up on.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { listenSocket } from "../../src/daemon/socket-server.ts";
import type { DaemonStatus, Evaluation } from "../../src/protocol/wire.ts";
import { tool } from "../tools.ts";

const NC = tool("nc", "netcat-openbsd");
const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

async function serve(evaluateMs: number, heartbeatMs?: number): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "carp-nc-"));
  const socket = join(dir, "sock");
  let calls = 0;
  const server = await listenSocket(socket, {
    handlers: {
      evaluate: async () => {
        await Bun.sleep(evaluateMs);
        return { action: "none", services: [], demotionAfter: 0, call: ++calls } as unknown as Evaluation;
      },
      status: () => ({ version: "x", counters: {}, services: [], call: ++calls }) as unknown as DaemonStatus,
      metrics: () => "",
      maintenance: () => ({}) as never,
    },
    timeouts: heartbeatMs === undefined ? {} : { heartbeatMs },
  });
  cleanups.push(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return socket;
}

/** printf's bytes piped into nc, as the installed scripts do. */
async function nc(socket: string, request: string, flags: string[] = [], waitS = 5) {
  const started = performance.now();
  const proc = Bun.spawn(["/bin/sh", "-c", `printf '${request}' | ${NC} ${flags.join(" ")} -U -w ${waitS} "$0"`, socket], {
    stdout: "pipe",
    stderr: "pipe",
  });
  const [reply, stderr, exitCode] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { reply, stderr, exitCode, ms: performance.now() - started };
}

const statusLines = (reply: string) => [...reply.matchAll(/HTTP\/1\.1 \d+ [A-Za-z ]+\r\n/g)].map((m) => m[0].trim());
const calls = (reply: string) => [...reply.matchAll(/"call":(\d+)/g)].map((m) => Number(m[1]));

describe.skipIf(!NC)("nc(1) as a client", () => {
  test("Connection: close gets the reply, marked so, and the connection closed: nc exits at once", async () => {
    const socket = await serve(300);
    const { reply, exitCode, ms } = await nc(socket, "POST /evaluate HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n");
    expect(exitCode).toBe(0);
    expect(statusLines(reply)).toEqual(["HTTP/1.1 200 OK"]);
    expect(reply).toContain("\r\nConnection: close\r\n");
    expect(calls(reply)).toEqual([1]);
    // The evaluation's 300 ms, not nc's 5 s idle timeout.
    expect(ms).toBeLessThan(3000);
  });

  test("pipelined requests are answered in order, then the connection closes on the last one's Connection: close", async () => {
    const socket = await serve(200);
    const request = "POST /evaluate HTTP/1.1\\r\\n\\r\\nGET /status HTTP/1.1\\r\\nConnection: close\\r\\n\\r\\n";
    const { reply, exitCode } = await nc(socket, request);
    expect(exitCode).toBe(0);
    expect(statusLines(reply)).toEqual(["HTTP/1.1 200 OK", "HTTP/1.1 200 OK"]);
    expect(calls(reply)).toEqual([1, 2]);
    expect(reply.match(/Connection: close/g)).toHaveLength(1);
  });

  test("a client that half-closes after its request (nc -N) still gets the reply", async () => {
    const socket = await serve(200);
    const { reply, exitCode } = await nc(socket, "POST /evaluate HTTP/1.1\\r\\n\\r\\n", ["-N"]);
    expect(exitCode).toBe(0);
    expect(statusLines(reply)).toEqual(["HTTP/1.1 200 OK"]);
  });

  test("an evaluation longer than nc's -w is waited for: the interim 102s reset its idle timeout", async () => {
    const socket = await serve(2500, 250);
    const { reply, exitCode, ms } = await nc(socket, "POST /evaluate HTTP/1.1\\r\\nConnection: close\\r\\n\\r\\n", [], 1);
    expect(exitCode).toBe(0);
    expect(ms).toBeGreaterThanOrEqual(2500);
    const lines = statusLines(reply);
    expect(lines.at(-1)).toBe("HTTP/1.1 200 OK");
    expect(new Set(lines.slice(0, -1))).toEqual(new Set(["HTTP/1.1 102 Processing"]));
    expect(calls(reply)).toEqual([1]);
  });

  test("a daemon that accepts and then says nothing (stopped) costs nc its -w, and nothing reads as 200", async () => {
    const dir = mkdtempSync(join(tmpdir(), "carp-nc-"));
    const socket = join(dir, "sock");
    const silent = Bun.listen({ unix: socket, socket: { data() {} } });
    cleanups.push(() => {
      silent.stop(true);
      rmSync(dir, { recursive: true, force: true });
    });
    const { reply, ms } = await nc(socket, "POST /evaluate HTTP/1.1\\r\\nConnection: close\\r\\n\\r\\n", [], 1);
    expect(reply).toBe("");
    expect(ms).toBeGreaterThanOrEqual(1000);
    expect(ms).toBeLessThan(5000);
  });

  test("with no daemon, nc says so and exits 1: the scripts' cue to fall back", async () => {
    const { exitCode, reply } = await nc(join(tmpdir(), "carp-no-such-socket"), "GET /status HTTP/1.1\\r\\n\\r\\n");
    expect(exitCode).toBe(1);
    expect(reply).toBe("");
  });
});
