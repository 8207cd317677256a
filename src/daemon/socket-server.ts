/**
 * The daemon's Unix socket: HTTP/1.1 with JSON replies (protocol/wire.ts), served on Bun.listen
 * with http.ts. Created 0600 (umask set around the bind, so there is no moment it is wider), or
 * 0660 for a configured group.
 *
 * Every connection has a deadline in each phase, checked by one sweep timer on the monotonic clock:
 * - reading: the whole request must arrive within REQUEST_TIMEOUT_MS of the connection opening or
 *   of its previous reply being taken (an idle or slowloris client is closed);
 * - answering: none here (an evaluation is bounded by its hooks' timeouts), but an HTTP/1.1 client
 *   gets an interim `102 Processing` every HEARTBEAT_MS, so its own idle deadline tells a working
 *   daemon from a stopped one;
 * - replying: bytes the client has not taken within WRITE_TIMEOUT_MS close the connection, whether
 *   it asked to keep it or to close it.
 * Reading is paused from a complete request until its reply is taken: pipelined bytes wait in the
 * kernel, not in our memory, and a client's half-close is seen only after its reply is written
 * (Bun 1.3.14 closes a Unix-socket connection on the peer's FIN whatever `allowHalfOpen` says).
 * Bytes queued for unread replies are bounded in total; past the bound, the connections whose
 * replies have waited longest are closed. Connections are capped (the daemon derives the cap from
 * the descriptor limit); at the cap the connection idle longest makes room for a new one, so a
 * flood of idle connections cannot lock out a request.
 */
import { chmodSync, chownSync, lstatSync, unlinkSync } from "node:fs";
import { deadline, isTimeout } from "../common/deadline.ts";
import { CarpError, messageOf } from "../common/errors.ts";
import { resolveGroup } from "../config/group.ts";
import {
  type ErrorReply,
  HEARTBEAT_MS,
  MAX_REQUEST_BODY_BYTES,
  PROTOCOL_HEADER,
  PROTOCOL_VERSION,
  REQUEST_TIMEOUT_MS,
  ROUTES,
  type RouteName,
  type RouteReplies,
  type RouteRequests,
  requestProblem,
  WRITE_TIMEOUT_MS,
} from "../protocol/wire.ts";
import { formatInterim, formatResponse, type HttpRequest, type JsonCache, parseRequest } from "./http.ts";

const SOCKET_MODE = 0o600;
const GROUP_SOCKET_MODE = 0o660;
const LIVENESS_TIMEOUT_MS = 1000;
/**
 * Bytes received and not yet answered that one connection may hold: a few pipelined requests fit;
 * more is cut off (reading pauses while a request is answered, so only one read's worth can pile up).
 */
const MAX_PENDING_BYTES = 65_536;
/** Connections served at once when the caller gives no cap. */
export const DEFAULT_MAX_CONNECTIONS = 256;
/** Reply bytes not yet taken by their clients, over all connections, before the oldest are closed. */
export const MAX_QUEUED_REPLY_BYTES = 16 * 1024 * 1024;
/** The sweep's period: deadlines and heartbeats are checked this often. */
const SWEEP_MS = 250;

/** What answers each route, given the request's body (checked by requestProblem): the reply body of the protocol, or a promise of it. */
export type SocketHandlers = {
  [R in RouteName]: undefined extends RouteRequests[R]
    ? (body?: RouteRequests[R]) => RouteReplies[R] | Promise<RouteReplies[R]>
    : (body: RouteRequests[R]) => RouteReplies[R] | Promise<RouteReplies[R]>;
};

/**
 * Thrown by a handler for a request it cannot take as asked (a switch that cannot be written, say):
 * the client gets 400 with the message, and the daemon goes on.
 */
export class RequestRefused extends Error {
  override readonly name = "RequestRefused";
}

export interface SocketServer {
  path: string;
  /** Stops accepting (removing the socket file); requests in progress still get their reply. */
  stopAccepting(): void;
  /** Closes every connection left. */
  close(): void;
}

/** The deadlines of wire.ts; tests shorten them. */
export interface SocketTimeouts {
  requestTimeoutMs: number;
  writeTimeoutMs: number;
  heartbeatMs: number;
}

