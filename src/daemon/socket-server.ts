/**
 * The daemon's Unix socket: HTTP/1.1 with JSON replies (protocol/wire.ts), served on Bun.listen
 * with http.ts. Created 0600 (umask set around the bind, so there is no moment it is wider), or
 * 0660 for a configured group. Each connection is answered on its own, so a slow or silent client
 * blocks nobody; its requests are answered in order (pipelining), also after it half-closed, and an
 * idle timeout applies only while nothing is being answered, so an evaluation of any length gets
 * its reply.
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
import { formatResponse, type HttpRequest, parseRequest } from "./http.ts";

const SOCKET_MODE = 0o600;
/**
 * Bytes received and not yet answered that one connection may hold: a few pipelined requests fit,
 * a client that keeps sending without reading its replies is cut off rather than grow our memory.
 */
const MAX_PENDING_BYTES = 65_536;
/** Connections served at once; more are closed at once, so no client can take every descriptor. */
const MAX_CONNECTIONS = 256;
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

interface Reply {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
  /** A text body of this type instead of JSON (the metrics). */
  contentType?: string;
}

function errorReply(status: number, error: ErrorReply["error"], headers?: Record<string, string>): Reply {
  return { status, body: { error } satisfies ErrorReply, headers };
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

/** Every request of the protocol, for the reply to an unknown path. */
const ROUTE_LIST = Object.values(ROUTES)
  .map((r) => `${r.method} ${r.path}`)
  .join(", ");

/** Answers one request; never throws. */
async function answer(request: HttpRequest, handlers: SocketHandlers): Promise<Reply> {
  const name = (Object.keys(ROUTES) as RouteName[]).find((r) => ROUTES[r].path === request.path);
  if (name === undefined) return errorReply(404, { code: "not_found", message: `Unknown path "${request.path}"; use ${ROUTE_LIST}` });
  const route: { method: string; path: string; contentType?: string } = ROUTES[name];
  if (request.method !== route.method) {
    return errorReply(405, { code: "method_not_allowed", message: `Use ${route.method} ${route.path}` }, { Allow: route.method });
  }
  try {
    return { status: 200, body: await handlers[name](), contentType: route.contentType };
  } catch (error) {
    if ((error as Error).name === "AbortError") return errorReply(503, { code: "shutting_down", message: "The daemon is shutting down" });
    return errorReply(500, { code: "system", message: messageOf(error) });
  }
}

/** One client connection: the bytes not yet parsed, and what is being answered or written. */
interface Connection {
  received: Buffer;
  /** A request is being answered; the next waits for its reply (replies go out in order). */
  answering: boolean;
  /** The client half-closed: answer what arrived complete, then close. */
  readClosed: boolean;
  /** The connection closes once `unsent` is written. */
  closing: boolean;
  /** Reply bytes the socket has not taken yet. */
  unsent: Buffer[];
  gone: boolean;
}

type ClientSocket = Bun.Socket<Connection>;

function flush(socket: ClientSocket): void {
  const connection = socket.data;
  while (connection.unsent.length > 0 && !connection.gone) {
    const chunk = connection.unsent[0]!;
    const written = socket.write(chunk);
    if (written < chunk.length) {
      connection.unsent[0] = chunk.subarray(Math.max(written, 0));
      return; // the rest goes on drain
    }
    connection.unsent.shift();
  }
  if (connection.closing && connection.unsent.length === 0) socket.end();
}

function send(socket: ClientSocket, reply: Reply, { close }: { close: boolean }): void {
  const connection = socket.data;
  if (connection.gone) return;
  connection.closing ||= close;
  connection.unsent.push(
    formatResponse(reply.status, reply.body, {
      close,
      headers: { ...reply.headers, [PROTOCOL_HEADER]: PROTOCOL_VERSION },
      contentType: reply.contentType,
    }),
  );
  flush(socket);
}

/** Closes the connection once every reply queued on it is written. */
function closeWhenFlushed(socket: ClientSocket): void {
  socket.data.closing = true;
  flush(socket);
}

interface Serving {
  handlers: SocketHandlers;
  idleTimeoutS: number;
}

/**
 * Parses and answers the next complete request, if nothing is being answered and the client has
 * read the last reply (a client that does not read gets no more replies queued for it).
 */
function serveNext(socket: ClientSocket, { handlers, idleTimeoutS }: Serving): void {
  const connection = socket.data;
  if (connection.answering || connection.closing || connection.gone || connection.unsent.length > 0) return;
  const parsed = parseRequest(connection.received, { maxBodyBytes: MAX_REQUEST_BODY_BYTES });
  if (parsed.kind === "incomplete") {
    if (!connection.readClosed) return;
    // Half-closed with a request cut short: say so; with nothing left: done.
    if (connection.received.length > 0)
      send(socket, errorReply(400, { code: "bad_request", message: "Incomplete request" }), { close: true });
    else closeWhenFlushed(socket);
    return;
  }
  if (parsed.kind === "error") {
    send(socket, errorReply(parsed.status, { code: "bad_request", message: parsed.message }), { close: true });
    return;
  }
  connection.received = connection.received.subarray(parsed.length);
  connection.answering = true;
  socket.timeout(0); // answering is not idling, however long an evaluation takes
  void answer(parsed.request, handlers).then((reply) => {
    connection.answering = false;
    send(socket, reply, { close: !parsed.request.keepAlive });
    if (!connection.closing) socket.timeout(idleTimeoutS);
    serveNext(socket, { handlers, idleTimeoutS });
    // Unsent bytes wait for drain, which serves the next request then.
  });
}

/** Creates the socket and serves the protocol. Returns whether a stale socket was replaced. */
export async function listenSocket(
  path: string,
  options: { group?: string | number; handlers: SocketHandlers; idleTimeoutS?: number; maxConnections?: number },
): Promise<SocketServer & { replacedStale: boolean }> {
  const replacedStale = await clearStaleSocket(path);
  const gid = options.group === undefined ? null : resolveGroup(options.group);
  const { handlers, idleTimeoutS = IDLE_TIMEOUT_S, maxConnections = MAX_CONNECTIONS } = options;
  const previousUmask = process.umask(0o777 & ~SOCKET_MODE);
  const serving: Serving = { handlers, idleTimeoutS };
  let connections = 0;
  let listener: Bun.UnixSocketListener<Connection>;
  try {
    listener = Bun.listen<Connection>({
      unix: path,
      // A client that half-closes after its request still gets the reply.
      allowHalfOpen: true,
      socket: {
        open(socket) {
          socket.data = { received: Buffer.alloc(0), answering: false, readClosed: false, closing: false, unsent: [], gone: false };
          if (++connections > maxConnections) {
            socket.data.closing = true;
            socket.end();
            return;
          }
          socket.timeout(idleTimeoutS);
        },
        data(socket, chunk) {
          const connection = socket.data;
          if (connection.closing) return;
          const busy = connection.answering || connection.unsent.length > 0;
          if (busy && connection.received.length + chunk.length > MAX_PENDING_BYTES) {
            // Sending on and on while a reply is pending or unread: cut it off.
            connection.closing = true;
            connection.unsent = [];
            socket.end();
            return;
          }
          connection.received = connection.received.length === 0 ? Buffer.from(chunk) : Buffer.concat([connection.received, chunk]);
          serveNext(socket, serving);
        },
        end(socket) {
          socket.data.readClosed = true;
          serveNext(socket, serving);
        },
        drain(socket) {
          flush(socket);
          serveNext(socket, serving);
        },
        timeout(socket) {
          if (!socket.data.answering) socket.end();
        },
        close(socket) {
          connections--;
          socket.data.gone = true;
        },
        error(socket) {
          socket.data.gone = true;
        },
      },
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
      listener.stop(false);
      try {
        unlinkSync(path);
      } catch {
        // Already removed by stop().
      }
    },
    close() {
      listener.stop(true);
    },
  };
}
