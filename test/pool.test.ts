import { expect, test } from "bun:test";
import { capConcurrency, FDS_PER_HOOK, mapConcurrent, RESERVED_FDS } from "../src/engine/pool.ts";

test("mapConcurrent keeps input order and never runs more than the limit at once", async () => {
  let running = 0;
  let peak = 0;
  const results = await mapConcurrent(
    [5, 1, 3, 2, 4],
    async (n) => {
      running++;
      peak = Math.max(peak, running);
      await Bun.sleep(n);
      running--;
      return n * 10;
    },
    { limit: 2 },
  );
  expect(results).toEqual([50, 10, 30, 20, 40]);
  expect(peak).toBe(2);
});

const cases: Array<[string, number, number | null, number, boolean]> = [
  ["an unknown limit changes nothing", 8, null, 8, false],
  ["a generous limit changes nothing", 8, 20_000, 8, false],
  ["exactly enough changes nothing", 8, RESERVED_FDS + 8 * FDS_PER_HOOK, 8, false],
  ["one short runs one hook fewer", 8, RESERVED_FDS + 8 * FDS_PER_HOOK - 1, 7, true],
  ["a limit below the reserve still runs one hook at a time", 8, RESERVED_FDS - 1, 1, true],
];
for (const [name, requested, openFiles, limit, noted] of cases) {
  test(`capConcurrency: ${name}`, () => {
    const capped = capConcurrency(requested, openFiles);
    expect(capped.limit).toBe(limit);
    expect(capped.note !== null).toBe(noted);
    if (noted) expect(capped.note).toContain(`running ${limit} hooks at once`);
  });
}
