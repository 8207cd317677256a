/** Whether and how a re-read configuration replaces the running one: a pure decision. */
import type { Config } from "../config/config.ts";

export type ReloadPlan =
  | { accept: false; reason: string }
  | {
      accept: true;
      /** The schedule changed: the old one stops and the new one starts. */
      reschedule: boolean;
      /** The socket or its group changed: that takes a restart, so it is said and ignored. */
      socketChangeIgnored: boolean;
    };

/** Decides a reload from the running config, the new one, and whether the daemon has its socket. */
export function planReload(current: Config, next: Config, { listening }: { listening: boolean }): ReloadPlan {
  if (!listening && next.schedule === false) {
    return { accept: false, reason: "without a socket it needs a schedule" };
  }
  return {
    accept: true,
    reschedule: next.schedule !== current.schedule,
    socketChangeIgnored: next.socket !== current.socket || next.socketGroup !== current.socketGroup,
  };
}
