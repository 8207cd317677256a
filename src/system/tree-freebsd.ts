/**
 * Process trees on FreeBSD: procctl(2) makes us a reaper (PROC_REAP_ACQUIRE), lists every
 * descendant with the subtree it belongs to (PROC_REAP_GETPIDS) and signals one subtree
 * (PROC_REAP_KILL with REAPER_KILL_SUBTREE). A subtree is named by the pid of our direct child it
 * descends from, kept by the kernel whatever the process did since (re-parented to us, another
 * group, another session), and that pid is not reused while the subtree has a member: the
 * attribution is the kernel's own. sysctl(3) kern.proc.pid gives a process's start and name.
 *
 * Layouts and numbers are those of FreeBSD's headers for LP64 (amd64, arm64), read from
 * freebsd/freebsd-src:
 * - sys/sys/procctl.h: PROC_REAP_*, REAPER_*, struct procctl_reaper_pids, procctl_reaper_pidinfo,
 *   procctl_reaper_kill (REAPER_PIDINFO_ZOMBIE and the other state bits since FreeBSD 12.1);
 * - sys/kern/kern_procctl.c: reap_getpids() fills at most rp_count entries, each flagged
 *   REAPER_PIDINFO_VALID, and reap_kill_subtree_once() matches p_reapsubtree against rk_subtree;
 * - sys/kern/kern_fork.c: a direct child of the reaper starts its own subtree (p_reapsubtree = its pid);
 * - sys/sys/wait.h: idtype_t P_PID = 0, WNOHANG = 1;
 * - sys/sys/user.h: struct kinfo_proc (KINFO_PROC_SIZE 1088 on amd64), offsets below;
 * - sys/sys/sysctl.h: CTL_KERN 1, KERN_PROC 14, KERN_PROC_PID 1, KERN_PROC_PROC 8 (an array of
 *   kinfo_proc, one per process); sys/sys/proc.h: SZOMB 5.
 */
import { constants } from "node:os";
import { addressOf, type FreeBsdLibc, libc } from "./libc.ts";
import type { ProcessInfo, TreeKernel, TreeRun } from "./tree-kernel.ts";

const P_PID = 0;
const WNOHANG = 1;

const PROC_REAP_ACQUIRE = 2;
const PROC_REAP_GETPIDS = 5;
const PROC_REAP_KILL = 6;

export const REAPER_PIDINFO_VALID = 0x1;
export const REAPER_PIDINFO_CHILD = 0x2;
export const REAPER_PIDINFO_ZOMBIE = 0x8;
const REAPER_KILL_SUBTREE = 0x2;

/** struct procctl_reaper_pidinfo { pid_t pi_pid; pid_t pi_subtree; u_int pi_flags; u_int pi_pad0[15]; } */
export const PIDINFO_SIZE = 72;
/** struct procctl_reaper_pids { u_int rp_count; u_int rp_pad0[15]; struct procctl_reaper_pidinfo *rp_pids; } */
export const REAPER_PIDS_SIZE = 72;
const RP_PIDS_OFFSET = 64;
/** struct procctl_reaper_kill { int rk_sig; u_int rk_flags; pid_t rk_subtree; u_int rk_killed; pid_t rk_fpid; u_int rk_pad0[15]; } */
export const REAPER_KILL_SIZE = 80;

/** struct kinfo_proc, sys/sys/user.h, LP64. */
export const KINFO_PROC_SIZE = 1088;
export const KINFO = {
  structsize: 0, // int ki_structsize
  pid: 72, // pid_t ki_pid, after ki_structsize, ki_layout and eight pointers
  ppid: 76, // pid_t ki_ppid
  pgid: 80, // pid_t ki_pgid
  start: 336, // struct timeval ki_start { time_t tv_sec; suseconds_t tv_usec; }, after ki_runtime
  stat: 388, // char ki_stat, after ki_flag, ki_kiflag and ki_traceflag
  comm: 447, // char ki_comm[COMMLEN + 1], after ki_tdname[17], ki_wmesg[9], ki_login[18], ki_lockname[9]
  commLength: 20,
} as const;
const SZOMB = 5;
const CTL_KERN = 1;
const KERN_PROC = 14;
const KERN_PROC_PID = 1;
/** Every process, without a row per thread. */
const KERN_PROC_PROC = 8;

