/** `status`: what the daemon last saw. */
import type { Flags } from "./cli.ts";
import { CarpError, EXIT } from "./errors.ts";
import { STATUS_TIMEOUT_MS } from "./protocol.ts";
import { formatStatus } from "./report.ts";
import { callDaemon, DaemonUnreachable, findSocket } from "./socket-client.ts";
import type { DaemonStatus } from "./status-book.ts";

export async function run(flags: Flags): Promise<number> {
  const socket = findSocket(flags.config as string | undefined);
  if (socket === false) throw new CarpError("system", "The config sets no socket, so there is no daemon to ask");
  let status: DaemonStatus;
  try {
    status = (await callDaemon(socket, "status", { timeoutMs: STATUS_TIMEOUT_MS })) as DaemonStatus;
  } catch (error) {
    if (error instanceof DaemonUnreachable) {
      throw new CarpError("system", `${error.message}; is the daemon running? (service carp_service_status start)`);
    }
    throw error;
  }
  console.log(flags.json === true ? JSON.stringify(status, null, 2) : formatStatus(status));
  return EXIT.ok;
}
