/**
 * The architecture, held by a test: folders import one way only, nothing imports in a cycle, and
 * the client path (`trigger`, `status`, the protocol) never loads zod, pino or croner, so those
 * commands start nearly as fast as Bun itself.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { REPO } from "./helpers.ts";

const SRC = join(REPO, "src");
const HEAVY = ["zod", "pino", "croner", "pino-pretty"];

/** Lower folders first: a folder may import only from folders before it (and itself). */
const LAYERS = ["common", "config", "protocol", "system", "engine", "daemon", "install", "doctor", "cli"] as const;
/** Pairs the order above would allow but the design forbids. */
const FORBIDDEN: Record<string, string[]> = { install: ["system", "engine", "daemon"], daemon: [], doctor: ["daemon"] };
/** Files a forbidden folder may still use: the one atomic writer (install writes its files through it). */
const EXCEPTIONS: Record<string, string[]> = { install: ["system/atomic-file.ts"] };

interface Import {
  specifier: string;
  /** Only types: erased at run time. */
  typeOnly: boolean;
  /** import("..."): loaded when called, not when the module loads. */
  dynamic: boolean;
}

/**
 * Every import and re-export of a source file. A Bun macro import (`with { type: "macro" }`) runs
 * when the code is transpiled and is gone at run time, like a type import; `require()` loads when
 * called, like `import()`.
 */
