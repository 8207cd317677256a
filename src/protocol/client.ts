/**
 * The lean client of the daemon's socket, for `trigger` and `status`: it finds the socket from
 * the config file without loading zod (the daemon validated that file) and speaks HTTP with
 * Bun's fetch. Everything here is cheap to import.
 */
import { existsSync } from "node:fs";
import { CarpError, messageOf } from "../common/errors.ts";
import { readBoundedFile } from "../common/read-file.ts";
import { CONFIG_MAX_BYTES, DEFAULT_CONFIG_FILE, defaultPaths } from "../config/defaults.ts";
import {
  isErrorReply,
  PROTOCOL_HEADER,
  PROTOCOL_VERSION,
  protocolMajor,
  REPLY_GUARDS,
  ROUTES,
  type RouteName,
  type RouteReplies,
} from "./wire.ts";

/** No daemon answered at the socket (missing, refused, shutting down): a caller may evaluate by itself. */
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

/** The socket path from the config file (`--config`, else the default file when it exists), or false. */
export function findSocket(configFile?: string): string | false {
  const file = configFile ?? (existsSync(DEFAULT_CONFIG_FILE) ? DEFAULT_CONFIG_FILE : null);
  if (file === null) return defaultPaths().socket;
  let parsed: Record<string, unknown>;
  try {
    parsed = Bun.TOML.parse(readBoundedFile(file, { maxBytes: CONFIG_MAX_BYTES })) as Record<string, unknown>;
  } catch (error) {
    throw new CarpError("config", `Cannot read config "${file}": ${messageOf(error)}`);
  }
  const socket = parsed.socket ?? defaultPaths().socket;
  if (socket !== false && (typeof socket !== "string" || socket === "")) {
    throw new CarpError("config", `Invalid config "${file}": socket must be a path or false`);
  }
  return socket;
}

const UNREACHABLE = new Set(["ENOENT", "ECONNREFUSED", "ENOTSOCK", "ConnectionRefused", "FailedToOpenSocket"]);

/**
 * Sends one request to the daemon; resolves to the route's reply. Throws DaemonUnreachable when no
 * daemon of this protocol answers, CarpError on an error reply.
 */
export async function callDaemon<R extends RouteName>(
  socket: string,
  route: R,
  { timeoutMs }: { timeoutMs: number },
): Promise<RouteReplies[R]> {
  const { method, path } = ROUTES[route];
  const textReply = "contentType" in ROUTES[route];
  let response: Response;
  try {
    response = await fetch(`http://localhost${path}`, { method, unix: socket, signal: AbortSignal.timeout(timeoutMs) });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? "";
    if (UNREACHABLE.has(code)) throw new DaemonUnreachable(`No daemon answers at "${socket}" (${code})`);
    if ((error as Error).name === "TimeoutError") {
      throw new CarpError("system", `The daemon at "${socket}" did not answer within ${timeoutMs} ms`);
    }
    throw new CarpError("system", `Cannot reach the daemon at "${socket}": ${messageOf(error)}`);
  }
  let body: unknown;
  try {
    // A text route (metrics) still answers errors in JSON.
    body = textReply && response.ok ? await response.text() : await response.json();
  } catch {
    throw new CarpError("system", `The daemon at "${socket}" sent a reply that is not JSON (status ${response.status})`);
  }
  if (isErrorReply(body) && body.error.code === "shutting_down") {
    // A daemon on its way out (a restart) cannot evaluate; the caller may, like with no daemon.
    throw new DaemonUnreachable(`The daemon at "${socket}" is shutting down`);
  }
  if (!response.ok || isErrorReply(body)) {
    const message = isErrorReply(body) ? body.error.message : `status ${response.status}`;
    throw new DaemonFailed(`The daemon could not ${route}: ${message}`);
  }
  const theirs = response.headers.get(PROTOCOL_HEADER);
  if (protocolMajor(theirs) !== protocolMajor(PROTOCOL_VERSION)) {
    throw new DaemonIncompatible(
      `The daemon at "${socket}" speaks protocol ${theirs ?? "0 (before 1.0)"} and this executable ${PROTOCOL_VERSION}: ` +
        "restart the daemon after an upgrade (service carp_service_status restart)",
    );
  }
  if (!REPLY_GUARDS[route](body)) {
    throw new CarpError("system", `The daemon at "${socket}" sent a reply to ${route} of an unknown shape (protocol ${theirs})`);
  }
  return body;
}
