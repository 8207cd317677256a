/** `status`: what the daemon last saw. */
import { CarpError, EXIT } from "../common/errors.ts";
import { findSocket } from "../config/socket.ts";
import { callDaemon, DaemonIncompatible, DaemonUnreachable } from "../protocol/client.ts";
import { STATUS_TIMEOUT_MS } from "../protocol/wire.ts";
import type { Flags } from "./flags.ts";
import { formatStatus } from "./report.ts";

export async function run(flags: Flags): Promise<number> {
  const socket = findSocket(flags.config as string | undefined);
  if (socket === false) throw new CarpError("system", "The config sets no socket, so there is no daemon to ask", { kind: "config" });
  if (flags.watch === true) {
    if (flags.json === true) throw new CarpError("usage", "--watch and --json do not go together; use one");
    const { watchStatus } = await import("./watch.ts");
    return watchStatus(socket);
  }
  try {
    const status = await callDaemon(socket, "status", { timeoutMs: STATUS_TIMEOUT_MS });
    console.log(flags.json === true ? JSON.stringify(status, null, 2) : formatStatus(status));
    return EXIT.ok;
  } catch (error) {
    if (error instanceof DaemonIncompatible) throw new CarpError("system", error.message, { kind: "socket" });
    if (error instanceof DaemonUnreachable) {
      throw new CarpError("system", `${error.message}; is the daemon running? (service carp_service_status start)`, { kind: "socket" });
    }
    throw error;
  }
}
