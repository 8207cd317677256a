/**
 * Ends what we start, all of it: the process we spawned, everything it started, whatever process
 * group or session those moved to (bash `set -m`, setsid, daemon(8)), and the orphans its exit
 * left us. The process becomes a subreaper on first use (tree-freebsd.ts, tree-linux.ts), so those
 * orphans are re-parented to us rather than to init, and are ours to end and to reap; where the
 * kernel offers no tree the process group is all we know (tree-kernel.ts).
 *
 * Runs are supervised in parallel (hooks under `concurrency`, notify scripts, sysctl and logger),
 * so every question is asked of one run: its processes are never another run's, and a run's
 * leftovers are ended when it is done, not when some other run is.
 */
import { messageOf } from "../common/errors.ts";
import { escapeControl } from "../common/escape.ts";
import { freebsdKernel } from "./tree-freebsd.ts";
import { groupOnlyKernel, type ProcessInfo, type TreeKernel, type TreeRun } from "./tree-kernel.ts";
import { linuxKernel } from "./tree-linux.ts";

export type { Kill, ProcessInfo, TreeKernel, TreeRun } from "./tree-kernel.ts";
export { signalGroup, signalProcess } from "./tree-kernel.ts";

/** How often a run that should be ending is looked at: soon at first, then less often. */
const POLL_FIRST_MS = 5;
const POLL_MAX_MS = 50;
/** How long a leftover check waits for children that cannot be told yet whose they are. */
const SETTLE_MAX_MS = 600;
/** After SIGKILL, how long to wait for the kernel to finish them (a process in uninterruptible sleep may take a while). */
const KILL_WAIT_MS = 2000;
/** At most this many processes are named in a warning; the rest are counted. */
const NAMED_AT_MOST = 8;
/**
 * While runs are recorded (the daemon's run file), what each has running is looked at this often,
 * and a run is recorded from its first look on. Most runs end sooner and are never written down:
 * a daemon evaluating every few seconds does not rewrite a file in /var/run many times a second.
 * A look also finds what no group or parent ties to the run any more (a double fork into a
 * session of its own hands its process to us).
 */
const RECORD_EVERY_MS = 1000;

let chosen: { kernel: TreeKernel; reason: string | null } | null = null;

function platformKernel(platform: string): TreeKernel | null {
  if (platform === "linux") return linuxKernel();
  if (platform === "freebsd") return freebsdKernel();
  return null;
}

/** The kernel in use, chosen on first use, when this process becomes a subreaper. */
function tree(): TreeKernel {
  if (chosen === null) {
    const candidate = platformKernel(process.platform);
    if (candidate === null) {
      chosen = { kernel: groupOnlyKernel(), reason: `${process.platform} has no process-tree support here` };
    } else {
      try {
        candidate.acquire();
        chosen = { kernel: candidate, reason: null };
      } catch (error) {
        chosen = { kernel: groupOnlyKernel(), reason: messageOf(error) };
      }
    }
  }
  return chosen.kernel;
}

/**
 * How the processes we start are followed: the mechanism ("procctl(PROC_REAP_ACQUIRE)",
 * "prctl(PR_SET_CHILD_SUBREAPER)", or "process groups only") and, for the last, why.
 */
export function processTreeSupport(): { mechanism: string; reason: string | null } {
  const kernel = tree();
  return { mechanism: kernel.mechanism, reason: chosen?.reason ?? null };
}

/** Any process by pid, as the kernel shows it; null when there is none or it cannot be read. */
export function identifyProcess(pid: number): ProcessInfo | null {
  return safely(() => tree().identify(pid), null);
}

/** Every process on the machine, as the kernel shows it (empty where it cannot be read). */
export function listProcesses(): ProcessInfo[] {
  return safely(() => tree().processes(), []);
}

/** This boot's identity where process start times restart at every boot (Linux); else null. */
export function runningBootId(): string | null {
  return safely(() => tree().bootId(), null);
}

/** Tests put a fake kernel in (null: back to the platform's). */
export function useTreeKernel(kernel: TreeKernel | null): void {
  chosen = kernel === null ? null : { kernel, reason: null };
}

