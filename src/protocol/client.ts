/**
 * The lean client of the daemon's socket, for `trigger`, `status` and `configd` (which find the
 * socket with config/socket.ts): it speaks HTTP/1.1 on Bun.connect itself, for deadlines fetch
 * cannot express: a connect deadline, and an idle deadline between the reply's bytes (the
 * daemon's interim `102 Processing` replies count), so a stopped daemon costs seconds while a long
 * evaluation is still waited for. Everything here is cheap to import; it reads no config file.
 */
import { lstatSync } from "node:fs";
import { CarpError, messageOf } from "../common/errors.ts";
import {
  CONNECT_TIMEOUT_MS,
  isErrorReply,
  PROTOCOL_HEADER,
  PROTOCOL_VERSION,
  protocolMajor,
  protocolMinor,
  REPLY_GUARDS,
  REPLY_IDLE_TIMEOUT_MS,
  ROUTE_SINCE_MINOR,
  ROUTES,
  type RouteName,
  type RouteReplies,
  type RouteRequests,
} from "./wire.ts";

/**
 * No daemon answered at the socket (missing, refused, reset, silent past a deadline, shutting
 * down): a caller may evaluate by itself. The stock lock keeps that safe next to a daemon's run.
 */
export class DaemonUnreachable extends Error {
  override readonly name: string = "DaemonUnreachable";
}

/**
 * A daemon answered but speaks another major protocol version: the executable was upgraded and the
 * daemon was not restarted. No use can be made of it; a caller may evaluate by itself, as with none.
 */
export class DaemonIncompatible extends DaemonUnreachable {
  override readonly name = "DaemonIncompatible";
}

/**
 * The daemon answered with an error: it could not evaluate (and logged why itself), or refused the
 * request. A CarpError("system"), like any other failure to get an answer.
 */
export class DaemonFailed extends CarpError {
  constructor(message: string) {
    super("system", message);
  }
}

/** Deadlines of one call; tests shorten them. */
export interface CallDeadlines {
  /** For the whole reply; none by default (an evaluation takes as long as its hooks may). */
  timeoutMs?: number;
  connectTimeoutMs?: number;
  /** Between two bytes of the reply (interim replies included). */
  idleTimeoutMs?: number;
}

/** A final reply as received. */
interface RawReply {
  status: number;
  headers: Map<string, string>;
  body: Buffer;
}

const HEAD_END = "\r\n\r\n";

/**
 * Why a connect failed, as an errno name. Bun 1.3.14 says ENOENT (Bun.connect) or
 * FailedToOpenSocket (fetch) for every failure, so the socket file is looked at to tell them apart.
 */
export function connectFailure(path: string, code: string | undefined): string {
  let isSocket: boolean;
  try {
    isSocket = lstatSync(path).isSocket();
  } catch {
    return "ENOENT";
  }
  if (!isSocket) return "ENOTSOCK";
  return code === undefined || code === "ENOENT" || !/^E[A-Z]+$/.test(code) ? "ECONNREFUSED" : code;
}

/** The heads and body of `bytes`, once a final reply is complete (`ended`: the daemon closed). */
function parseReply(bytes: Buffer, { ended }: { ended: boolean }): RawReply | null {
  let start = 0;
  for (;;) {
    const end = bytes.indexOf(HEAD_END, start);
    if (end < 0) return null;
    const [statusLine = "", ...lines] = bytes.subarray(start, end).toString("latin1").split("\r\n");
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? Number.NaN);
    if (Number.isNaN(status)) throw new Error(`not HTTP: "${statusLine.slice(0, 40)}"`);
    const bodyStart = end + HEAD_END.length;
    if (status < 200) {
      start = bodyStart; // an interim reply (102 Processing): the final one follows
      continue;
    }
    const headers = new Map<string, string>();
    for (const line of lines) {
      const colon = line.indexOf(":");
      if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
    }
    const length = headers.get("content-length");
    if (length !== undefined) {
      const bodyEnd = bodyStart + Number(length);
      return bytes.length >= bodyEnd ? { status, headers, body: bytes.subarray(bodyStart, bodyEnd) } : null;
    }
    if (!ended) return null;
    const body = bytes.subarray(bodyStart);
    return { status, headers, body: headers.get("transfer-encoding")?.toLowerCase() === "chunked" ? dechunk(body) : body };
  }
}

