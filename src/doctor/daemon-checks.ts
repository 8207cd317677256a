/**
 * doctor's look at the daemon: whether one answers on the socket, and whether it runs this
 * executable's version (an upgrade needs a restart); and the socket file itself.
 */
import { lstatSync } from "node:fs";
import { messageOf } from "../common/errors.ts";
import { VERSION } from "../common/version.ts";
import { callDaemon, DaemonIncompatible, DaemonUnreachable } from "../protocol/client.ts";
import type { DaemonStatus } from "../protocol/wire.ts";
import { type Finding, finding } from "./finding.ts";

/** How long doctor waits for the daemon's status. */
const STATUS_WAIT_MS = 3000;

/** The daemon's status as asked, or why none came. Pure. */
export function daemonFinding(answer: DaemonStatus | Error, version: string = VERSION): Finding {
  if (answer instanceof DaemonIncompatible) {
    return finding("daemon", "warn", answer.message, "service carp_service_status restart");
  }
  if (answer instanceof DaemonUnreachable) {
    return finding("daemon", "warn", `not running: ${answer.message}`, "service carp_service_status start");
  }
  if (answer instanceof Error) return finding("daemon", "problem", answer.message, "service carp_service_status restart");
  const running = `pid ${answer.pid}, version ${answer.version}, up ${Math.round(answer.uptimeMs / 1000)} s`;
  if (answer.version !== version) {
    return finding(
      "daemon",
      "warn",
      `running (${running}), but this executable is version ${version}`,
      "service carp_service_status restart",
    );
  }
  return finding("daemon", "ok", `running (${running})`);
}

/** Asks the daemon for its status. */
export async function checkDaemon(socket: string | false): Promise<Finding> {
  if (socket === false) return finding("daemon", "info", 'no socket configured ("socket = false"): a daemon cannot be asked');
  try {
    return daemonFinding(await callDaemon(socket, "status", { timeoutMs: STATUS_WAIT_MS }));
  } catch (error) {
    return daemonFinding(error instanceof Error ? error : new Error(messageOf(error)));
  }
}

/** Whether something accepts connections on a Unix socket. */
async function accepts(path: string): Promise<boolean> {
  try {
    const socket = await Bun.connect({ unix: path, socket: { data() {} } });
    socket.end();
    return true;
  } catch {
    return false;
  }
}

/** The socket file: present, a socket, and listened on. */
export async function checkSocket(socket: string | false): Promise<Finding> {
  if (socket === false) return finding("socket", "info", 'none configured ("socket = false"): the daemon runs on its schedule only');
  let isSocket: boolean;
  try {
    isSocket = lstatSync(socket).isSocket();
  } catch {
    return finding("socket", "warn", `"${socket}" does not exist: no daemon listens`, "service carp_service_status start");
  }
  if (!isSocket) return finding("socket", "problem", `"${socket}" exists and is not a socket: the daemon cannot start`, `rm "${socket}"`);
  if (!(await accepts(socket))) {
    return finding(
      "socket",
      "warn",
      `"${socket}" is left from a daemon that is gone: nothing accepts connections`,
      "service carp_service_status start",
    );
  }
  return finding("socket", "ok", `"${socket}" accepts connections`);
}
