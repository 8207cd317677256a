import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { deadline, deadlineSignal, isTimeout, settledWithin } from "../src/common/deadline.ts";
import { REPO } from "./helpers.ts";

describe("deadline", () => {
  test("gives the promise's value when it comes first", async () => {
    expect(await deadline(Promise.resolve(42), 1000)).toBe(42);
  });

  test("gives the promise's error when it comes first", async () => {
    expect(deadline(Promise.reject(new Error("boom")), 1000)).rejects.toThrow("boom");
  });

  test("rejects with a TimeoutError carrying the message when the time runs out", async () => {
    const error = await deadline(new Promise(() => {}), 10, "too slow").catch((e: unknown) => e);
    expect(isTimeout(error)).toBe(true);
    expect((error as Error).message).toBe("too slow");
  });

  test("settledWithin says whether it settled in time, rejections included", async () => {
    expect(await settledWithin(Promise.reject(new Error("no")), 1000)).toBe(true);
    expect(await settledWithin(new Promise(() => {}), 10)).toBe(false);
  });

  test("deadlineSignal aborts with a TimeoutError, and not once cleared", async () => {
    const fired = deadlineSignal(10, "phase over");
    await new Promise((resolve) => fired.signal.addEventListener("abort", resolve));
    expect(isTimeout(fired.signal.reason)).toBe(true);
    expect((fired.signal.reason as Error).message).toBe("phase over");
    const cleared = deadlineSignal(10, "never");
    cleared.clear();
    await Bun.sleep(30);
    expect(cleared.signal.aborted).toBe(false);
  });

  test("a settled deadline leaves no timer behind: a process exits as soon as its work is done", async () => {
    const module = JSON.stringify(join(REPO, "src/common/deadline.ts"));
    const script = `import { deadline, settledWithin } from ${module};
await deadline(Promise.resolve(1), 60_000);
await settledWithin(Promise.resolve(), 60_000);
const signal = (await import(${module})).deadlineSignal(60_000, "x"); signal.clear();`;
    const proc = Bun.spawn([process.execPath, "-e", script]);
    // With a timer left pending the process would live a minute, past this test's own timeout.
    expect(await proc.exited).toBe(0);
  }, 10_000);
});