function importsOf(source: string): Import[] {
  const found: Import[] = [];
  for (const match of source.matchAll(/^(import|export)\s+(type\s+)?[^;]*?\bfrom\s+"([^"]+)"( with \{ type: "macro" \})?/gms)) {
    found.push({ specifier: match[3]!, typeOnly: match[2] !== undefined || match[4] !== undefined, dynamic: false });
  }
  for (const match of source.matchAll(/\brequire\(\s*"([^"]+)"\s*\)/g))
    found.push({ specifier: match[1]!, typeOnly: false, dynamic: true });
  for (const match of source.matchAll(/^import\s+"([^"]+)"/gm)) found.push({ specifier: match[1]!, typeOnly: false, dynamic: false });
  for (const match of source.matchAll(/\bimport\(\s*"([^"]+)"\s*\)/g)) found.push({ specifier: match[1]!, typeOnly: false, dynamic: true });
  return found;
}

function folderOf(file: string): string {
  const rel = relative(SRC, file);
  return rel.includes("/") ? rel.slice(0, rel.indexOf("/")) : "(entry)";
}

/** The files under src/ and, for each, the src/ files and packages it imports. */
function graph(): Map<string, Array<Import & { target: string }>> {
  const files = [...new Bun.Glob("**/*.ts").scanSync({ cwd: SRC })].map((f) => join(SRC, f));
  return new Map(
    files.map((file) => [
      file,
      importsOf(readFileSync(file, "utf8")).map((i) => ({
        ...i,
        target: i.specifier.startsWith(".") ? resolve(dirname(file), i.specifier) : i.specifier,
      })),
    ]),
  );
}

/** Imports that break the layering: "from -> to" lines. */
function layeringViolations(edges: Map<string, Array<{ target: string }>>): string[] {
  const violations: string[] = [];
  for (const [file, imports] of edges) {
    const from = folderOf(file);
    const rank = LAYERS.indexOf(from as (typeof LAYERS)[number]);
    if (rank < 0) continue; // the entry point may import anything
    for (const { target } of imports) {
      if (!target.startsWith(SRC)) continue;
      const to = folderOf(target);
      const toRank = LAYERS.indexOf(to as (typeof LAYERS)[number]);
      const excepted = EXCEPTIONS[from]?.includes(relative(SRC, target)) === true;
      if (toRank > rank || (FORBIDDEN[from]?.includes(to) && !excepted) || to === "(entry)") {
        violations.push(`${relative(SRC, file)} -> ${relative(SRC, target)}`);
      }
    }
  }
  return violations;
}

/** Packages reached through static value imports (what loads when the file loads). */
function staticReach(file: string, edges: ReturnType<typeof graph>, seen = new Set<string>()): Set<string> {
  if (seen.has(file)) return seen;
  seen.add(file);
  for (const i of edges.get(file) ?? []) {
    if (i.typeOnly || i.dynamic) continue;
    if (i.target.startsWith(SRC)) staticReach(i.target, edges, seen);
    else seen.add(i.target);
  }
  return seen;
}

/** One cycle through src/ (type and dynamic imports included), or null. */
function findCycle(edges: Map<string, Array<{ target: string }>>): string[] | null {
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (file: string): string[] | null => {
    if (state.get(file) === "done") return null;
    if (state.get(file) === "open") return [...stack.slice(stack.indexOf(file)), file];
    state.set(file, "open");
    stack.push(file);
    for (const { target } of edges.get(file) ?? []) {
      if (!edges.has(target)) continue;
      const cycle = visit(target);
      if (cycle) return cycle;
    }
    stack.pop();
    state.set(file, "done");
    return null;
  };
  for (const file of edges.keys()) {
    const cycle = visit(file);
    if (cycle) return cycle.map((f) => relative(SRC, f));
  }
  return null;
}

const edges = graph();

describe("layering", () => {
  test("every source file sits in a known folder (or is the entry point)", () => {
    const folders = new Set([...edges.keys()].map(folderOf));
    expect([...folders].filter((f) => f !== "(entry)" && !LAYERS.includes(f as (typeof LAYERS)[number]))).toEqual([]);
  });

  test("folders import one way: the engine never reaches the daemon, the CLI or the installer", () => {
    expect(layeringViolations(edges)).toEqual([]);
  });

  test("the layering check catches an engine file importing the daemon", () => {
    const bad = new Map(edges);
    const evaluate = join(SRC, "engine", "evaluate.ts");
    bad.set(evaluate, [
      ...(edges.get(evaluate) ?? []),
      { specifier: "../daemon/daemon.ts", typeOnly: true, dynamic: false, target: join(SRC, "daemon", "daemon.ts") },
    ]);
    expect(layeringViolations(bad)).toEqual(["engine/evaluate.ts -> daemon/daemon.ts"]);
  });

  test("no import cycles, type imports included", () => {
    expect(findCycle(edges)).toBeNull();
  });

  test("the cycle check catches a command importing the entry point", () => {
    const bad = new Map(edges);
    const check = join(SRC, "cli", "check.ts");
    bad.set(check, [...(edges.get(check) ?? []), { specifier: "../cli.ts", typeOnly: true, dynamic: false, target: join(SRC, "cli.ts") }]);
    expect(findCycle(bad)).toEqual(expect.arrayContaining(["cli.ts", "cli/check.ts"]));
  });
});

describe("the client path stays lean", () => {
  // check.ts too: the cold path loads zod and croner only to read a config file, pino only to log a line.
  for (const entry of [
    "cli.ts",
    "cli/trigger.ts",
    "cli/status.ts",
    "cli/watch.ts",
    "cli/check.ts",
    "cli/configd.ts",
    "protocol/client.ts",
    "protocol/wire.ts",
  ]) {
    test(`${entry} does not load ${HEAVY.join(", ")}`, () => {
      const reached = [...staticReach(join(SRC, entry), edges)];
      expect(reached.filter((module) => HEAVY.includes(module))).toEqual([]);
      expect(reached.length).toBeGreaterThan(entry === "protocol/wire.ts" ? 0 : 1);
    });
  }

  test("the check finds heavy imports where they are", () => {
    expect([...staticReach(join(SRC, "cli", "config.ts"), edges)]).toEqual(expect.arrayContaining(["zod", "croner"]));
  });

  test("a macro import counts as erased, a require() as loaded when called", () => {
    const found = importsOf('import { a } from "./m.ts" with { type: "macro" };\nconst p = require("pino");\n');
    expect(found).toEqual([
      { specifier: "./m.ts", typeOnly: true, dynamic: false },
      { specifier: "pino", typeOnly: false, dynamic: true },
    ]);
  });
});
