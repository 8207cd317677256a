/**
 * Syslog through logger(1), as Bun has no Unix datagram sockets: the one sender for the lines users
 * grep for (ident `carp`, facility daemon, priority warning, as the stock script sends them) and
 * for our own log lines (log-syslog.ts).
 */

import { CarpError } from "../common/errors.ts";
import { runCommand } from "./run-tool.ts";
import type { ToolOptions } from "./sysctl.ts";

export interface Syslog {
  warning(message: string, options?: ToolOptions): Promise<void>;
}

/** One syslog record: its ident (the Process column) and its priority in facility daemon. */
export interface SyslogRecord {
  ident: string;
  priority: string;
  message: string;
}

/** Sends one record with logger(1) at `logger`; throws CarpError (kind syslog) when it fails. */
export async function sendWithLogger(
  logger: string,
  record: SyslogRecord,
  options: ToolOptions & { timeoutMs?: number } = {},
): Promise<void> {
  const argv = [logger, "-t", record.ident, "-p", `daemon.${record.priority}`, "--", record.message];
  const result = await runCommand(argv, { what: "logger", kind: "syslog", signal: options.signal, timeoutMs: options.timeoutMs });
  if (result.exitCode !== 0) {
    const detail = result.stderr.trim() || `exit status ${result.exitCode}`;
    throw new CarpError("system", `logger failed: ${detail}`, { kind: "syslog" });
  }
}

/** The stock lines through logger(1). */
export function createSyslog(executable: string, { timeoutMs }: { timeoutMs?: number } = {}): Syslog {
  return {
    warning: (message, options = {}) =>
      sendWithLogger(executable, { ident: "carp", priority: "warning", message }, { ...options, timeoutMs }),
  };
}
