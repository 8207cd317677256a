/**
 * The socket protocol: HTTP/1.1 over the Unix socket, JSON bodies, so curl and nc work.
 *   POST /evaluate  evaluate now; 200 with the evaluation (as `check --json` prints it)
 *   GET  /status    200 with the daemon's status
 * Errors: a status >= 400 and { "error": { "code", "message" } }. This module is shared by the
 * daemon and the lean clients, so it imports nothing.
 */

export const ROUTES = {
  evaluate: { method: "POST", path: "/evaluate" },
  status: { method: "GET", path: "/status" },
} as const;

export type ErrorReplyCode = "system" | "not_found" | "method_not_allowed" | "shutting_down" | "bad_request";

export interface ErrorReply {
  error: { code: ErrorReplyCode; message: string };
}

/** Largest request body accepted (none is needed). */
export const MAX_REQUEST_BODY_BYTES = 1024;
/** Seconds a connection may stay silent before the daemon closes it. */
export const IDLE_TIMEOUT_S = 10;
/** How long `trigger` waits for an evaluation: hooks time out long before this. */
export const EVALUATE_TIMEOUT_MS = 300_000;
/** How long `status` waits for the reply. */
export const STATUS_TIMEOUT_MS = 5_000;

export function isErrorReply(body: unknown): body is ErrorReply {
  const error = (body as ErrorReply | null)?.error;
  return typeof error === "object" && error !== null && typeof error.message === "string";
}
