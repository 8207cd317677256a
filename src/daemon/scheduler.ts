/** The schedule, behind a small interface so the daemon can be driven by a test's own ticks. */
import { Cron } from "croner";

export interface Scheduler {
  /** The next tick, or null when none is due. */
  nextRun(): Date | null;
  stop(): void;
}

/** Starts a schedule that calls onTick at every match of a croner pattern. */
export type StartSchedule = (pattern: string, onTick: () => void, onError: (error: unknown) => void) => Scheduler;

/** croner: `catch` keeps an error in a tick from ending the process. */
export const startCronSchedule: StartSchedule = (pattern, onTick, onError) => {
  const cron = new Cron(pattern, { catch: onError }, onTick);
  return { nextRun: () => cron.nextRun(), stop: () => cron.stop() };
};
