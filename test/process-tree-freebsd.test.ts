/**
 * The FreeBSD branch's pure parts: procctl(2)'s reaper structures and kinfo_proc, encoded and
 * decoded byte by byte, and the selections made from PROC_REAP_GETPIDS. The layouts are restated
 * here from FreeBSD's headers (sys/sys/procctl.h, sys/sys/user.h) rather than imported, so a
 * wrong constant in the product cannot agree with itself.
 */
import { describe, expect, test } from "bun:test";
import {
  decodeKinfoProc,
  decodeKinfoProcs,
  decodePidInfos,
  decodeReaperKill,
  encodeReaperKill,
  encodeReaperPids,
  inheritedZombies,
  KINFO,
  KINFO_PROC_SIZE,
  type PidInfo,
  subtreeMembers,
} from "../src/system/tree-freebsd.ts";

// sys/sys/procctl.h
const VALID = 0x1;
const CHILD = 0x2;
const ZOMBIE = 0x8;
const REAPER_KILL_SUBTREE = 0x2;

/** Offsets of a C struct's fields on LP64 from [name, size, alignment] in declaration order. */
function layout(fields: Array<[string, number, number]>): Record<string, number> {
  const offsets: Record<string, number> = {};
  let offset = 0;
  for (const [name, size, align] of fields) {
    offset = Math.ceil(offset / align) * align;
    offsets[name] = offset;
    offset += size;
  }
  return offsets;
}

/** struct kinfo_proc up to ki_comm, as sys/sys/user.h declares it (FreeBSD 12 and later). */
const KINFO_PROC_HEAD: Array<[string, number, number]> = [
  ["ki_structsize", 4, 4],
  ["ki_layout", 4, 4],
  ...["ki_args", "ki_paddr", "ki_addr", "ki_tracep", "ki_textvp", "ki_fd", "ki_vmspace", "ki_wchan"].map(
    (name): [string, number, number] => [name, 8, 8],
  ),
  ...["ki_pid", "ki_ppid", "ki_pgid", "ki_tpgid", "ki_sid", "ki_tsid"].map((name): [string, number, number] => [name, 4, 4]),
  ["ki_jobc", 2, 2],
  ["ki_spare_short1", 2, 2],
  ["ki_tdev_freebsd11", 4, 4],
  // sigset_t: struct { __uint32_t __bits[4]; }
  ...["ki_siglist", "ki_sigmask", "ki_sigignore", "ki_sigcatch"].map((name): [string, number, number] => [name, 16, 4]),
  ...["ki_uid", "ki_ruid", "ki_svuid", "ki_rgid", "ki_svgid"].map((name): [string, number, number] => [name, 4, 4]),
  ["ki_ngroups", 2, 2],
  ["ki_spare_short2", 2, 2],
  ["ki_groups", 16 * 4, 4],
  ...["ki_size", "ki_rssize", "ki_swrss", "ki_tsize", "ki_dsize", "ki_ssize"].map((name): [string, number, number] => [name, 8, 8]),
  ["ki_xstat", 2, 2],
  ["ki_acflag", 2, 2],
  ...["ki_pctcpu", "ki_estcpu", "ki_slptime", "ki_swtime", "ki_cow"].map((name): [string, number, number] => [name, 4, 4]),
  ["ki_runtime", 8, 8],
  ["ki_start", 16, 8],
  ["ki_childtime", 16, 8],
  ["ki_flag", 8, 8],
  ["ki_kiflag", 8, 8],
  ["ki_traceflag", 4, 4],
  ...["ki_stat", "ki_nice", "ki_lock", "ki_rqindex", "ki_oncpu_old", "ki_lastcpu_old"].map((name): [string, number, number] => [
    name,
    1,
    1,
  ]),
  ["ki_tdname", 17, 1],
  ["ki_wmesg", 9, 1],
  ["ki_login", 18, 1],
  ["ki_lockname", 9, 1],
  ["ki_comm", 20, 1],
];

/** A kinfo_proc as the kernel fills it, with the fields we read set. */
function kinfo(fields: { pid: number; ppid: number; pgid: number; sec: number; usec: number; stat: number; comm: string; size?: number }) {
  const bytes = new Uint8Array(KINFO_PROC_SIZE);
  const view = new DataView(bytes.buffer);
  const at = layout(KINFO_PROC_HEAD);
  view.setInt32(at.ki_structsize!, fields.size ?? 1088, true);
  view.setInt32(at.ki_pid!, fields.pid, true);
  view.setInt32(at.ki_ppid!, fields.ppid, true);
  view.setInt32(at.ki_pgid!, fields.pgid, true);
  view.setBigInt64(at.ki_start!, BigInt(fields.sec), true);
  view.setBigInt64(at.ki_start! + 8, BigInt(fields.usec), true);
  view.setInt8(at.ki_stat!, fields.stat);
  bytes.set(new TextEncoder().encode(fields.comm), at.ki_comm!);
  return bytes;
}

