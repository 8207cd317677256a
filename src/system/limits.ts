/**
 * The process's own resource limits, read with getrlimit(2) (neither Node nor Bun exposes it).
 * Used to keep concurrency within what the descriptor limit allows.
 */
import { libc } from "./libc.ts";

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
  const resource = RLIMIT_NOFILE[platform];
  if (resource === undefined) return null;
  try {
    // struct rlimit { rlim_t rlim_cur; rlim_t rlim_max; }: two 64-bit words on both 64-bit platforms.
    const limits = new BigUint64Array(2);
    if (libc(platform).getrlimit(resource, limits) !== 0) return null;
    const soft = limits[0]!;
    return soft > BigInt(Number.MAX_SAFE_INTEGER) ? null : Number(soft);
  } catch {
    return null;
  }
}
