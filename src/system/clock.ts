/**
 * The clocks flap control measures with. The wall clock steps (NTP sets it at boot, an admin sets
 * it by hand), so a hold-down is measured on CLOCK_MONOTONIC, which never steps. On Linux and
 * FreeBSD that clock counts from boot for the whole system, so processes of one boot can compare
 * their readings; a reboot starts it again, so a reading is stamped with the boot's identity.
 *
 * Bun offers no such reading: `process.hrtime`, `Bun.nanoseconds()` and `performance.now()` count
 * from the start of the process (1.3.14 and 1.4.5 alike). So clock_gettime(2) is called through
 * bun:ffi (system/libc.ts). Where that fails, the monotonic readings are this
 * process's own, and the boot identity says so: no other process will take them for its own.
 */
import { messageOf } from "../common/errors.ts";
import { readBoundedFile } from "../common/read-file.ts";
import { type FreeBsdLibc, type Libc, libc } from "./libc.ts";

/** One reading of the clocks, with what makes it comparable to another process's. */
export interface ClockReading {
  /** CLOCK_MONOTONIC in ms: never stepped; comparable between processes of one boot. */
  monotonicMs: number;
  /** The wall clock, epoch ms: what people are shown, and, without a boot id, a way to notice a reboot. */
  wallMs: number;
  /** The kernel's id of this boot (Linux boot_id, FreeBSD kern.boot_id), or null where none could be read. */
  boot: string | null;
  /** This process, at random: its own readings are always comparable, whatever the wall clock did. */
  process: string;
}

/** Where the evaluation reads the time; tests pass a clock they step by hand. */
export interface Clock {
  read(): ClockReading;
  /** Said once in the log, when the clock is weaker than it should be (no system monotonic clock). */
  note?: string | null;
}

/** <time.h>: CLOCK_MONOTONIC is 1 on Linux, 4 on FreeBSD. */
const CLOCK_MONOTONIC: Record<string, number> = { linux: 1, freebsd: 4 };
/** Linux's id of the running boot, a UUID made at boot. */
const LINUX_BOOT_ID_FILE = "/proc/sys/kernel/random/boot_id";

/** CLOCK_MONOTONIC through clock_gettime(2), in ms; struct timespec is two 64-bit words on amd64 and arm64. */
function monotonicOf(c: Libc, clock: number): () => number {
  const timespec = new BigInt64Array(2);
  return () => {
    if (c.clock_gettime(clock, timespec) !== 0) throw new Error("clock_gettime(CLOCK_MONOTONIC) failed");
    return Number(timespec[0]!) * 1000 + Number(timespec[1]!) / 1e6;
  };
}

/** FreeBSD's kern.boot_id: 16 random bytes made once per boot (ENXIO until the random device is seeded). */
function freebsdBootId(c: FreeBsdLibc): string | null {
  const name = Buffer.from("kern.boot_id\0");
  const id = new Uint8Array(16);
  const length = new BigUint64Array([16n]);
  if (c.sysctlbyname(name, id, length) !== 0 || length[0] !== 16n) return null;
  return id.every((byte) => byte === 0) ? null : Buffer.from(id).toString("hex");
}

function linuxBootId(): string | null {
  try {
    const id = readBoundedFile(LINUX_BOOT_ID_FILE, { maxBytes: 64 }).trim();
    return id === "" ? null : id;
  } catch {
    return null;
  }
}

/**
 * The system's clocks: CLOCK_MONOTONIC and the boot id where the platform has them, else this
 * process's monotonic clock under a boot identity of its own. `note` says why, once.
 */
export function createSystemClock(platform: string = process.platform): Clock {
  const processId = crypto.randomUUID();
  let monotonicMs: () => number;
  let boot: string | null;
  let note: string | null = null;
  try {
    const clock = CLOCK_MONOTONIC[platform];
    if (clock === undefined) throw new Error(`no clock_gettime binding for platform "${platform}"`);
    const c = libc(platform);
    monotonicMs = monotonicOf(c, clock);
    monotonicMs();
    boot = c.platform === "linux" ? linuxBootId() : freebsdBootId(c);
  } catch (error) {
    // performance.now() is monotonic too, but only within this process: a boot id of our own
    // makes sure no other process compares its readings with these.
    const origin = performance.now();
    monotonicMs = () => performance.now() - origin;
    boot = `process-${processId}`;
    note = `The system's monotonic clock cannot be read (${messageOf(error)}): a hold-down is measured within one process only`;
  }
  return {
    note,
    read: () => ({ monotonicMs: monotonicMs(), wallMs: Date.now(), boot, process: processId }),
  };
}

let system: Clock | null = null;

/** The clock of this process, made at first use (one dlopen, one boot id read). */
export function systemClock(): Clock {
  system ??= createSystemClock();
  return system;
}
