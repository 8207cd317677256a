/**
 * The daemon's Unix socket: HTTP with JSON replies (see protocol.ts). Created 0600 (umask set
 * around the bind, so there is no moment it is wider), or 0660 for a configured group. Requests
 * are bounded in size and time by the server; each is answered on its own, so a slow or silent
 * client blocks nobody.
 */
import { chmodSync, chownSync, lstatSync, unlinkSync } from "node:fs";
import { CarpError, messageOf } from "../common/errors.ts";
import { resolveGroup } from "../config/group.ts";
import {
  type ErrorReply,
  IDLE_TIMEOUT_S,
  MAX_REQUEST_BODY_BYTES,
  PROTOCOL_HEADER,
  PROTOCOL_VERSION,
  ROUTES,
  type RouteName,
  type RouteReplies,
} from "../protocol/wire.ts";

const SOCKET_MODE = 0o600;
const GROUP_SOCKET_MODE = 0o660;
const LIVENESS_TIMEOUT_MS = 1000;

/** What answers each route: the reply body of the protocol, or a promise of it. */
export type SocketHandlers = { [R in RouteName]: () => RouteReplies[R] | Promise<RouteReplies[R]> };

export interface SocketServer {
  path: string;
  /** Stops accepting (removing the socket file); requests in progress still get their reply. */
  stopAccepting(): void;
  /** Closes every connection left. */
  close(): void;
}

/** Every reply says which protocol it speaks, so a client of another major version can tell. */
function reply<R extends RouteName>(body: RouteReplies[R]): Response {
  return Response.json(body, { headers: { [PROTOCOL_HEADER]: PROTOCOL_VERSION } });
}

function errorReply(status: number, error: ErrorReply["error"] & { headers?: Record<string, string> }): Response {
  const { headers, ...body } = error;
  return Response.json({ error: body } satisfies ErrorReply, { status, headers: { ...headers, [PROTOCOL_HEADER]: PROTOCOL_VERSION } });
}

/** Whether something accepts connections on the socket. */
async function isListening(path: string): Promise<boolean> {
  try {
    const socket = await Promise.race([
      Bun.connect({ unix: path, socket: { data() {} } }),
      Bun.sleep(LIVENESS_TIMEOUT_MS).then(() => {
        throw new Error("timeout");
      }),
    ]);
    socket.end();
    return true;
  } catch (error) {
    // A daemon too busy to accept within the timeout is still alive: do not take its socket.
    return messageOf(error) === "timeout";
  }
}

/** Removes a socket left by a crashed daemon; refuses to touch a live one or a non-socket file. */
async function clearStaleSocket(path: string): Promise<boolean> {
  let isSocket: boolean;
  try {
    isSocket = lstatSync(path).isSocket();
  } catch {
    return false;
  }
  if (!isSocket) {
    throw new CarpError("config", `"${path}" exists and is not a socket; remove it or set "socket" in the config`);
  }
  if (await isListening(path)) {
    throw new CarpError("in_use", `Another carp-service-status daemon is already listening on "${path}"; stop it first`);
  }
  unlinkSync(path);
  return true;
}

/** The path of a request; without a Host header (HTTP/1.0, as nc sends) Bun gives only the path. */
function pathOf(url: string): string {
  return URL.canParse(url) ? new URL(url).pathname : url.split("?")[0]!;
}

async function route(
  request: Request,
  { server, handlers }: { server: Bun.Server<undefined>; handlers: SocketHandlers },
): Promise<Response> {
  const pathname = pathOf(request.url);
  const route = Object.values(ROUTES).find((r) => r.path === pathname);
  if (!route) return errorReply(404, { code: "not_found", message: `Unknown path "${pathname}"; use POST /evaluate or GET /status` });
  if (request.method !== route.method) {
    return errorReply(405, { code: "method_not_allowed", message: `Use ${route.method} ${route.path}`, headers: { Allow: route.method } });
  }
  if (route === ROUTES.status) return reply<"status">(await handlers.status());
  // An evaluation may outlast the idle timeout while hooks run.
  server.timeout(request, 0);
  try {
    return reply<"evaluate">(await handlers.evaluate());
  } catch (error) {
    if ((error as Error).name === "AbortError") return errorReply(503, { code: "shutting_down", message: "The daemon is shutting down" });
    return errorReply(500, { code: "system", message: messageOf(error) });
  }
}

/** Creates the socket and serves the protocol. Returns whether a stale socket was replaced. */
export async function listenSocket(
  path: string,
  options: { group?: string | number; handlers: SocketHandlers },
): Promise<SocketServer & { replacedStale: boolean }> {
  const replacedStale = await clearStaleSocket(path);
  const gid = options.group === undefined ? null : resolveGroup(options.group);
  const { handlers } = options;
  const previousUmask = process.umask(0o777 & ~SOCKET_MODE);
  let server: Bun.Server<undefined>;
  try {
    server = Bun.serve({
      unix: path,
      // Bun enforces idleTimeout on Unix sockets too, but its types list it only for TCP.
      ...({ idleTimeout: IDLE_TIMEOUT_S } as object),
      maxRequestBodySize: MAX_REQUEST_BODY_BYTES,
      fetch: (request: Request, server: Bun.Server<undefined>) => route(request, { server, handlers }),
      error: (error: Error) => errorReply(500, { code: "system", message: messageOf(error) }),
    });
  } catch (error) {
    throw new CarpError("system", `Cannot create socket "${path}": ${messageOf(error)}`, { cause: error });
  } finally {
    process.umask(previousUmask);
  }
  if (gid !== null) {
    chownSync(path, -1, gid);
    chmodSync(path, GROUP_SOCKET_MODE);
  }
  return {
    path,
    replacedStale,
    stopAccepting() {
      void server.stop(false);
      try {
        unlinkSync(path);
      } catch {
        // Already removed by stop().
      }
    },
    close() {
      void server.stop(true);
    },
  };
}
