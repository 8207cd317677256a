/**
 * Process trees on Linux: prctl(PR_SET_CHILD_SUBREAPER) makes us the parent of every orphan of
 * our subtree, and /proc (proc(5)) shows the tree. Linux keeps no record of which child of ours
 * an orphan descends from (FreeBSD's procctl does), so every run's environment carries a marker,
 * RUN_MARKER, unique to the run; a process that cleared its environment is still known by the
 * session or process group it kept. Parsing is pure and exported for tests; reading /proc and
 * libc are the effects.
 *
 * The tree is read from one scan of /proc/N/stat (parent pids), not from the
 * /proc/PID/task/TID/children files: proc(5) warns those are no stable snapshot, and here they
 * missed an orphan adopted a moment before (a leftover left running), where a scan lists every
 * process that exists throughout it.
 *
 * Every question about a run starts from our own children, so when we have none the scan is
 * skipped: waitid(2) says so (ECHILD) without reaping anything, in microseconds where a scan takes
 * milliseconds. As subreaper, every living descendant of ours is our child or below one: an
 * orphan is reparented to us before its parent's exit can be seen, let alone reaped.
 */
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { type LinuxLibc, libc } from "./libc.ts";
import { descendantsIn, type ProcessInfo, signalGroup, signalProcess, type TreeKernel, type TreeRun } from "./tree-kernel.ts";

/** <linux/prctl.h> */
const PR_SET_CHILD_SUBREAPER = 36;
/** <bits/waitflags.h> */
const WNOHANG = 1;
const WEXITED = 4;
const WNOWAIT = 0x01000000;
/** Children of any kind (a clone child with another exit signal too). */
const __WALL = 0x40000000;
/** <bits/waitflags.h>: idtype_t */
const P_ALL = 0;
/** <asm-generic/errno-base.h> */
const ECHILD = 10;
/**
 * A child whose environment reads empty or cannot be read may be in the middle of an exec (the
 * new image's environment is not set up yet), so it is not judged at once: for this long after it
 * is first seen so, it counts as unsettled. One that stays so (started with an empty environment,
 * in a session of its own) cannot be proved anyone's and is left alone.
 */
const UNSETTLED_MS = 500;

/** Set in the environment of every process we start on Linux, with a value unique to that run. */
export const RUN_MARKER = "CARP_SERVICE_STATUS_RUN";

/** The fields of /proc/PID/stat we use (proc(5) numbers them from 1). */
export interface ProcStat {
  pid: number;
  /** Field 2, comm, without its parentheses. */
  name: string;
  /** Field 3: R, S, D, Z (zombie), T, X (dead) ... */
  state: string;
  ppid: number;
  pgrp: number;
  session: number;
  /** Field 22: clock ticks after boot, as text (it can pass 2^53 on a machine up for long enough at a high tick rate). */
  startTicks: string;
}

/**
 * Parses /proc/PID/stat. The command name sits in parentheses and may itself hold spaces and
 * ")", so the fields after it are counted from the last ")".
 */
export function parseStat(text: string): ProcStat | null {
  const open = text.indexOf("(");
  const close = text.lastIndexOf(")");
  if (open < 0 || close < open) return null;
  const pid = Number(text.slice(0, open).trim());
  // fields[0] is field 3 (state), so field N is fields[N - 3].
  const fields = text
    .slice(close + 1)
    .trim()
    .split(/\s+/);
  const [state, ppid, pgrp, session] = fields;
  const startTicks = fields[22 - 3];
  if (!Number.isInteger(pid) || pid <= 0 || !state || startTicks === undefined || !/^\d+$/.test(startTicks)) return null;
  return { pid, name: text.slice(open + 1, close), state, ppid: Number(ppid), pgrp: Number(pgrp), session: Number(session), startTicks };
}

/** The value of `name` in a /proc/PID/environ (NUL-separated NAME=value entries), or null. */
export function environValue(environ: string, name: string): string | null {
  const prefix = `${name}=`;
  for (const entry of environ.split("\0")) if (entry.startsWith(prefix)) return entry.slice(prefix.length);
  return null;
}

/** The pid a pidfd refers to, from its /proc/self/fdinfo entry ("Pid:\t1234"; -1 once reaped). */
export function parsePidfdInfo(text: string): number | null {
  const match = /^Pid:\s*(-?\d+)\s*$/m.exec(text);
  return match ? Number(match[1]) : null;
}

/**
 * Which run a child of ours that we did not spawn belongs to: the run whose marker it carries;
 * without one (its environment was cleared, or it is a zombie), the run whose session or process
 * group it is still in. A session or group number cannot name another while any member is left.
 */