describe("struct kinfo_proc", () => {
  test("the offsets we read are those the header's declarations give", () => {
    const at = layout(KINFO_PROC_HEAD);
    expect({ pid: at.ki_pid, ppid: at.ki_ppid, pgid: at.ki_pgid, start: at.ki_start, stat: at.ki_stat, comm: at.ki_comm }).toEqual({
      pid: KINFO.pid,
      ppid: KINFO.ppid,
      pgid: KINFO.pgid,
      start: KINFO.start,
      stat: KINFO.stat,
      comm: KINFO.comm,
    });
    expect(KINFO_PROC_SIZE).toBe(1088);
  });

  test("decodes pid, parent, group, start, state and command name", () => {
    expect(decodeKinfoProc(kinfo({ pid: 4242, ppid: 1, pgid: 4240, sec: 1_733_400_000, usec: 42, stat: 3, comm: "sleep" }))).toEqual({
      pid: 4242,
      name: "sleep",
      start: "1733400000.000042",
      ppid: 1,
      pgid: 4240,
      zombie: false,
    });
  });

  test("SZOMB (5) is a zombie", () => {
    expect(decodeKinfoProc(kinfo({ pid: 7, ppid: 1, pgid: 7, sec: 1, usec: 0, stat: 5, comm: "sh" }))?.zombie).toBe(true);
  });

  test("a size other than 1088 is a layout we do not know: nothing is read", () => {
    expect(decodeKinfoProc(kinfo({ pid: 7, ppid: 1, pgid: 7, sec: 1, usec: 0, stat: 3, comm: "sh", size: 1096 }))).toBeNull();
    expect(decodeKinfoProc(new Uint8Array(100))).toBeNull();
  });

  test("kern.proc.proc's array decodes record by record", () => {
    const two = new Uint8Array(2 * KINFO_PROC_SIZE);
    two.set(kinfo({ pid: 1, ppid: 0, pgid: 1, sec: 5, usec: 0, stat: 3, comm: "init" }), 0);
    two.set(kinfo({ pid: 9, ppid: 1, pgid: 9, sec: 6, usec: 1, stat: 2, comm: "cron" }), KINFO_PROC_SIZE);
    expect(decodeKinfoProcs(two).map((p) => `${p.pid} ${p.name} ${p.ppid} ${p.start}`)).toEqual(["1 init 0 5.000000", "9 cron 1 6.000001"]);
  });
});

describe("procctl's reaper structures", () => {
  test("struct procctl_reaper_pids: rp_count first, the rp_pids pointer after fifteen words of padding", () => {
    const bytes = encodeReaperPids(64, 0x7f00_1234_5678);
    const view = new DataView(bytes.buffer);
    // u_int rp_count, u_int rp_pad0[15], then the pointer, 8-aligned at 64: 72 bytes.
    expect(bytes.byteLength).toBe(72);
    expect(view.getUint32(0, true)).toBe(64);
    expect(view.getBigUint64(64, true)).toBe(0x7f00_1234_5678n);
  });

  test("struct procctl_reaper_pidinfo entries are read until the first the kernel did not mark valid", () => {
    const entry = 4 + 4 + 4 + 15 * 4; // pi_pid, pi_subtree, pi_flags, pi_pad0[15]
    const bytes = new Uint8Array(4 * entry);
    const view = new DataView(bytes.buffer);
    const rows: Array<[number, number, number]> = [
      [100, 100, VALID | CHILD],
      [101, 100, VALID],
      [102, 100, VALID | CHILD | ZOMBIE],
    ];
    rows.forEach(([pid, subtree, flags], i) => {
      view.setInt32(i * entry, pid, true);
      view.setInt32(i * entry + 4, subtree, true);
      view.setUint32(i * entry + 8, flags, true);
    });
    expect(decodePidInfos(bytes)).toEqual(rows.map(([pid, subtree, flags]) => ({ pid, subtree, flags })));
  });

  test("struct procctl_reaper_kill: the signal, REAPER_KILL_SUBTREE and the subtree in; killed and the first failed pid out", () => {
    const bytes = encodeReaperKill(15, 4242);
    const view = new DataView(bytes.buffer);
    expect(bytes.byteLength).toBe(5 * 4 + 15 * 4);
    expect([view.getInt32(0, true), view.getUint32(4, true), view.getInt32(8, true)]).toEqual([15, REAPER_KILL_SUBTREE, 4242]);
    view.setUint32(12, 3, true);
    view.setInt32(16, -1, true);
    expect(decodeReaperKill(bytes)).toEqual({ killed: 3, failedPid: -1 });
  });
});

describe("what is made of PROC_REAP_GETPIDS", () => {
  const infos: PidInfo[] = [
    { pid: 100, subtree: 100, flags: VALID | CHILD }, // a hook we spawned
    { pid: 101, subtree: 100, flags: VALID }, // its child
    { pid: 102, subtree: 100, flags: VALID | CHILD }, // its orphan, now ours
    { pid: 103, subtree: 100, flags: VALID | CHILD | ZOMBIE }, // its orphan, dead
    { pid: 200, subtree: 200, flags: VALID | CHILD | ZOMBIE }, // another hook that exited, Bun's to reap
    { pid: 201, subtree: 200, flags: VALID | ZOMBIE }, // a dead grandchild, its parent's to reap
  ];

  test("a subtree's live members: the leader only until it has exited, zombies never", () => {
    expect(subtreeMembers(infos, 100, { withLeader: true }).map((i) => i.pid)).toEqual([100, 101, 102]);
    expect(subtreeMembers(infos, 100, { withLeader: false }).map((i) => i.pid)).toEqual([101, 102]);
    expect(subtreeMembers(infos, 200, { withLeader: true })).toEqual([]);
  });

  test("the zombies to wait for: our children that we did not fork", () => {
    expect(inheritedZombies(infos).map((i) => i.pid)).toEqual([103]);
  });
});