export interface ListenOptions {
  group?: string | number;
  handlers: SocketHandlers;
  /** Connections served at once; a function is asked at each new connection (a reload may change it). */
  maxConnections?: number | (() => number);
  maxQueuedReplyBytes?: number;
  timeouts?: Partial<SocketTimeouts>;
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
    const socket = await deadline(Bun.connect({ unix: path, socket: { data() {} } }), LIVENESS_TIMEOUT_MS);
    socket.end();
    return true;
  } catch (error) {
    // A daemon too busy to accept within the timeout is still alive: do not take its socket.
    return isTimeout(error);
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
  let body: unknown;
  if (request.body !== undefined && request.body.length > 0) {
    try {
      body = JSON.parse(request.body.toString("utf8"));
    } catch {
      return errorReply(400, { code: "bad_request", message: `The body of ${route.method} ${route.path} is not JSON` });
    }
  }
  const problem = requestProblem(name, body);
  if (problem !== null) return errorReply(400, { code: "bad_request", message: problem });
  try {
    const handler = handlers[name] as (body: unknown) => unknown;
    return { status: 200, body: await handler(body), contentType: route.contentType };
  } catch (error) {
    if (error instanceof RequestRefused) return errorReply(400, { code: "bad_request", message: error.message });
    if ((error as Error).name === "AbortError") return errorReply(503, { code: "shutting_down", message: "The daemon is shutting down" });
    return errorReply(500, { code: "system", message: messageOf(error) });
  }
}

/**
 * reading: waiting for a whole request; answering: a handler runs; replying: its reply is queued
 * and not yet all taken by the client; closing: the connection ends once what is queued is taken.
 */
type Phase = "reading" | "answering" | "replying" | "closing";

/** One client connection. Times are performance.now() milliseconds. */
interface Connection {
  phase: Phase;
  /** When the phase began: the request deadline runs from here while reading. */
  phaseSince: number;
  /** Bytes received and not yet parsed. */
  received: Buffer;
  /** The request being answered may get interim replies (HTTP/1.1). */
  interim: boolean;
  /** The connection closes after the reply being prepared. */
  closeAfterReply: boolean;
  /** The client half-closed: answer what arrived complete, then close. */
  readClosed: boolean;
  /** Reply bytes the socket has not taken yet. */
  unsent: Buffer[];
  unsentBytes: number;
  /** Since when bytes have been waiting in `unsent`, or null when none are. */
  waitingSince: number | null;
  /** When bytes were last queued for the client (heartbeats count from here). */
  lastQueuedAt: number;
  gone: boolean;
}

type ClientSocket = Bun.Socket<Connection>;

/** A function rather than a comparison: TypeScript would keep a narrowing across calls that change the phase. */
function isClosing(connection: Connection): boolean {
  return connection.phase === "closing";
}

/**
 * Pauses reading again after a partial write. Bun 1.3.14 re-arms reading when a write is partial,
 * whatever pause() said, and then closes a half-closed client's connection on its FIN, cutting the
 * rest of the reply; pause() alone is a no-op on a socket Bun thinks is paused, so resume first.
 */
function keepPaused(socket: ClientSocket): void {
  socket.resume();
  socket.pause();
}

/** The connections, their bounds, and what serves them. */
class ConnectionTable {
  readonly #sockets = new Set<ClientSocket>();
  readonly #handlers: SocketHandlers;
  readonly #timeouts: SocketTimeouts;
  readonly #maxConnections: () => number;
  readonly #maxQueuedReplyBytes: number;
  #queuedReplyBytes = 0;
  /** Frozen parts of replies (a status's hooks) serialized once for every connection. */
  readonly #jsonCache: JsonCache = new WeakMap();
  #sweeper: ReturnType<typeof setInterval> | null = null;

