/**
 * The syslog lines users grep for, sent with logger(1) as the stock script sends them:
 * ident `carp`, facility daemon, priority warning.
 */

import { CarpError } from "../common/errors.ts";
import { runCommand } from "./run-tool.ts";
import type { ToolOptions } from "./sysctl.ts";

export interface Syslog {
  warning(message: string, options?: ToolOptions): Promise<void>;
}

/** logger(1) through Bun.spawn (Bun has no unix datagram sockets). */
export function createSyslog(executable: string, { timeoutMs }: { timeoutMs?: number } = {}): Syslog {
  return {
    async warning(message, options = {}) {
      const argv = [executable, "-t", "carp", "-p", "daemon.warning", "--", message];
      const result = await runCommand(argv, { what: "logger", kind: "syslog", signal: options.signal, timeoutMs });
      if (result.exitCode !== 0) {
        const detail = result.stderr.trim() || `exit status ${result.exitCode}`;
        throw new CarpError("system", `logger failed: ${detail}`, { kind: "syslog" });
      }
    },
  };
}
