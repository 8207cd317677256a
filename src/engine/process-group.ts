/**
 * Ends a process group the same way on every platform: SIGTERM to the group, up to a grace period
 * for it to wind down, then SIGKILL to the group whatever happened. No process table is read:
 * signals are the one interface FreeBSD and Linux share.
 */

/** process.kill's shape, so tests can watch the signals sent. */
export type Kill = (pid: number, signal: NodeJS.Signals | 0) => unknown;

/**
 * Signals every process of the group; false when none is left (ESRCH) or it is not ours to signal.
 * Only ESRCH is expected: the group ended on its own.
 */
export function signalGroup(pgid: number, signal: NodeJS.Signals | 0, kill: Kill = process.kill): boolean {
  try {
    kill(-pgid, signal);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ESRCH") return false;
    throw error;
  }
}

export interface TerminateOptions {
  /** Time between SIGTERM and SIGKILL. */
  graceMs: number;
  /** Settles when the group's leader has exited: the grace ends early then. */
  leaderExited: Promise<unknown>;
  kill?: Kill;
}

/** SIGTERM to the group, wait for the leader up to the grace, then SIGKILL to the group. */
export async function terminateGroup(pgid: number, options: TerminateOptions): Promise<void> {
  const kill = options.kill ?? process.kill;
  if (!signalGroup(pgid, "SIGTERM", kill)) return;
  let timer: Timer | undefined;
  const grace = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, options.graceMs);
  });
  await Promise.race([
    options.leaderExited.then(
      () => {},
      () => {},
    ),
    grace,
  ]);
  clearTimeout(timer);
  // Whatever the leader did, its children may have ignored SIGTERM or be on their way out.
  signalGroup(pgid, "SIGKILL", kill);
}