  constructor(options: ListenOptions) {
    this.#handlers = options.handlers;
    this.#timeouts = {
      requestTimeoutMs: REQUEST_TIMEOUT_MS,
      writeTimeoutMs: WRITE_TIMEOUT_MS,
      heartbeatMs: HEARTBEAT_MS,
      ...options.timeouts,
    };
    const cap = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
    this.#maxConnections = typeof cap === "function" ? cap : () => cap;
    this.#maxQueuedReplyBytes = options.maxQueuedReplyBytes ?? MAX_QUEUED_REPLY_BYTES;
  }

  opened(socket: ClientSocket): void {
    const now = performance.now();
    socket.data = {
      phase: "reading",
      phaseSince: now,
      received: Buffer.alloc(0),
      interim: false,
      closeAfterReply: false,
      readClosed: false,
      unsent: [],
      unsentBytes: 0,
      waitingSince: null,
      lastQueuedAt: now,
      gone: false,
    };
    this.#sockets.add(socket);
    if (this.#sockets.size > Math.max(1, this.#maxConnections())) this.#makeRoom(socket);
    if (this.#sweeper === null) {
      const period = Math.min(SWEEP_MS, ...Object.values(this.#timeouts).map((ms) => ms / 4));
      this.#sweeper = setInterval(() => this.#sweep(), period);
    }
  }

  received(socket: ClientSocket, chunk: Buffer): void {
    const connection = socket.data;
    if (connection.gone || connection.phase === "closing") return;
    connection.received = connection.received.length === 0 ? Buffer.from(chunk) : Buffer.concat([connection.received, chunk]);
    this.#serveNext(socket);
    // The parser bounds a request (head, body); what is left after it waits for its turn, up to a bound.
    if (!connection.gone && !isClosing(connection) && connection.received.length > MAX_PENDING_BYTES) {
      this.#terminate(socket); // sending on and on without waiting for the replies: cut it off
    }
  }

  readEnded(socket: ClientSocket): void {
    socket.data.readClosed = true;
    this.#serveNext(socket);
  }

  drained(socket: ClientSocket): void {
    this.#flush(socket);
  }

  closed(socket: ClientSocket): void {
    const connection = socket.data;
    if (connection.gone) return;
    connection.gone = true;
    this.#queuedReplyBytes -= connection.unsentBytes;
    connection.unsent = [];
    connection.unsentBytes = 0;
    this.#sockets.delete(socket);
    if (this.#sockets.size === 0 && this.#sweeper !== null) {
      clearInterval(this.#sweeper);
      this.#sweeper = null;
    }
  }

  get size(): number {
    return this.#sockets.size;
  }

  closeAll(): void {
    for (const socket of [...this.#sockets]) this.#terminate(socket);
  }

  /** Parses and answers the next complete request, if the connection is reading. */
  #serveNext(socket: ClientSocket): void {
    const connection = socket.data;
    if (connection.gone || connection.phase !== "reading") return;
    const parsed = parseRequest(connection.received, { maxBodyBytes: MAX_REQUEST_BODY_BYTES });
    if (parsed.kind === "incomplete") {
      if (!connection.readClosed) return;
      // Half-closed with a request cut short: say so; with nothing left: done. Written at once:
      // Bun 1.3.14 closes the connection as soon as this handler returns.
      if (connection.received.length > 0)
        this.#reply(socket, errorReply(400, { code: "bad_request", message: "Incomplete request" }), true);
      else this.#endWhenFlushed(socket);
      return;
    }
    if (parsed.kind === "error") {
      this.#reply(socket, errorReply(parsed.status, { code: "bad_request", message: parsed.message }), true);
      return;
    }
    connection.received = connection.received.subarray(parsed.length);
    connection.phase = "answering";
    connection.phaseSince = performance.now();
    connection.lastQueuedAt = connection.phaseSince;
    connection.interim = parsed.request.http11;
    connection.closeAfterReply = !parsed.request.keepAlive;
    // Nothing more is read until this reply is taken: the client's next bytes wait in the kernel.
    socket.pause();
    void answer(parsed.request, this.#handlers).then((reply) => this.#reply(socket, reply, connection.closeAfterReply));
  }

  /** Queues a final reply; the connection reads again (or closes) once the client has taken it. */
  #reply(socket: ClientSocket, reply: Reply, close: boolean): void {
    const connection = socket.data;
    if (connection.gone) return;
    connection.phase = close ? "closing" : "replying";
    connection.phaseSince = performance.now();
    socket.pause();
    this.#queue(
      socket,
      formatResponse(reply.status, reply.body, {
        close,
        headers: { ...reply.headers, [PROTOCOL_HEADER]: PROTOCOL_VERSION },
        contentType: reply.contentType,
        cache: this.#jsonCache,
      }),
    );
  }

  #endWhenFlushed(socket: ClientSocket): void {
    socket.data.phase = "closing";
    this.#flush(socket);
  }

  #queue(socket: ClientSocket, chunks: Buffer[]): void {
    const connection = socket.data;
    // Shared chunks count once per connection: a bound on what unread replies could hold, not less.
    const bytes = chunks.reduce((sum, chunk) => sum + chunk.length, 0);
    this.#makeRoomForReply(socket, bytes);
    connection.unsent.push(...chunks);
    connection.unsentBytes += bytes;
    this.#queuedReplyBytes += bytes;
    connection.waitingSince ??= performance.now();
    connection.lastQueuedAt = performance.now();
    this.#flush(socket);
  }

  #flush(socket: ClientSocket): void {
    const connection = socket.data;
    while (connection.unsent.length > 0 && !connection.gone) {
      const chunk = connection.unsent[0]!;
      const written = Math.max(socket.write(chunk), 0);
      connection.unsentBytes -= written;
      this.#queuedReplyBytes -= written;
      if (written < chunk.length) {
        connection.unsent[0] = chunk.subarray(written);
        if (connection.phase !== "reading") keepPaused(socket);
        return; // the rest goes on drain
      }
      connection.unsent.shift();
    }
    if (connection.gone) return;
    connection.waitingSince = null;
    if (connection.phase === "closing") {
      socket.end();
    } else if (connection.phase === "replying") {
      connection.phase = "reading";
      connection.phaseSince = performance.now();
      socket.resume();
      this.#serveNext(socket); // a pipelined request, or the half-close, already received
    }
  }

  /** Closes at once, whatever is queued. */
  #terminate(socket: ClientSocket): void {
    socket.terminate();
    this.closed(socket);
  }

  /** Over the cap: close the connection idle longest, else the one whose reply waited longest, else the new one. */
  #makeRoom(newcomer: ClientSocket): void {
    const others = [...this.#sockets].filter((s) => s !== newcomer);
    const idle = others.filter((s) => s.data.phase === "reading").sort((a, b) => a.data.phaseSince - b.data.phaseSince);
    const stalled = others.filter((s) => s.data.waitingSince !== null).sort((a, b) => a.data.waitingSince! - b.data.waitingSince!);
    this.#terminate(idle[0] ?? stalled[0] ?? newcomer);
  }

  /** Over the bound of queued reply bytes: close the connections whose replies waited longest. */
  #makeRoomForReply(socket: ClientSocket, bytes: number): void {
    if (this.#queuedReplyBytes + bytes <= this.#maxQueuedReplyBytes) return;
    const stalled = [...this.#sockets]
      .filter((s) => s !== socket && s.data.waitingSince !== null)
      .sort((a, b) => a.data.waitingSince! - b.data.waitingSince!);
    for (const other of stalled) {
      if (this.#queuedReplyBytes + bytes <= this.#maxQueuedReplyBytes) return;
      this.#terminate(other);
    }
  }

  #sweep(): void {
    const now = performance.now();
    const { requestTimeoutMs, writeTimeoutMs, heartbeatMs } = this.#timeouts;
    for (const socket of [...this.#sockets]) {
      const connection = socket.data;
      if (connection.waitingSince !== null && now - connection.waitingSince >= writeTimeoutMs) {
        this.#terminate(socket); // the client does not read its reply
      } else if (connection.phase === "reading" && now - connection.phaseSince >= requestTimeoutMs) {
        this.#terminate(socket); // no whole request in time: idle, or trickling bytes
      } else if (
        connection.phase === "answering" &&
        connection.interim &&
        connection.unsentBytes === 0 &&
        now - connection.lastQueuedAt >= heartbeatMs
      ) {
        this.#queue(socket, [formatInterim({ [PROTOCOL_HEADER]: PROTOCOL_VERSION })]);
      }
    }
  }
}

/** Creates the socket and serves the protocol. Returns whether a stale socket was replaced. */
export async function listenSocket(
  path: string,
  options: ListenOptions,
): Promise<SocketServer & { replacedStale: boolean /** Connections open now. */; connections(): number }> {
  const replacedStale = await clearStaleSocket(path);
  const gid = options.group === undefined ? null : resolveGroup(options.group);
  const table = new ConnectionTable(options);
  const previousUmask = process.umask(0o777 & ~SOCKET_MODE);
  let listener: Bun.UnixSocketListener<Connection>;
  try {
    listener = Bun.listen<Connection>({
      unix: path,
      // Honoured by Bun 1.4 on Unix sockets: a client that half-closes after its request still
      // gets the reply. Reading is paused while a request is answered, which covers Bun 1.3.14.
      allowHalfOpen: true,
      socket: {
        open: (socket) => table.opened(socket),
        data: (socket, chunk) => table.received(socket, chunk),
        end: (socket) => table.readEnded(socket),
        drain: (socket) => table.drained(socket),
        close: (socket) => table.closed(socket),
        error: (socket) => table.closed(socket),
      },
    });
  } catch (error) {
    throw new CarpError("system", `Cannot create socket "${path}": ${messageOf(error)}`, { cause: error, kind: "socket" });
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
      table.closeAll();
      listener.stop(true);
    },
    connections: () => table.size,
  };
}
