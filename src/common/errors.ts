/**
 * The one domain error. `code` decides the exit status at the CLI boundary and the reply kind
 * on the socket; `kind` says what failed, for metrics and logs (never read from the message,
 * which is for people and may be reworded); messages name the thing and, where there is one, the fix.
 */
/** usage: bad command line; config: bad config; in_use: the socket is a live daemon's; system: the OS failed us. */
export type ErrorCode = "usage" | "config" | "in_use" | "system";

/**
 * What failed, set where the error is thrown:
 *
 * | kind        | what failed                                                                        |
 * | usage       | the command line                                                                   |
 * | config      | the configuration: a file that cannot be read, an invalid value, settings that cannot work together |
 * | hooks_dir   | the hooks directory: not a directory, or cannot be listed                          |
 * | lock        | the lock file: cannot be opened, or still held by another run after lockTimeoutMs  |
 * | sysctl      | net.inet.carp.demotion (or another oid), real or simulated: cannot be read or written, or says nonsense |
 * | syslog      | logger(1) or the simulated syslog                                                  |
 * | gateways    | the gateway status command: cannot run, fails, times out, or prints anything but the status |
 * | resources   | this process is out of descriptors or processes: our fault, not the service's       |
 * | state       | the flap history's state file (never fails an evaluation; its log lines carry the kind) |
 * | socket      | the control socket: cannot listen, a live daemon owns it, cannot connect, a reply not understood |
 * | install     | install and uninstall: a file or service step                                     |
 * | other       | anything not foreseen                                                              |
 */
export const ERROR_KINDS = [
  "usage",
  "config",
  "hooks_dir",
  "lock",
  "sysctl",
  "syslog",
  "gateways",
  "resources",
  "state",
  "socket",
  "install",
  "other",
] as const;

export type ErrorKind = (typeof ERROR_KINDS)[number];

/** The kind of an error thrown without one: what its code already says, else "other". */
const KIND_OF_CODE: Record<ErrorCode, ErrorKind> = { usage: "usage", config: "config", in_use: "socket", system: "other" };

export class CarpError extends Error {
  override readonly name = "CarpError";
  readonly code: ErrorCode;
  /** What failed (see ERROR_KINDS). Only withKind changes it, and only from "other". */
  kind: ErrorKind;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; kind?: ErrorKind }) {
    super(message, options);
    this.code = code;
    this.kind = options?.kind ?? KIND_OF_CODE[code];
  }
}

/** What failed, from the error's own field: "other" for a CarpError thrown without a kind and for anything else. */
export function kindOf(error: unknown): ErrorKind {
  return error instanceof CarpError ? error.kind : "other";
}

/**
 * Gives an error thrown by a step that could not tell what it was for (a shared helper, a private
 * directory) the kind of the step that called it: a CarpError of kind "other" gets `kind`; any
 * other error is returned as it is. For `catch (error) { throw withKind(error, "lock"); }`.
 */
export function withKind(error: unknown, kind: ErrorKind): unknown {
  if (error instanceof CarpError && error.kind === "other") error.kind = kind;
  return error;
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