const runs = new Map<number, TreeRun>();
/** Processes a run left behind, from when they are found until the run is released. */
const leftovers = new Map<number, ProcessInfo[]>();
/** Runs whose orphans were reaped at the look that found nothing of them left. */
const reapedAtLastLook = new Set<number>();
/** What each run had running at the last periodic look, while runs are recorded. */
const looked = new Map<number, ProcessInfo[]>();
let lookTimer: ReturnType<typeof setInterval> | null = null;
let nextRunId = 1;

function current(): TreeRun[] {
  return [...runs.values()];
}

/** A process recorded in the run file: enough to find it again, and to know it is still that process. */
export interface RecordedProcess {
  pid: number;
  start: string;
  name: string;
}

let watcher: ((processes: RecordedProcess[]) => void) | null = null;

/**
 * Calls `listener` with every process that would outlive us if we were killed now, as of the last
 * look (every RECORD_EVERY_MS while runs go): the leaders of runs that have been running since,
 * what they had running, and the leftovers being ended. Called now and at every change; null stops it.
 */
export function watchRuns(listener: ((processes: RecordedProcess[]) => void) | null): void {
  watcher = listener;
  keepLooking();
  tell();
}

/** Looks at every run now (as the periodic look does) and tells the watcher. */
export function lookNow(): void {
  for (const run of runs.values()) looked.set(run.id, membersOf(run));
  tell();
}

function tell(): void {
  if (watcher === null) return;
  const processes = new Map<number, RecordedProcess>();
  for (const run of runs.values()) {
    const seen = looked.get(run.id);
    if (seen === undefined) continue;
    if (!run.leaderGone && run.start !== null) processes.set(run.pid, { pid: run.pid, start: run.start, name: run.what });
    // The leader is its own entry, and only until it exits: its pid may name another process then.
    for (const p of [...seen, ...(leftovers.get(run.id) ?? [])]) {
      if (p.start !== "" && p.pid !== run.pid) processes.set(p.pid, { pid: p.pid, start: p.start, name: p.name });
    }
  }
  watcher([...processes.values()]);
}

/** Looks periodically while a watcher wants to know and runs are going; never otherwise. */
function keepLooking(): void {
  const wanted = watcher !== null && runs.size > 0;
  if (wanted && lookTimer === null) {
    lookTimer = setInterval(lookNow, RECORD_EVERY_MS);
    // Never what keeps a process alive.
    lookTimer.unref();
  } else if (!wanted && lookTimer !== null) {
    clearInterval(lookTimer);
    lookTimer = null;
  }
}

/** Whether runs are supervised now (the daemon keeps its run file while they are). */
export function runsInProgress(): number {
  return runs.size;
}

/**
 * The environment a run starts with: `env` plus the run's marker where the kernel needs one to
 * tell runs apart (Linux). A run that inherits our environment (sysctl, logger: `env` undefined)
 * gets none: copying ours costs Bun.spawn a millisecond per call, and those tools start nothing
 * that leaves their session, where they are known without it.
 */
export function prepareRun(env: Record<string, string> | undefined): { token: string | null; env: Record<string, string> | undefined } {
  const marker = tree().markerName;
  if (marker === null || env === undefined) return { token: null, env };
  const token = `${process.pid}-${crypto.randomUUID()}`;
  return { token, env: { ...env, [marker]: token } };
}

/** Starts following a process just spawned (so still our unreaped child, its pid surely its own). */
export function registerRun(pid: number, options: { token: string | null; what: string }): TreeRun {
  const kernel = tree();
  const run: TreeRun = {
    id: nextRunId++,
    pid,
    start: safely(() => kernel.identify(pid)?.start ?? null, null),
    token: options.token,
    what: options.what,
    leaderGone: false,
  };
  runs.set(run.id, run);
  safely(() => kernel.adopt?.(run), undefined);
  keepLooking();
  tell();
  return run;
}

/** The leader has exited and been reaped: from now on its pid names nothing of ours. */
export function markLeaderGone(run: TreeRun): void {
  if (run.leaderGone) return;
  run.leaderGone = true;
  tell();
}

/**
 * What is still running of the run, other than its leader once that has exited; recorded until
 * release. A child of ours that cannot be told yet whose it is (an exec under way) is waited for,
 * a little: a leftover caught at that moment must not go unseen.
 */
