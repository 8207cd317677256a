/** The schedule, behind a small interface so the daemon can be driven by a test's own ticks. */
import { Cron } from "croner";

export interface Scheduler {
  /** The next tick, or null when none is due. */
  nextRun(): Date | null;
  stop(): void;
}

/** Starts a schedule that calls onTick at every match of a croner pattern. */
export type StartSchedule = (pattern: string, onTick: () => void, onError: (error: unknown) => void) => Scheduler;

/**
 * croner: `catch` keeps an error in a tick from ending the process. A cron pattern names wall-clock
 * times, so the schedule follows the wall clock by design: croner sleeps at most 30 s at a time
 * and reads the clock again at every wake, so after a step the ticks follow the new time within
 * one such sleep (one second with a per-second schedule). Nothing that decides (the hold-down, the
 * hold timer) is measured on it.
 */
export const startCronSchedule: StartSchedule = (pattern, onTick, onError) => {
  const cron = new Cron(pattern, { catch: onError }, onTick);
  return { nextRun: () => cron.nextRun(), stop: () => cron.stop() };
};
