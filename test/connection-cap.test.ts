/** The connection cap: what the descriptor limit leaves after everything an evaluation may need. */
import { expect, test } from "bun:test";
import {
  connectionCap,
  EVALUATION_FDS,
  MAX_CONNECTIONS,
  MIN_CONNECTIONS,
  RUNTIME_FDS,
  reservedForEvaluations,
} from "../src/daemon/connection-cap.ts";
import { FDS_PER_HOOK } from "../src/engine/pool.ts";

const OTHER_EVALUATION_FDS = Object.values(EVALUATION_FDS).reduce((sum, fds) => sum + fds, 0);

test("keeps every hook's pipes, the tools, the files and Bun's own for evaluations", () => {
  expect(reservedForEvaluations(10_000, { concurrency: 8 })).toBe(RUNTIME_FDS + 8 * FDS_PER_HOOK + OTHER_EVALUATION_FDS);
});

test.each([
  ["an unknown limit", null, 8, MAX_CONNECTIONS],
  ["a large limit", 65_536, 8, MAX_CONNECTIONS],
  ["ulimit -n 200", 200, 8, 200 - (RUNTIME_FDS + 8 * FDS_PER_HOOK + OTHER_EVALUATION_FDS)],
  ["ulimit -n 200 with more hooks at once", 200, 16, 200 - (RUNTIME_FDS + 16 * FDS_PER_HOOK + OTHER_EVALUATION_FDS)],
  ["a limit too small for everything", 48, 8, MIN_CONNECTIONS],
] as const)("%s (%p descriptors, concurrency %p): %p connections", (_, openFiles, concurrency, cap) => {
  expect(connectionCap(openFiles, { concurrency })).toBe(cap);
  if (openFiles !== null && cap > MIN_CONNECTIONS) {
    expect(cap + reservedForEvaluations(openFiles, { concurrency })).toBeLessThanOrEqual(openFiles);
  }
});

test("the concurrency counted is the one the limit allows, not the one asked for", () => {
  // concurrency 256 under 300 descriptors runs (300 - 64) / 4 = 59 hooks at once (engine/pool.ts).
  expect(reservedForEvaluations(300, { concurrency: 256 })).toBe(RUNTIME_FDS + 59 * FDS_PER_HOOK + OTHER_EVALUATION_FDS);
});