export async function findLeftovers(run: TreeRun): Promise<ProcessInfo[]> {
  const settleEnds = performance.now() + SETTLE_MAX_MS;
  let pollMs = POLL_FIRST_MS;
  for (;;) {
    const left = membersOf(run);
    const unknown = unsettled();
    if (left.length > 0 || unknown === 0 || performance.now() >= settleEnds) {
      if (left.length > 0) {
        leftovers.set(run.id, left);
        tell();
      } else if (unknown === 0) {
        // Nothing of it is left: its dead orphans are reaped now, from the same look (on Linux
        // one scan of the process table), rather than at release.
        safely(() => tree().reapOrphans(current()), undefined);
        reapedAtLastLook.add(run.id);
      }
      return left;
    }
    await pause(pollMs);
    pollMs = Math.min(pollMs * 2, POLL_MAX_MS);
  }
}

export interface EndRunOptions {
  /** Between SIGTERM and SIGKILL. */
  graceMs: number;
  /** Settles when the grace must end at once (a stopping daemon). */
  cutShort?: Promise<unknown>;
}

/**
 * SIGTERM to everything of the run, up to `graceMs` for it to end, then SIGKILL to whatever is
 * left until nothing is (or KILL_WAIT_MS passed). What appears in the meantime (a fork, a process
 * that was between fork and exec) gets its SIGTERM when it is found. Never throws.
 */
export async function endRun(run: TreeRun, options: EndRunOptions): Promise<void> {
  const signalled = new Set<string>();
  const terminate = (members: readonly ProcessInfo[]) => {
    const fresh = members.filter((member) => !signalled.has(`${member.pid}:${member.start}`));
    if (fresh.length === 0) return;
    for (const member of fresh) signalled.add(`${member.pid}:${member.start}`);
    send(run, fresh, "SIGTERM");
  };
  const done = (members: readonly ProcessInfo[]) => members.length === 0 && unsettled() === 0;
  let members = membersOf(run);
  if (done(members)) return;
  terminate(members);
  let cut = false;
  void options.cutShort?.then(() => {
    cut = true;
  });
  const graceEnds = performance.now() + options.graceMs;
  let pollMs = POLL_FIRST_MS;
  while (!cut && performance.now() < graceEnds) {
    await pause(Math.min(pollMs, Math.max(1, graceEnds - performance.now())));
    pollMs = Math.min(pollMs * 2, POLL_MAX_MS);
    members = membersOf(run);
    if (done(members)) return;
    terminate(members);
  }
  const killEnds = performance.now() + KILL_WAIT_MS;
  pollMs = POLL_FIRST_MS;
  for (;;) {
    members = membersOf(run);
    if (done(members)) return;
    if (members.length > 0) send(run, members, "SIGKILL");
    if (performance.now() >= killEnds) return;
    await pause(pollMs);
    pollMs = Math.min(pollMs * 2, POLL_MAX_MS);
  }
}

/** Reaps the orphans that died (this run's and any other's) and stops following the run. */
export function releaseRun(run: TreeRun): void {
  const kernel = tree();
  // While the run is still listed, so that its orphans can be told from anyone else's.
  if (!reapedAtLastLook.delete(run.id)) safely(() => kernel.reapOrphans(current()), undefined);
  runs.delete(run.id);
  leftovers.delete(run.id);
  looked.delete(run.id);
  keepLooking();
  tell();
}

/** "sleep (pid 4242)", for warnings: at most NAMED_AT_MOST named, the rest counted. */
export function describeProcesses(processes: readonly ProcessInfo[]): string[] {
  const named = processes.slice(0, NAMED_AT_MOST).map((p) => `${escapeControl(p.name)} (pid ${p.pid})`);
  const more = processes.length - named.length;
  return more > 0 ? [...named, `${more} more`] : named;
}

function membersOf(run: TreeRun): ProcessInfo[] {
  return safely(() => tree().members(run, current()), []);
}

function unsettled(): number {
  return safely(() => tree().unsettled?.(current()) ?? 0, 0);
}

function send(run: TreeRun, members: readonly ProcessInfo[], signal: NodeJS.Signals): void {
  safely(() => tree().signal(run, members, signal, current()), undefined);
}

/** A kernel call that fails (a /proc race, an errno) is treated as finding nothing, never as a crash. */
function safely<T>(call: () => T, fallback: T): T {
  try {
    return call();
  } catch {
    return fallback;
  }
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
