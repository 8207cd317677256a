/**
 * What the process-group module (process-group.ts) asks of the kernel about the processes we
 * start and everything they start, whatever process group or session those moved to. One
 * implementation per platform: tree-freebsd.ts (procctl's reaper), tree-linux.ts (a child
 * subreaper and /proc), and here the fallback for anything else: the process group alone, as
 * before process trees.
 */

/** One process as the kernel shows it. */
export interface ProcessInfo {
  pid: number;
  /** The command name (comm), as ps shows it. */
  name: string;
  /**
   * When it started, in the kernel's own units (Linux: clock ticks since boot; FreeBSD: the
   * start timeval). With the pid it names one process: a pid reused later has another start.
   */
  start: string;
  ppid: number;
  pgid: number;
  zombie: boolean;
}

/** One process we started (a hook, a notify script, a tool), while we supervise it. */
export interface TreeRun {
  /** Unique in this process; pids are not (a pid may be reused once its leader is reaped). */
  readonly id: number;
  /** The leader: the process we spawned, leader of its own session and process group. */
  readonly pid: number;
  /** The leader's start, read while it was our unreaped child (null where it cannot be read). */
  readonly start: string | null;
  /** Set in its environment, where the kernel keeps no tree (Linux); null elsewhere. */
  readonly token: string | null;
  /** What it runs (argv[0]), for the run file and the log. */
  readonly what: string;
  /** The leader has exited and Bun has reaped it: its pid may now name another process. */
  leaderGone: boolean;
}

export interface TreeKernel {
  /** How the tree is kept, for the log: "procctl(PROC_REAP_ACQUIRE)" and the like. */
  readonly mechanism: string;
  /** Environment variable that marks a run's processes, where the kernel keeps no tree. */
  readonly markerName: string | null;
  /** Makes this process the reaper of its descendants' orphans. Throws, saying why, where it cannot. */
  acquire(): void;
  /** Told of each run right after its spawn, while its leader is surely our unreaped child. */
  adopt?(run: TreeRun): void;
  /**
   * The run's processes still alive (zombies aside): the leader until it has exited, everything
   * descending from it, and its orphans now ours. Never a process of another run, nor one we
   * cannot prove is the run's.
   */
  members(run: TreeRun, runs: readonly TreeRun[]): ProcessInfo[];
  /**
   * How many of our children cannot be told yet whose they are (Linux: an exec under way hides a
   * process's environment for a moment). While there are any, what has ended cannot be told either.
   */
  unsettled?(runs: readonly TreeRun[]): number;
  /** Sends `signal` to the run's processes (`members` as just read). */
  signal(run: TreeRun, members: readonly ProcessInfo[], signal: NodeJS.Signals, runs: readonly TreeRun[]): void;
  /**
   * Waits, by pid and with WNOHANG, for every orphan we inherited that has died: a reaper that
   * does not would collect zombies. Never waitpid(-1), and never a child Bun spawned (Bun reaps
   * those itself and would lose their exit status).
   */
  reapOrphans(runs: readonly TreeRun[]): void;
  /** Any process by pid, for the run file; null when there is none (or it cannot be read). */
  identify(pid: number): ProcessInfo | null;
  /** Every process on the machine (threads aside), for what a daemon killed with -9 left running. */
  processes(): ProcessInfo[];
  /** Identifies this boot where process start times restart at every boot (Linux); else null. */
  bootId(): string | null;
}

/** Everything below `root` in a snapshot of the process table, nearest first. Pure. */
export function descendantsIn(processes: readonly ProcessInfo[], root: number): ProcessInfo[] {
  const children = new Map<number, ProcessInfo[]>();
  for (const p of processes) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p]);
  const found: ProcessInfo[] = [];
  const seen = new Set([root]);
  const queue = [root];
  while (queue.length > 0) {
    for (const child of children.get(queue.shift()!) ?? []) {
      if (seen.has(child.pid)) continue;
      seen.add(child.pid);
      found.push(child);
      queue.push(child.pid);
    }
  }
  return found;
}

/** process.kill's shape, so tests can watch the signals sent. */
export type Kill = (pid: number, signal: NodeJS.Signals | 0) => unknown;

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

/** Signals one process; false when it is gone. Any other failure is thrown. */
export function signalProcess(pid: number, signal: NodeJS.Signals | 0, kill: Kill = process.kill): boolean {
  try {
    kill(pid, signal);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ESRCH") return false;
    throw error;
  }
}

function isGroupAlive(pgid: number): boolean {
  try {
    return signalGroup(pgid, 0);
  } catch {
    return true; // EPERM: alive, though not ours to signal
  }
}

/**
 * Where the kernel offers no process tree we can use: the run's process group is all we know of
 * it. A zombie nobody reaps still counts as a member.
 */
export function groupOnlyKernel(): TreeKernel {
  return {
    mechanism: "process groups only",
    markerName: null,
    acquire() {},
    members(run) {
      if (!isGroupAlive(run.pid)) return [];
      return [{ pid: run.pid, name: `process group ${run.pid}`, start: "", ppid: 0, pgid: run.pid, zombie: false }];
    },
    signal(run, _members, signal) {
      try {
        signalGroup(run.pid, signal);
      } catch {
        // EPERM: not ours to signal; nothing more can be done.
      }
    },
    reapOrphans() {},
    identify: () => null,
    processes: () => [],
    bootId: () => null,
  };
}
