/**
 * Waiting with a deadline, in one place (as Deno std's async/deadline.ts): every timer here is
 * cleared when what it waited for settles first, so a deadline never keeps a short-lived process
 * (`check`, a fallback at boot) alive after its work is done, and never fires late on nothing.
 */

/** What a deadline rejects with: a DOMException named "TimeoutError", as AbortSignal.timeout's. */
function timeoutError(message: string): DOMException {
  return new DOMException(message, "TimeoutError");
}

/** Whether an error is a deadline's (ours, AbortSignal.timeout's or fetch's). */
export function isTimeout(error: unknown): boolean {
  return (error as Error | null)?.name === "TimeoutError";
}

/** `promise`'s outcome, or a TimeoutError with `message` once `ms` have passed, whichever comes first. */
export async function deadline<T>(promise: Promise<T>, ms: number, message = `deadline of ${ms} ms passed`): Promise<T> {
  let timer: Timer | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(timeoutError(message)), ms);
  });
  try {
    return await Promise.race([promise, expired]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Waits for `promise` to settle, at most `ms`: true when it settled in time (fulfilled or
 * rejected: the caller only waits, it does not take the outcome), false when the time ran out.
 */
export async function settledWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  try {
    await deadline(
      promise.then(
        () => {},
        () => {},
      ),
      ms,
    );
    return true;
  } catch {
    return false;
  }
}

/** An AbortSignal that aborts with a TimeoutError carrying `message` after `ms`, and what clears its timer. */
export function deadlineSignal(ms: number, message: string): { signal: AbortSignal; clear(): void } {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(timeoutError(message)), ms);
  return { signal: controller.signal, clear: () => clearTimeout(timer) };
}
