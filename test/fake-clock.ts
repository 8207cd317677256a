/**
 * Time under a test's control: one machine's monotonic and wall clocks, which advance together,
 * a wall clock that can be stepped alone (NTP, an admin), reboots, and clocks for any number of
 * processes of that machine.
 */
import type { Clock, ClockReading } from "../src/system/clock.ts";

export interface Timeline {
  /** Real time passes: both clocks move. */
  advance(ms: number): void;
  /** The wall clock alone is set, as NTP does at boot: the monotonic clock does not move. */
  stepWall(ms: number): void;
  /** The machine restarts: a new boot id (when boot ids are known), the monotonic clock from zero. */
  reboot(options?: { downtimeMs?: number; uptimeMs?: number }): void;
  /** The clock of one process on this machine; `bootId: false` for a system without boot ids. */
  clock(process: string, options?: { bootId?: boolean }): Clock & { reading(): ClockReading };
}

export const START_WALL_MS = Date.parse("2026-11-30T12:00:00Z");

export function timeline(): Timeline {
  let monotonicMs = 3_600_000;
  let wallMs = START_WALL_MS;
  let boots = 1;
  return {
    advance(ms) {
      monotonicMs += ms;
      wallMs += ms;
    },
    stepWall(ms) {
      wallMs += ms;
    },
    reboot({ downtimeMs = 60_000, uptimeMs = 30_000 } = {}) {
      boots++;
      wallMs += downtimeMs + uptimeMs;
      monotonicMs = uptimeMs;
    },
    clock(process, { bootId = true } = {}) {
      const reading = (): ClockReading => ({ monotonicMs, wallMs, boot: bootId ? `boot-${boots}` : null, process });
      return { read: reading, reading };
    },
  };
}
