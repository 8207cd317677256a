import { expect, test } from "bun:test";
import { Coalescer } from "../src/daemon/coalescer.ts";

/** Evaluations that finish when the test says so. */
function controlled() {
  const started: Array<{ id: number; finish: (value: number) => void; fail: (error: Error) => void }> = [];
  const coalescer = new Coalescer(
    () =>
      new Promise<number>((resolve, reject) => {
        started.push({ id: started.length + 1, finish: resolve, fail: reject });
      }),
  );
  return { coalescer, started };
}

test("a request with nothing running starts an evaluation at once", async () => {
  const { coalescer, started } = controlled();
  const result = coalescer.request();
  expect(started).toHaveLength(1);
  started[0]!.finish(1);
  expect(await result).toBe(1);
});

test("requests during an evaluation share exactly one follow-up", async () => {
  const { coalescer, started } = controlled();
  const first = coalescer.request();
  const during = Array.from({ length: 50 }, () => coalescer.request());
  expect(started).toHaveLength(1);
  started[0]!.finish(1);
  expect(await first).toBe(1);
  await Bun.sleep(0);
  expect(started).toHaveLength(2);
  started[1]!.finish(2);
  expect(await Promise.all(during)).toEqual(Array(50).fill(2));
  expect(started).toHaveLength(2);
});

test("a request is never answered by an evaluation that started before it", async () => {
  const { coalescer, started } = controlled();
  void coalescer.request();
  const late = coalescer.request();
  started[0]!.finish(1);
  await Bun.sleep(0);
  // A request arriving while the follow-up runs waits for a third evaluation.
  const later = coalescer.request();
  started[1]!.finish(2);
  expect(await late).toBe(2);
  await Bun.sleep(0);
  started[2]!.finish(3);
  expect(await later).toBe(3);
});

test("a failed evaluation rejects its callers and the follow-up still runs", async () => {
  const { coalescer, started } = controlled();
  const first = coalescer.request();
  const next = coalescer.request();
  started[0]!.fail(new Error("sysctl failed"));
  await expect(first).rejects.toThrow("sysctl failed");
  await Bun.sleep(0);
  started[1]!.finish(2);
  expect(await next).toBe(2);
  expect(coalescer.busy).toBe(false);
});

test("the follow-up reruns every check when any request it answers asked for --all", async () => {
  const alls: boolean[] = [];
  const finishers: Array<() => void> = [];
  const coalescer = new Coalescer(
    (all) =>
      new Promise<number>((resolve) => {
        alls.push(all);
        finishers.push(() => resolve(alls.length));
      }),
  );
  const first = coalescer.request();
  const plain = coalescer.request();
  const all = coalescer.request(true);
  const later = coalescer.request();
  finishers[0]!();
  await first;
  await Bun.sleep(0);
  finishers[1]!();
  expect(await Promise.all([plain, all, later])).toEqual([2, 2, 2]);
  const again = coalescer.request();
  finishers[2]!();
  await again;
  expect(alls).toEqual([false, true, false]);
});