export function ownerOf(
  child: { pid: number; token: string | null; session: number; pgrp: number },
  runs: readonly TreeRun[],
): TreeRun | null {
  if (child.token !== null) return runs.find((run) => run.token === child.token) ?? null;
  return runs.find((run) => run.pid !== child.pid && (run.pid === child.session || run.pid === child.pgrp)) ?? null;
}

function readText(path: string): string | null {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return null;
  }
}

function readStat(pid: number): ProcStat | null {
  const text = readText(`/proc/${pid}/stat`);
  return text === null ? null : parseStat(text);
}

function isDead(stat: ProcStat): boolean {
  return stat.state === "Z" || stat.state === "X";
}

function infoOf(stat: ProcStat): ProcessInfo {
  return { pid: stat.pid, name: stat.name, start: stat.startTicks, ppid: stat.ppid, pgid: stat.pgrp, zombie: isDead(stat) };
}

/**
 * Whether this process has no child at all, living or dead, of any thread, told without reaping
 * one (WNOWAIT). False when it cannot be told: then /proc is scanned.
 */
export function hasNoChildren(c: LinuxLibc = libc("linux") as LinuxLibc): boolean {
  const info = new Uint8Array(128);
  return c.waitid(P_ALL, 0, info, WEXITED | WNOHANG | WNOWAIT | __WALL) !== 0 && c.errno() === ECHILD;
}

/** Every process's stat, from a scan of /proc. */
function scanProcesses(): ProcStat[] {
  return readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name))
    .flatMap((name) => readStat(Number(name)) ?? []);
}

let scanned: ProcStat[] | null = null;
/** What each child's environment said, for the same turn as `scanned`. */
const environs = new Map<string, string | null>();

/**
 * The process table, scanned once per synchronous turn: the questions asked together (what is
 * left of a run, and whether anything cannot be told yet) see the same table and the same
 * environments, and so agree, for one scan.
 */
function snapshot(): ProcStat[] {
  if (scanned === null) {
    scanned = scanProcesses();
    queueMicrotask(() => {
      scanned = null;
      environs.clear();
    });
  }
  return scanned;
}

/** A child's environment as read once in this turn (null: unreadable). */
function environOf(stat: ProcStat): string | null {
  const key = `${stat.pid}:${stat.startTicks}`;
  if (!environs.has(key)) environs.set(key, readText(`/proc/${stat.pid}/environ`));
  return environs.get(key) ?? null;
}

/** The pids this process holds a pidfd on: Bun opens one on every child it spawns and closes it once it has reaped it. */
function pidfdTargets(): Set<number> {
  const pids = new Set<number>();
  let fds: string[];
  try {
    fds = readdirSync("/proc/self/fd");
  } catch {
    return pids;
  }
  for (const fd of fds) {
    let link: string;
    try {
      link = readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue;
    }
    // "anon_inode:[pidfd]", or "pidfd:[INODE]" where pidfs backs them (Linux 6.9 and later).
    if (!link.includes("pidfd")) continue;
    const pid = parsePidfdInfo(readText(`/proc/self/fdinfo/${fd}`) ?? "");
    if (pid !== null && pid > 0) pids.add(pid);
  }
  return pids;
}

/** The leader of `run`, while it is still the process we spawned and not yet reaped. */
function isLiveLeader(run: TreeRun, stat: ProcStat): boolean {
  return !run.leaderGone && run.pid === stat.pid && run.start === stat.startTicks;
}

/** Our children (not run leaders) and the run each belongs to, by the marker each carries in its environment. */
function childTracker() {
  // The marker each child carries, by pid and start (an exec keeps both, and reads empty while it
  // is under way); and when each child whose environment read empty was first seen.
  const markers = new Map<string, string | null>();
  const emptySince = new Map<string, number>();

  /**
   * The child's marker (null: it has none); undefined while its environment cannot be read or
   * reads empty, as for a moment during an exec, which is judged again at the next look.
   */
  const markerOf = (stat: ProcStat): string | null | undefined => {
    const key = `${stat.pid}:${stat.startTicks}`;
    if (markers.has(key)) return markers.get(key);
    const environ = environOf(stat);
    if (environ === null || environ === "") {
      if (!emptySince.has(key)) emptySince.set(key, performance.now());
      return undefined;
    }
    const marker = environValue(environ, RUN_MARKER);
    markers.set(key, marker);
    emptySince.delete(key);
    return marker;
  };

  return {
    /** Our children that are no run's leader, each with the run it belongs to (undefined: not known yet). */
    adopted(table: readonly ProcStat[], runs: readonly TreeRun[]) {
      const children = table.filter((stat) => stat.ppid === process.pid);
      const current = new Set(children.map((stat) => `${stat.pid}:${stat.startTicks}`));
      for (const key of markers.keys()) if (!current.has(key)) markers.delete(key);
      for (const key of emptySince.keys()) if (!current.has(key)) emptySince.delete(key);
      return children.map((stat) => {
        const leading = runs.find((other) => isLiveLeader(other, stat));
        if (leading !== undefined || isDead(stat)) return { stat, leading, owner: null };
        const marker = markerOf(stat);
        const owner = ownerOf({ pid: stat.pid, token: marker ?? null, session: stat.session, pgrp: stat.pgrp }, runs);
        return { stat, leading, owner: owner === null && marker === undefined ? undefined : owner };
      });
    },
    /** Since when the child's environment has read empty (performance.now()), or undefined. */
    emptySince: (stat: ProcStat) => emptySince.get(`${stat.pid}:${stat.startTicks}`),
  };
}

