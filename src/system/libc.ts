/**
 * Every libc function we call through bun:ffi, in one table per platform and one dlopen per
 * process: flock(2) for the lock, getrlimit(2) for the descriptor limit, waitpid(2) for the
 * orphans a subreaper inherits, prctl(2) and waitid(2) (whether we have any child at all) on
 * Linux and procctl(2) and sysctl(3) on FreeBSD for
 * process trees, clock_gettime(2) for the system's monotonic clock (and FreeBSD's sysctlbyname(3)
 * for its boot id), fchmod(2) for modes Bun 1.3.14's own chmod drops; and, in a table of their own
 * loaded only by the helper that starts a check as another user (exec-as.ts), setgroups(2),
 * setgid(2), setuid(2), their getters, signal(3), sigprocmask(2), close_range(2) and execve(2).
 * Neither Node nor Bun exposes any of them. Pointer arguments take typed arrays,
 * which Bun 1.3.14 and 1.4.5 pass alike (a typed array where a u64 is declared is refused by both).
 */
import { dlopen, FFIType, type Pointer as FfiPointer, ptr, read } from "bun:ffi";
import { CarpError, messageOf } from "../common/errors.ts";

/** glibc on Linux, FreeBSD's libc (version 7 since FreeBSD 7). */
const LIBRARY: Record<string, string> = { linux: "libc.so.6", freebsd: "libc.so.7" };

const { i32, i64, u32, u64 } = FFIType;

/** What both platforms export under the same names and prototypes. */
const COMMON = {
  flock: { args: [i32, i32], returns: i32 },
  getrlimit: { args: [i32, FFIType.ptr], returns: i32 },
  // pid_t waitpid(pid_t, int *, int): always called with one pid and WNOHANG, never -1.
  waitpid: { args: [i32, FFIType.ptr, i32], returns: i32 },
  clock_gettime: { args: [i32, FFIType.ptr], returns: i32 },
  // mode_t is 16 bits on FreeBSD, 32 on Linux: either way one integer register.
  fchmod: { args: [i32, u32], returns: i32 },
} as const;

const LINUX = {
  ...COMMON,
  // int prctl(int option, unsigned long arg2, ...): variadic, but every argument we pass is an
  // integer, which the x86-64 and aarch64 calling conventions pass the same way either way.
  prctl: { args: [i32, u64, u64, u64, u64], returns: i32 },
  // int waitid(idtype_t, id_t, siginfo_t *, int): idtype_t an enum, id_t 32 bits; siginfo_t is 128 bytes.
  waitid: { args: [i32, u32, FFIType.ptr, i32], returns: i32 },
  __errno_location: { args: [], returns: FFIType.ptr },
} as const;

const FREEBSD = {
  ...COMMON,
  // int procctl(idtype_t, id_t, int, void *), <sys/procctl.h>; idtype_t is an enum, id_t an int64_t.
  procctl: { args: [i32, i64, i32, FFIType.ptr], returns: i32 },
  // int sysctl(const int *name, u_int namelen, void *oldp, size_t *oldlenp, const void *newp, size_t newlen)
  sysctl: { args: [FFIType.ptr, u32, FFIType.ptr, FFIType.ptr, FFIType.ptr, u64], returns: i32 },
  // int sysctlbyname(const char *name, void *oldp, size_t *oldlenp, const void *newp, size_t newlen)
  sysctlbyname: { args: [FFIType.ptr, FFIType.ptr, FFIType.ptr, FFIType.ptr, u64], returns: i32 },
  __error: { args: [], returns: FFIType.ptr },
} as const;

type Pointer = NodeJS.TypedArray | null;

/** The calls every platform has. */
export interface Libc {
  platform: "linux" | "freebsd";
  flock(fd: number, operation: number): number;
  getrlimit(resource: number, limits: BigUint64Array): number;
  waitpid(pid: number, options: number): number;
  /** struct timespec is two 64-bit words on amd64 and arm64. */
  clock_gettime(clock: number, timespec: BigInt64Array): number;
  fchmod(fd: number, mode: number): number;
  /** errno as the last failed call left it; read at once, before anything else can call into libc. */
  errno(): number;
}

