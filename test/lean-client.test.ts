/**
 * `trigger` and `status` must start nearly as fast as Bun itself: their static import graph may
 * not reach zod, pino or croner (the engine is imported dynamically, for the fallback only).
 */
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { REPO } from "./helpers.ts";

const HEAVY = ["zod", "pino", "croner"];

/** Modules reached by static, value (non-type) imports from a file. */
function staticImports(file: string, seen = new Set<string>()): Set<string> {
  if (seen.has(file)) return seen;
  seen.add(file);
  const source = readFileSync(file, "utf8");
  for (const match of source.matchAll(/^import\s+(?!type\s)[^;]*?from\s+"([^"]+)"/gm)) {
    const specifier = match[1]!;
    if (specifier.startsWith(".")) staticImports(resolve(dirname(file), specifier), seen);
    else seen.add(specifier);
  }
  return seen;
}

for (const entry of ["cli.ts", "trigger-command.ts", "status-command.ts"]) {
  test(`${entry} does not statically import ${HEAVY.join(", ")}`, () => {
    const reached = [...staticImports(join(REPO, "src", entry))];
    expect(reached.filter((module) => HEAVY.includes(module))).toEqual([]);
    expect(reached.length).toBeGreaterThan(1);
  });
}

test("the check that guards the lean path does find heavy imports where they are", () => {
  expect([...staticImports(join(REPO, "src", "check-command.ts"))]).toEqual(expect.arrayContaining(HEAVY));
});
