/** Maps items through an async function with at most `limit` calls in flight; keeps input order. */
export async function mapConcurrent<T, R>(items: readonly T[], fn: (item: T) => Promise<R>, { limit }: { limit: number }): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  async function worker(): Promise<void> {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index]!);
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** Descriptors one running hook holds: its stdout and stderr pipes, both ends while it starts. */
export const FDS_PER_HOOK = 4;
/** Kept free for everything else: the socket and its clients, the lock, sysctl and logger, Bun itself. */
export const RESERVED_FDS = 64;

/**
 * The concurrency the descriptor limit allows: running out of descriptors would fail hooks for
 * our own fault. `note` says why it is lower than asked, or is null.
 */
export function capConcurrency(requested: number, openFiles: number | null): { limit: number; note: string | null } {
  if (openFiles === null) return { limit: requested, note: null };
  const allowed = Math.max(1, Math.floor((openFiles - RESERVED_FDS) / FDS_PER_HOOK));
  if (allowed >= requested) return { limit: requested, note: null };
  return {
    limit: allowed,
    note: `concurrency ${requested} needs more descriptors than the limit of ${openFiles} allows; running ${allowed} hooks at once (raise it with ulimit -n or login.conf)`,
  };
}
