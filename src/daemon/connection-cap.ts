/**
 * How many socket connections the daemon serves at once: what the descriptor limit leaves after
 * an evaluation has taken everything it may need. Running out of descriptors would fail hooks, or
 * sysctl, for our own fault: a flood of connections must never cost an evaluation its descriptors.
 */
import { capConcurrency, FDS_PER_HOOK } from "../engine/pool.ts";

/** Descriptors an evaluation may hold at once besides its hooks: each tool's pipes while it starts, each file. */
export const EVALUATION_FDS = {
  sysctl: 4,
  /** logger(1) for the stock line, and for our own log lines under --syslog. */
  logger: 8,
  lock: 1,
  /** The state file and its temporary copy. */
  stateFile: 2,
  metricsFile: 2,
  /** Notify scripts run one at a time. */
  notify: 4,
} as const;
/** Bun itself: stdio, the event loop and its timers, the listening socket, with room to spare. */
export const RUNTIME_FDS = 32;
/** Served at most, whatever the limit: each connection costs memory too. */
export const MAX_CONNECTIONS = 256;
/** Served at least, even under a limit too low for everything (the concurrency is capped first). */
export const MIN_CONNECTIONS = 4;

/** The descriptors kept for evaluations with this concurrency, under this limit. */
export function reservedForEvaluations(openFiles: number | null, { concurrency }: { concurrency: number }): number {
  const hooks = capConcurrency(concurrency, openFiles).limit * FDS_PER_HOOK;
  return RUNTIME_FDS + hooks + Object.values(EVALUATION_FDS).reduce((sum, fds) => sum + fds, 0);
}

/** The connection cap: the descriptor limit less what evaluations need, within MIN..MAX_CONNECTIONS. */
export function connectionCap(openFiles: number | null, { concurrency }: { concurrency: number }): number {
  if (openFiles === null) return MAX_CONNECTIONS;
  const left = openFiles - reservedForEvaluations(openFiles, { concurrency });
  return Math.min(MAX_CONNECTIONS, Math.max(MIN_CONNECTIONS, left));
}
