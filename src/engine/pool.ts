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