/** Signals a run: its group while its leader is our unreaped child, and each member. */
function signalRun(run: TreeRun, members: readonly ProcessInfo[], signal: NodeJS.Signals): void {
  // While the leader is our unreaped child its group is surely the run's, and one kill(2)
  // reaches every member of it at once, a fork in flight included.
  const leader = readStat(run.pid);
  if (leader !== null && isLiveLeader(run, leader)) {
    try {
      signalGroup(run.pid, signal);
    } catch {
      // EPERM: a member changed its credentials; the members are signalled one by one below.
    }
  }
  for (const member of members) {
    try {
      signalProcess(member.pid, signal);
    } catch {
      // EPERM (a setuid member): not ours to signal.
    }
  }
}

/**
 * Reaps our dead children that Bun did not spawn: orphans we inherited as subreaper. Where Bun's
 * children show as pidfds, any other is one; elsewhere only those a run's session or group names.
 */
function reapInherited(
  runs: readonly TreeRun[],
  table: readonly ProcStat[],
  { load, pidfdsShowBunChildren }: { load: () => LinuxLibc; pidfdsShowBunChildren: boolean | null },
): void {
  const dead = table.filter(
    (stat) => stat.ppid === process.pid && isDead(stat) && !runs.some((run) => run.pid === stat.pid && !run.leaderGone),
  );
  if (dead.length === 0) return;
  const c = load();
  const bunChildren = pidfdsShowBunChildren === true ? pidfdTargets() : null;
  for (const stat of dead) {
    const inherited =
      bunChildren !== null
        ? !bunChildren.has(stat.pid)
        : ownerOf({ pid: stat.pid, token: null, session: stat.session, pgrp: stat.pgrp }, runs) !== null;
    if (inherited) c.waitpid(stat.pid, WNOHANG);
  }
}

export function linuxKernel(load: () => LinuxLibc = () => libc("linux") as LinuxLibc): TreeKernel {
  // Whether Bun's own children show as pidfds here: then any other dead child is an orphan we
  // inherited. Decided at the first spawn; until then, and where they do not show, only zombies
  // a run's session or group names are reaped.
  let pidfdsShowBunChildren: boolean | null = null;
  const children = childTracker();
  /** The process table where a question about our children needs it: none while we have no child (unless this turn has scanned). */
  const ours = (): ProcStat[] => scanned ?? (hasNoChildren(load()) ? [] : snapshot());
  return {
    mechanism: "prctl(PR_SET_CHILD_SUBREAPER)",
    markerName: RUN_MARKER,
    acquire() {
      const c = load();
      if (c.prctl(PR_SET_CHILD_SUBREAPER, 1) !== 0) throw new Error(`prctl(PR_SET_CHILD_SUBREAPER) failed with errno ${c.errno()}`);
    },
    adopt(run) {
      pidfdsShowBunChildren ??= pidfdTargets().has(run.pid);
    },
    members(run, runs) {
      const table = ours();
      const all = table.map(infoOf);
      const found = new Map<number, ProcessInfo>();
      for (const { stat, leading, owner } of children.adopted(table, runs)) {
        if ((leading ?? owner) !== run || isDead(stat)) continue;
        found.set(stat.pid, infoOf(stat));
        for (const below of descendantsIn(all, stat.pid)) if (!below.zombie) found.set(below.pid, below);
      }
      return [...found.values()];
    },
    unsettled(runs) {
      const now = performance.now();
      return children.adopted(ours(), runs).filter(({ stat, owner }) => {
        const since = children.emptySince(stat);
        return owner === undefined && since !== undefined && now - since < UNSETTLED_MS;
      }).length;
    },
    signal: signalRun,
    reapOrphans(runs) {
      reapInherited(runs, ours(), { load, pidfdsShowBunChildren });
    },
    identify(pid) {
      const stat = readStat(pid);
      return stat === null ? null : infoOf(stat);
    },
    processes() {
      return snapshot().map(infoOf);
    },
    bootId() {
      return readText("/proc/sys/kernel/random/boot_id")?.trim() || null;
    },
  };
}