/** A chunked body (RFC 9112 7.1) as its bytes. */
function dechunk(body: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = body.indexOf("\r\n", at);
    if (lineEnd < 0) throw new Error("truncated chunked body");
    const size = Number.parseInt(body.subarray(at, lineEnd).toString("latin1"), 16);
    if (Number.isNaN(size)) throw new Error("malformed chunked body");
    if (size === 0) return Buffer.concat(parts);
    parts.push(body.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
}

/**
 * Sends one request and resolves to the final reply, skipping interim ones. Rejects with
 * DaemonUnreachable when no connection is made, the connection ends before the reply, or a
 * deadline passes with nothing received.
 */
function exchange(path: string, request: string, deadlines: Required<Omit<CallDeadlines, "timeoutMs">> & CallDeadlines): Promise<RawReply> {
  const { connectTimeoutMs, idleTimeoutMs, timeoutMs } = deadlines;
  return new Promise<RawReply>((resolve, reject) => {
    let socket: Bun.Socket<undefined> | null = null;
    let received = Buffer.alloc(0);
    let unsent = Buffer.from(request);
    let settled = false;
    let idleTimer: ReturnType<typeof setTimeout> | undefined;
    let connectTimer: ReturnType<typeof setTimeout> | undefined;
    let totalTimer: ReturnType<typeof setTimeout> | undefined;
    const finish = (outcome: { reply: RawReply } | { error: Error }) => {
      if (settled) return;
      settled = true;
      for (const timer of [connectTimer, totalTimer, idleTimer]) clearTimeout(timer);
      socket?.terminate();
      if ("reply" in outcome) resolve(outcome.reply);
      else reject(outcome.error);
    };
    const unreachable = (message: string) => finish({ error: new DaemonUnreachable(`The daemon at "${path}" ${message}`) });
    const armIdle = () => {
      clearTimeout(idleTimer);
      idleTimer = setTimeout(() => unreachable(`sent nothing for ${idleTimeoutMs} ms (stopped or hung?)`), idleTimeoutMs);
    };
    const check = (ended: boolean) => {
      let reply: RawReply | null;
      try {
        reply = parseReply(received, { ended });
      } catch (error) {
        finish({
          error: new CarpError("system", `Something at "${path}" that is not the daemon answered: ${messageOf(error)}`, { kind: "socket" }),
        });
        return;
      }
      if (reply !== null) finish({ reply });
      else if (ended) unreachable(received.length === 0 ? "closed the connection without answering" : "closed the connection mid-reply");
    };
    const send = (s: Bun.Socket<undefined>) => {
      const written = Math.max(s.write(unsent), 0);
      unsent = unsent.subarray(written);
    };
    connectTimer = setTimeout(() => unreachable(`accepted no connection within ${connectTimeoutMs} ms`), connectTimeoutMs);
    if (timeoutMs !== undefined) totalTimer = setTimeout(() => unreachable(`did not answer within ${timeoutMs} ms`), timeoutMs);
    Bun.connect({
      unix: path,
      socket: {
        open(s) {
          socket = s;
          if (settled) {
            s.terminate();
            return;
          }
          clearTimeout(connectTimer);
          armIdle();
          send(s);
        },
        drain(s) {
          if (unsent.length > 0) send(s);
        },
        data(_s, chunk) {
          received = Buffer.concat([received, chunk]);
          armIdle();
          check(false);
        },
        end: () => check(true),
        close: () => check(true),
        error: (_s, error) => unreachable(`reset the connection (${(error as NodeJS.ErrnoException).code ?? messageOf(error)})`),
      },
    }).catch((error: NodeJS.ErrnoException) => {
      const code = connectFailure(path, error.code);
      finish({ error: new DaemonUnreachable(`No daemon answers at "${path}" (${code})`) });
    });
  });
}

/** What the daemon could not do, for the message of an error reply. */
const WHAT: Record<RouteName, string> = {
  evaluate: "evaluate",
  status: "status",
  metrics: "metrics",
  maintenance: "turn maintenance on or off",
};

/** A call's deadlines, and the request's body (JSON) for a route that takes one. */
export type CallOptions<R extends RouteName> = CallDeadlines & { body?: RouteRequests[R] };

/**
 * Sends one request to the daemon; resolves to the route's reply. Throws DaemonUnreachable when no
 * daemon of this protocol answers, CarpError on an error reply (and when the daemon is too old for
 * the route: it runs, so evaluating here instead would not be heeded by it).
 */
export async function callDaemon<R extends RouteName>(socket: string, route: R, options: CallOptions<R> = {}): Promise<RouteReplies[R]> {
  const { method, path } = ROUTES[route];
  const textReply = "contentType" in ROUTES[route];
  const { body: requestBody, ...deadlines } = options;
  const payload = requestBody === undefined ? "" : JSON.stringify(requestBody);
  const head = [
    `${method} ${path} HTTP/1.1`,
    "Host: localhost",
    "Connection: close",
    ...(payload !== "" ? ["Content-Type: application/json"] : []),
    ...(method === "POST" ? [`Content-Length: ${Buffer.byteLength(payload)}`] : []),
    "",
    "",
  ].join("\r\n");
  const response = await exchange(socket, head + payload, {
    connectTimeoutMs: CONNECT_TIMEOUT_MS,
    idleTimeoutMs: REPLY_IDLE_TIMEOUT_MS,
    ...deadlines,
  });
  const ok = response.status >= 200 && response.status < 300;
  const version = response.headers.get(PROTOCOL_HEADER) ?? null;
  const since = ROUTE_SINCE_MINOR[route];
  if (since !== undefined && protocolMajor(version) === protocolMajor(PROTOCOL_VERSION) && protocolMinor(version) < since) {
    throw new CarpError(
      "system",
      `The daemon at "${socket}" speaks protocol ${version}, which has no ${ROUTES[route].method} ${path} (it came with ${protocolMajor(PROTOCOL_VERSION)}.${since}): ` +
        "restart the daemon after an upgrade (service carp_service_status restart)",
      { kind: "socket" },
    );
  }
  let body: unknown;
  try {
    // A text route (metrics) still answers errors in JSON.
    body = textReply && ok ? response.body.toString() : JSON.parse(response.body.toString());
  } catch {
    throw new CarpError("system", `The daemon at "${socket}" sent a reply that is not JSON (status ${response.status})`, {
      kind: "socket",
    });
  }
  if (isErrorReply(body) && body.error.code === "shutting_down") {
    // A daemon on its way out (a restart) cannot evaluate; the caller may, like with no daemon.
    throw new DaemonUnreachable(`The daemon at "${socket}" is shutting down`);
  }
  if (!ok || isErrorReply(body)) {
    const message = isErrorReply(body) ? body.error.message : `status ${response.status}`;
    throw new DaemonFailed(`The daemon could not ${WHAT[route]}: ${message}`);
  }
  const theirs = response.headers.get(PROTOCOL_HEADER) ?? null;
  if (protocolMajor(theirs) !== protocolMajor(PROTOCOL_VERSION)) {
    throw new DaemonIncompatible(
      `The daemon at "${socket}" speaks protocol ${theirs ?? "0 (before 1.0)"} and this executable ${PROTOCOL_VERSION}: ` +
        "restart the daemon after an upgrade (service carp_service_status restart)",
    );
  }
  if (!REPLY_GUARDS[route](body)) {
    throw new CarpError("system", `The daemon at "${socket}" sent a reply to ${route} of an unknown shape (protocol ${theirs})`, {
      kind: "socket",
    });
  }
  return body;
}
