/**
 * Ends a process group the same way on every platform: SIGTERM to the group, up to a grace period
 * for it to wind down, then SIGKILL to the group whatever happened. No process table is read:
 * signals are the one interface FreeBSD and Linux share.
 */

/** process.kill's shape, so tests can watch the signals sent. */
export type Kill = (pid: number, signal: NodeJS.Signals | 0) => unknown;

/** How often a group that should be ending is looked at. */
const GROUP_POLL_MS = 10;

/**
 * Signals every process of the group; false when none is left (ESRCH). Any other failure (EPERM:
 * not ours to signal) is thrown.
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

/**
 * Settles once no process of the group is left, or after `withinMs`. A zombie nobody reaps still
 * counts as a member (on FreeBSD init reaps at once; some containers' init never does).
 */
export async function groupGone(pgid: number, withinMs: number, kill: Kill = process.kill): Promise<void> {
  const deadline = performance.now() + withinMs;
  while (signalGroup(pgid, 0, kill) && performance.now() < deadline) await Bun.sleep(GROUP_POLL_MS);
}

export interface TerminateOptions {
  /** Time between SIGTERM and SIGKILL. */
  graceMs: number;
  /** Settles when what was waited for has ended (the group's leader, or the whole group): the grace ends early then. */
  ended: Promise<unknown>;
  kill?: Kill;
}

/** SIGTERM to the group, wait for it to end up to the grace, then SIGKILL to the group. */
export async function terminateGroup(pgid: number, options: TerminateOptions): Promise<void> {
  const kill = options.kill ?? process.kill;
  if (!signalGroup(pgid, "SIGTERM", kill)) return;
  let timer: Timer | undefined;
  const grace = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, options.graceMs);
  });
  await Promise.race([options.ended.then(noop, noop), grace]);
  clearTimeout(timer);
  // Whatever the leader did, its children may have ignored SIGTERM or be on their way out.
  signalGroup(pgid, "SIGKILL", kill);
}

function noop(): void {}