export interface LinuxLibc extends Libc {
  platform: "linux";
  prctl(option: number, arg2: number): number;
  /** `info` holds a siginfo_t (128 bytes). */
  waitid(idtype: number, id: number, info: Uint8Array, options: number): number;
}

export interface FreeBsdLibc extends Libc {
  platform: "freebsd";
  procctl(idtype: number, id: number, command: number, data: Pointer): number;
  sysctl(name: Int32Array, oldp: Pointer, oldlenp: BigUint64Array): number;
  /** `name` NUL-terminated. */
  sysctlbyname(name: Uint8Array, oldp: Pointer, oldlenp: BigUint64Array): number;
}

let bound: { platform: string; libc: LinuxLibc | FreeBsdLibc } | null = null;

function bind(platform: string): LinuxLibc | FreeBsdLibc {
  const library = LIBRARY[platform];
  if (library === undefined) throw new CarpError("system", `No libc binding for platform "${platform}" (only Linux and FreeBSD)`);
  try {
    if (platform === "linux") {
      const s = dlopen(library, LINUX).symbols;
      return {
        platform: "linux",
        flock: (fd, operation) => s.flock(fd, operation),
        getrlimit: (resource, limits) => s.getrlimit(resource, limits),
        waitpid: (pid, options) => s.waitpid(pid, null, options),
        clock_gettime: (clock, timespec) => s.clock_gettime(clock, timespec),
        fchmod: (fd, mode) => s.fchmod(fd, mode),
        errno: () => read.i32(s.__errno_location()!, 0),
        prctl: (option, arg2) => s.prctl(option, arg2, 0, 0, 0),
        waitid: (idtype, id, info, options) => s.waitid(idtype, id, info, options),
      };
    }
    const s = dlopen(library, FREEBSD).symbols;
    return {
      platform: "freebsd",
      flock: (fd, operation) => s.flock(fd, operation),
      getrlimit: (resource, limits) => s.getrlimit(resource, limits),
      waitpid: (pid, options) => s.waitpid(pid, null, options),
      clock_gettime: (clock, timespec) => s.clock_gettime(clock, timespec),
      fchmod: (fd, mode) => s.fchmod(fd, mode),
      errno: () => read.i32(s.__error()!, 0),
      procctl: (idtype, id, command, data) => s.procctl(idtype, id, command, data),
      sysctl: (name, oldp, oldlenp) => s.sysctl(name, name.length, oldp, oldlenp, null, 0),
      sysctlbyname: (name, oldp, oldlenp) => s.sysctlbyname(name, oldp, oldlenp, null, 0),
    };
  } catch (error) {
    throw new CarpError("system", `Cannot load ${library} through bun:ffi: ${messageOf(error)}`, { cause: error });
  }
}

/**
 * The address of a typed array's memory, for a pointer stored inside a struct (procctl's
 * procctl_reaper_pids points at the array the kernel fills). The array must stay referenced
 * until the call has returned.
 */
export function addressOf(array: NodeJS.TypedArray): number {
  return ptr(array);
}

/**
 * This platform's libc, loaded on first use and kept for the life of the process. Throws
 * CarpError("system") on a platform without a binding or when the library cannot be loaded.
 */
export function libc(platform: string = process.platform): LinuxLibc | FreeBsdLibc {
  if (bound?.platform !== platform) bound = { platform, libc: bind(platform) };
  return bound.libc;
}

/**
 * What dropping privileges and exec'ing takes (exec-as.ts). A table of its own, loaded only in the
 * helper process that starts a check as another user: a symbol missing from some libc must cost
 * those checks, never the lock or the clock. close_range(2) is looked up apart (glibc has it since
 * 2.34, FreeBSD since 12.2); without it descriptors are marked close-on-exec one by one with fcntl.
 */
export interface PrivilegeLibc {
  platform: "linux" | "freebsd";
  /** `groups` holds the primary gid first (FreeBSD up to 14 keeps the effective gid in slot 0). */
  setgroups(groups: Uint32Array): number;
  setgid(gid: number): number;
  setuid(uid: number): number;
  getuid(): number;
  geteuid(): number;
  getgid(): number;
  getegid(): number;
  /** Fills `groups`; returns how many, or -1. */
  getgroups(groups: Uint32Array): number;
  /** Every signal's disposition back to the default (an ignored SIGPIPE would outlive exec). */
  defaultSignals(): void;
  /** The signal mask emptied (it outlives exec too). */
  unblockSignals(): number;
  /** Every descriptor from 3 up marked close-on-exec: Bun 1.3.14 keeps /dev/urandom open without it. */
  closeOnExecFrom3(): void;
  /** NUL-terminated path; argv and envp are arrays of pointers ending in 0. Returns only on failure. */
  execve(path: Uint8Array, argv: BigUint64Array, envp: BigUint64Array): number;
  errno(): number;
}

