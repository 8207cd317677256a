/**
 * The syslog lines users grep for, sent with logger(1) as the stock script sends them:
 * ident `carp`, facility daemon, priority warning.
 */

import { CarpError } from "../common/errors.ts";
import { runCommand } from "./run-tool.ts";

export interface Syslog {
  warning(message: string): Promise<void>;
}

/** logger(1) through Bun.spawn (Bun has no unix datagram sockets). */
export function createSyslog(executable: string): Syslog {
  return {
    async warning(message) {
      const result = await runCommand([executable, "-t", "carp", "-p", "daemon.warning", "--", message], "logger");
      if (result.exitCode !== 0) {
        const detail = result.stderr.trim() || `exit status ${result.exitCode}`;
        throw new CarpError("system", `logger failed: ${detail}`);
      }
    },
  };
}