/** One entry of PROC_REAP_GETPIDS. */
export interface PidInfo {
  pid: number;
  /** The pid of our direct child this process descends from (itself, for a direct child). */
  subtree: number;
  flags: number;
}

/** A struct procctl_reaper_pids asking for up to `count` entries at address `pids`. */
export function encodeReaperPids(count: number, pids: number): Uint8Array {
  const bytes = new Uint8Array(REAPER_PIDS_SIZE);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, count, true);
  view.setBigUint64(RP_PIDS_OFFSET, BigInt(pids), true);
  return bytes;
}

/** The entries the kernel filled: it reports no count, so the first one without VALID ends them. */
export function decodePidInfos(bytes: Uint8Array): PidInfo[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const infos: PidInfo[] = [];
  for (let offset = 0; offset + PIDINFO_SIZE <= bytes.byteLength; offset += PIDINFO_SIZE) {
    const flags = view.getUint32(offset + 8, true);
    if ((flags & REAPER_PIDINFO_VALID) === 0) break;
    infos.push({ pid: view.getInt32(offset, true), subtree: view.getInt32(offset + 4, true), flags });
  }
  return infos;
}

/** A struct procctl_reaper_kill sending `signo` to the subtree of `subtree`. */
export function encodeReaperKill(signo: number, subtree: number): Uint8Array {
  const bytes = new Uint8Array(REAPER_KILL_SIZE);
  const view = new DataView(bytes.buffer);
  view.setInt32(0, signo, true);
  view.setUint32(4, REAPER_KILL_SUBTREE, true);
  view.setInt32(8, subtree, true);
  return bytes;
}

/** What PROC_REAP_KILL wrote back: how many it signalled, and the first pid it could not (or -1). */
export function decodeReaperKill(bytes: Uint8Array): { killed: number; failedPid: number } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { killed: view.getUint32(12, true), failedPid: view.getInt32(16, true) };
}

/** The fields of a struct kinfo_proc we use; null when its size is not the one we know. */
export function decodeKinfoProc(bytes: Uint8Array): ProcessInfo | null {
  if (bytes.byteLength < KINFO_PROC_SIZE) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getInt32(KINFO.structsize, true) !== KINFO_PROC_SIZE) return null;
  const comm = bytes.subarray(KINFO.comm, KINFO.comm + KINFO.commLength);
  const end = comm.indexOf(0);
  const seconds = view.getBigInt64(KINFO.start, true);
  const micros = view.getBigInt64(KINFO.start + 8, true);
  return {
    pid: view.getInt32(KINFO.pid, true),
    name: Buffer.from(comm.subarray(0, end < 0 ? comm.length : end)).toString("utf8"),
    start: `${seconds}.${String(micros).padStart(6, "0")}`,
    ppid: view.getInt32(KINFO.ppid, true),
    pgid: view.getInt32(KINFO.pgid, true),
    zombie: view.getInt8(KINFO.stat) === SZOMB,
  };
}

/** An array of struct kinfo_proc, as kern.proc.proc returns it. */
export function decodeKinfoProcs(bytes: Uint8Array): ProcessInfo[] {
  const found: ProcessInfo[] = [];
  for (let offset = 0; offset + KINFO_PROC_SIZE <= bytes.byteLength; offset += KINFO_PROC_SIZE) {
    const info = decodeKinfoProc(bytes.subarray(offset, offset + KINFO_PROC_SIZE));
    if (info === null) break;
    found.push(info);
  }
  return found;
}

/** The live processes of one subtree: the leader itself only while it has not exited. */
export function subtreeMembers(infos: readonly PidInfo[], subtree: number, options: { withLeader: boolean }): PidInfo[] {
  return infos.filter(
    (info) => info.subtree === subtree && (info.flags & REAPER_PIDINFO_ZOMBIE) === 0 && (options.withLeader || info.pid !== subtree),
  );
}

/**
 * Dead orphans we inherited: zombies that are our children but not ones we forked (a child we
 * forked heads its own subtree; Bun reaps those).
 */
