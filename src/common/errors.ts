/**
 * The one domain error. `code` decides the exit status at the CLI boundary and the reply kind
 * on the socket; messages name the thing and, where there is one, the fix.
 */
/** usage: bad command line; config: bad config; in_use: the socket is a live daemon's; system: the OS failed us. */
export type ErrorCode = "usage" | "config" | "in_use" | "system";

export class CarpError extends Error {
  override readonly name = "CarpError";
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** Exit statuses of every command: 0 all passed, 1 a service failed, 2 usage/config, 3 system. */
export const EXIT = { ok: 0, serviceFailed: 1, usage: 2, system: 3 } as const;

/** A live daemon on the socket is a setup problem, like a bad config: exit 2, not 3. */
const EXIT_OF_CODE: Record<ErrorCode, number> = { usage: EXIT.usage, config: EXIT.usage, in_use: EXIT.usage, system: EXIT.system };

/** Maps any thrown value to the exit status the CLI reports. */
export function exitCodeOf(error: unknown): number {
  return error instanceof CarpError ? EXIT_OF_CODE[error.code] : EXIT.system;
}

/** The message of any thrown value, for logs and replies. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
