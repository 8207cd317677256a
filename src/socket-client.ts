/**
 * The lean client of the daemon's socket, for `trigger` and `status`: it finds the socket from
 * the config file without loading zod (the daemon validated that file) and speaks HTTP with
 * Bun's fetch. Everything here is cheap to import.
 */
import { existsSync, readFileSync } from "node:fs";
import { DEFAULT_CONFIG_FILE, defaultPaths } from "./defaults.ts";
import { CarpError, messageOf } from "./errors.ts";
import { isErrorReply, ROUTES } from "./protocol.ts";

/** No daemon answered at the socket (missing, refused, shutting down): a caller may evaluate by itself. */
export class DaemonUnreachable extends Error {
  override readonly name = "DaemonUnreachable";
}

/** The socket path from the config file (`--config`, else the default file when it exists), or false. */
export function findSocket(configFile?: string): string | false {
  const file = configFile ?? (existsSync(DEFAULT_CONFIG_FILE) ? DEFAULT_CONFIG_FILE : null);
  if (file === null) return defaultPaths().socket;
  let parsed: Record<string, unknown>;
  try {
    parsed = Bun.TOML.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
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

/** Sends one request to the daemon; resolves to the reply body, throws CarpError on an error reply. */
export async function callDaemon(socket: string, route: keyof typeof ROUTES, { timeoutMs }: { timeoutMs: number }): Promise<unknown> {
  const { method, path } = ROUTES[route];
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
    body = await response.json();
  } catch {
    throw new CarpError("system", `The daemon at "${socket}" sent a reply that is not JSON (status ${response.status})`);
  }
  if (isErrorReply(body) && body.error.code === "shutting_down") {
    // A daemon on its way out (a restart) cannot evaluate; the caller may, like with no daemon.
    throw new DaemonUnreachable(`The daemon at "${socket}" is shutting down`);
  }
  if (!response.ok || isErrorReply(body)) {
    const message = isErrorReply(body) ? body.error.message : `status ${response.status}`;
    throw new CarpError("system", `The daemon could not ${route}: ${message}`);
  }
  return body;
}