export function inheritedZombies(infos: readonly PidInfo[]): PidInfo[] {
  const dead = REAPER_PIDINFO_ZOMBIE | REAPER_PIDINFO_CHILD;
  return infos.filter((info) => (info.flags & dead) === dead && info.pid !== info.subtree);
}

/** Starts with room for this many descendants, doubling while the kernel fills every slot. */
const FIRST_PIDS_CAPACITY = 64;
const MAX_PIDS_CAPACITY = 1 << 16;

export function freebsdKernel(load: () => FreeBsdLibc = () => libc("freebsd") as FreeBsdLibc): TreeKernel {
  const pidInfos = (): PidInfo[] => {
    const c = load();
    for (let capacity = FIRST_PIDS_CAPACITY; ; capacity *= 2) {
      const array = new Uint8Array(capacity * PIDINFO_SIZE);
      const request = encodeReaperPids(capacity, addressOf(array));
      if (c.procctl(P_PID, process.pid, PROC_REAP_GETPIDS, request) !== 0) {
        throw new Error(`procctl(PROC_REAP_GETPIDS) failed with errno ${c.errno()}`);
      }
      const infos = decodePidInfos(array);
      if (infos.length < capacity || capacity >= MAX_PIDS_CAPACITY) return infos;
    }
  };
  const identify = (pid: number): ProcessInfo | null => {
    const buffer = new Uint8Array(KINFO_PROC_SIZE);
    const length = new BigUint64Array([BigInt(KINFO_PROC_SIZE)]);
    if (load().sysctl(new Int32Array([CTL_KERN, KERN_PROC, KERN_PROC_PID, pid]), buffer, length) !== 0) return null;
    return length[0] === 0n ? null : decodeKinfoProc(buffer);
  };
  // Two runs with one pid (a leader reaped, its pid given to the next spawn) would share a
  // subtree name: then nothing is signalled for the one that is done; its processes are the
  // newer run's to end.
  const ambiguous = (run: TreeRun, runs: readonly TreeRun[]) => runs.some((other) => other !== run && other.pid === run.pid);
  return {
    mechanism: "procctl(PROC_REAP_ACQUIRE)",
    markerName: null,
    acquire() {
      const c = load();
      // EBUSY: already a reaper (nothing else in this process calls it), which is what we want.
      if (c.procctl(P_PID, process.pid, PROC_REAP_ACQUIRE, null) !== 0 && c.errno() !== 16) {
        throw new Error(`procctl(PROC_REAP_ACQUIRE) failed with errno ${c.errno()}`);
      }
    },
    members(run, runs) {
      if (ambiguous(run, runs)) return [];
      return subtreeMembers(pidInfos(), run.pid, { withLeader: !run.leaderGone }).map(
        (info) => identify(info.pid) ?? { pid: info.pid, name: "?", start: "", ppid: 0, pgid: 0, zombie: false },
      );
    },
    signal(run, _members, signal, runs) {
      if (ambiguous(run, runs)) return;
      // ESRCH when nothing was left to signal: the same as done.
      load().procctl(P_PID, process.pid, PROC_REAP_KILL, encodeReaperKill(constants.signals[signal], run.pid));
    },
    reapOrphans() {
      const c = load();
      for (const zombie of inheritedZombies(pidInfos())) c.waitpid(zombie.pid, WNOHANG);
    },
    identify,
    processes() {
      const c = load();
      const name = new Int32Array([CTL_KERN, KERN_PROC, KERN_PROC_PROC]);
      // Sized by a first call; processes started in between are what the slack is for.
      for (let attempt = 0; attempt < 4; attempt++) {
        const length = new BigUint64Array(1);
        if (c.sysctl(name, null, length) !== 0) return [];
        const buffer = new Uint8Array(Number(length[0]) + 64 * KINFO_PROC_SIZE);
        length[0] = BigInt(buffer.byteLength);
        if (c.sysctl(name, buffer, length) === 0) return decodeKinfoProcs(buffer.subarray(0, Number(length[0])));
        if (c.errno() !== 12) return []; // ENOMEM: more processes than room; size again
      }
      return [];
    },
    bootId: () => null,
  };
}