/** <signal.h> */
const SIGNALS: Record<"linux" | "freebsd", { last: number; setMask: number }> = {
  linux: { last: 64, setMask: 2 },
  freebsd: { last: 127, setMask: 3 },
};
/** <fcntl.h> and <linux/close_range.h> / <sys/unistd.h>: the same values on both. */
const F_SETFD = 2;
const FD_CLOEXEC = 1;
const CLOSE_RANGE_CLOEXEC = 4;
/** Without close_range, descriptors up to this many are marked one by one. */
const FCNTL_SWEEP_MAX = 65_536;

export function privilegeLibc(platform: string = process.platform): PrivilegeLibc {
  const library = LIBRARY[platform];
  if (library === undefined || (platform !== "linux" && platform !== "freebsd")) {
    throw new CarpError("system", `No libc binding for platform "${platform}" (only Linux and FreeBSD)`);
  }
  // setgroups takes a size_t count on Linux and an int on FreeBSD.
  const count = platform === "linux" ? u64 : i32;
  const s = dlopen(library, {
    setgroups: { args: [count, FFIType.ptr], returns: i32 },
    setgid: { args: [u32], returns: i32 },
    setuid: { args: [u32], returns: i32 },
    getuid: { args: [], returns: u32 },
    geteuid: { args: [], returns: u32 },
    getgid: { args: [], returns: u32 },
    getegid: { args: [], returns: u32 },
    getgroups: { args: [i32, FFIType.ptr], returns: i32 },
    signal: { args: [i32, FFIType.ptr], returns: FFIType.ptr },
    sigprocmask: { args: [i32, FFIType.ptr, FFIType.ptr], returns: i32 },
    fcntl: { args: [i32, i32, i32], returns: i32 },
    execve: { args: [FFIType.ptr, FFIType.ptr, FFIType.ptr], returns: i32 },
    ...(platform === "linux" ? { __errno_location: { args: [], returns: FFIType.ptr } } : { __error: { args: [], returns: FFIType.ptr } }),
  }).symbols as unknown as Record<string, (...args: unknown[]) => number>;
  let closeRange: ((first: number, last: number, flags: number) => number) | null = null;
  try {
    closeRange = dlopen(library, { close_range: { args: [u32, u32, i32], returns: i32 } }).symbols.close_range;
  } catch {
    closeRange = null;
  }
  const signals = SIGNALS[platform];
  const errnoAt = platform === "linux" ? s.__errno_location! : s.__error!;
  return {
    platform,
    setgroups: (groups) => s.setgroups!(groups.length, groups),
    setgid: (gid) => s.setgid!(gid),
    setuid: (uid) => s.setuid!(uid),
    getuid: () => s.getuid!(),
    geteuid: () => s.geteuid!(),
    getgid: () => s.getgid!(),
    getegid: () => s.getegid!(),
    getgroups: (groups) => s.getgroups!(groups.length, groups),
    defaultSignals() {
      // SIGKILL and SIGSTOP refuse, harmlessly; SIG_DFL is the null pointer.
      for (let signal = 1; signal <= signals.last; signal++) s.signal!(signal, null);
    },
    unblockSignals: () => s.sigprocmask!(signals.setMask, new Uint8Array(128), null),
    closeOnExecFrom3() {
      if (closeRange !== null && closeRange(3, 0xffff_ffff, CLOSE_RANGE_CLOEXEC) === 0) return;
      for (let fd = 3; fd < FCNTL_SWEEP_MAX; fd++) s.fcntl!(fd, F_SETFD, FD_CLOEXEC);
    },
    execve: (path, argv, envp) => s.execve!(path, argv, envp),
    errno: () => read.i32(errnoAt() as unknown as FfiPointer, 0),
  };
}
