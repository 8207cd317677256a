/**
 * The process's own resource limits, read with getrlimit(2) through bun:ffi (neither Node nor Bun
 * exposes it). Used to keep concurrency within what the descriptor limit allows.
 */
import { dlopen, FFIType, ptr } from "bun:ffi";

const LIBC: Record<string, string> = { linux: "libc.so.6", freebsd: "libc.so.7" };
/** RLIMIT_NOFILE differs: 7 in Linux's <sys/resource.h>, 8 in FreeBSD's. */
const RLIMIT_NOFILE: Record<string, number> = { linux: 7, freebsd: 8 };

/** Read once per process: nothing here changes the limit, and every evaluation asks for it. */
let known: { platform: string; limit: number | null } | null = null;

/** The soft limit on open descriptors, or null where it cannot be read (or is unlimited). */
export function openFilesLimit(platform: string = process.platform): number | null {
  if (known?.platform !== platform) known = { platform, limit: readOpenFilesLimit(platform) };
  return known.limit;
}

function readOpenFilesLimit(platform: string): number | null {
  const library = LIBC[platform];
  const resource = RLIMIT_NOFILE[platform];
  if (library === undefined || resource === undefined) return null;
  try {
    const libc = dlopen(library, { getrlimit: { args: [FFIType.i32, FFIType.ptr], returns: FFIType.i32 } });
    // struct rlimit { rlim_t rlim_cur; rlim_t rlim_max; }: two 64-bit words on both 64-bit platforms.
    const limits = new BigUint64Array(2);
    const failed = libc.symbols.getrlimit(resource, ptr(limits)) !== 0;
    libc.close();
    const soft = limits[0]!;
    return failed || soft > BigInt(Number.MAX_SAFE_INTEGER) ? null : Number(soft);
  } catch {
    return null;
  }
}
