/**
 * The architecture, held by a test: folders import one way only, nothing imports in a cycle, the
 * client path (`trigger`, `status`, the protocol) never loads zod, pino or croner, so those
 * commands start nearly as fast as Bun itself; helpers live where they belong (the protocol reads
 * no config, a command imports no other command), and no function in src/ runs past 80 lines.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { basename, dirname, join, relative, resolve } from "node:path";
import ts from "typescript";
import { REPO } from "./helpers.ts";

const SRC = join(REPO, "src");
const HEAVY = ["zod", "pino", "croner", "pino-pretty"];

/** Lower folders first: a folder may import only from folders before it (and itself). */
const LAYERS = ["common", "config", "protocol", "system", "engine", "daemon", "install", "doctor", "cli"] as const;
/** Pairs the order above would allow but the design forbids. */
const FORBIDDEN: Record<string, string[]> = {
  // The protocol is what server and client share on the wire; where the socket is comes from config/socket.ts.
  protocol: ["config"],
  install: ["system", "engine", "daemon"],
  daemon: [],
  doctor: ["daemon"],
};
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
    "cli/evaluate-here.ts",
    "cli/configd.ts",
    "config/socket.ts",
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

/**
 * The files of src/cli/ that are commands: each one the command table in src/cli.ts loads. The
 * others are helpers the commands share, named here so that a new file must be put in one group.
 */
const COMMANDS = new Set([...readFileSync(join(SRC, "cli.ts"), "utf8").matchAll(/import\("\.\/cli\/([\w-]+\.ts)"\)/g)].map((m) => m[1]!));
const CLI_HELPERS = [
  "flags.ts", // the command table's shapes and the flag readers commands share (rootOf)
  "report.ts", // how evaluations and the daemon's status are printed
  "demotion-lines.ts", // the lines that explain a demotion value
  "evaluate-here.ts", // the local evaluation of check, trigger's and maintenance's fallback, and configd
  "watch.ts", // status --watch
  "watch-screen.ts", // what status --watch draws
];

/** Imports from one command file of another ("from -> to" lines), type and dynamic imports included. */
function commandImports(edges: Map<string, Array<{ target: string }>>): string[] {
  const cli = join(SRC, "cli");
  const isCommand = (file: string) => dirname(file) === cli && COMMANDS.has(basename(file));
  const found: string[] = [];
  for (const [file, imports] of edges) {
    if (!isCommand(file)) continue;
    for (const { target } of imports)
      if (isCommand(target) && target !== file) found.push(`${relative(SRC, file)} -> ${relative(SRC, target)}`);
  }
  return found;
}

/** What reads a file, or parses TOML: the protocol layer does neither (the socket's path is config/socket.ts's). */
const READS_FILES = /\b(readFileSync|readBoundedFile|readNoFollow|openSync|Bun\.file|TOML)\b|node:fs\/promises|smol-toml/;

/** Files under src/protocol/ that read files or parse TOML, with the line that does. */
function protocolFileReads(sources: ReadonlyMap<string, string>): string[] {
  const found: string[] = [];
  for (const [file, source] of sources) {
    if (folderOf(file) !== "protocol") continue;
    // Comments may speak of the config; only code counts.
    const code = source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/\/\/.*$/gm, "");
    for (const line of code.split("\n")) if (READS_FILES.test(line)) found.push(`${relative(SRC, file)}: ${line.trim()}`);
  }
  return found;
}

describe("helpers live where they belong", () => {
  test("every file of src/cli/ is a command of the table or a named helper", () => {
    const files = [...new Bun.Glob("*.ts").scanSync({ cwd: join(SRC, "cli") })].sort();
    expect(COMMANDS.size).toBeGreaterThan(5);
    expect(files.filter((f) => !COMMANDS.has(f) && !CLI_HELPERS.includes(f))).toEqual([]);
    expect(CLI_HELPERS.filter((f) => COMMANDS.has(f) || !files.includes(f))).toEqual([]);
  });

  test("a command file imports no other command file: what two commands share is a helper", () => {
    expect(commandImports(edges)).toEqual([]);
  });

  test("the command check catches install importing doctor, and trigger importing check when called", () => {
    const bad = new Map(edges);
    const install = join(SRC, "cli", "install.ts");
    const trigger = join(SRC, "cli", "trigger.ts");
    bad.set(install, [
      ...(edges.get(install) ?? []),
      { specifier: "./doctor.ts", typeOnly: false, dynamic: false, target: join(SRC, "cli", "doctor.ts") },
    ]);
    bad.set(trigger, [
      ...(edges.get(trigger) ?? []),
      { specifier: "./check.ts", typeOnly: false, dynamic: true, target: join(SRC, "cli", "check.ts") },
    ]);
    expect(commandImports(bad).sort()).toEqual(["cli/install.ts -> cli/doctor.ts", "cli/trigger.ts -> cli/check.ts"]);
  });

  test("the protocol layer imports nothing from config/ and reads no file", () => {
    const sources = new Map([...edges.keys()].map((file) => [file, readFileSync(file, "utf8")]));
    expect(protocolFileReads(sources)).toEqual([]);
    expect(layeringViolations(edges).filter((v) => v.startsWith("protocol/"))).toEqual([]);
  });

  test("the protocol checks catch a TOML read and an import of config/", () => {
    const client = join(SRC, "protocol", "client.ts");
    const reading = new Map([[client, "// reads no config\nconst parsed = Bun.TOML.parse(readBoundedFile(file, { maxBytes }));\n"]]);
    expect(protocolFileReads(reading)).toEqual(["protocol/client.ts: const parsed = Bun.TOML.parse(readBoundedFile(file, { maxBytes }));"]);
    const bad = new Map(edges);
    bad.set(client, [
      ...(edges.get(client) ?? []),
      { specifier: "../config/defaults.ts", typeOnly: false, dynamic: false, target: join(SRC, "config", "defaults.ts") },
    ]);
    expect(layeringViolations(bad)).toEqual(["protocol/client.ts -> config/defaults.ts"]);
  });
});

/** The longest a function in src/ may be, in lines from its first to its last. */
const MAX_FUNCTION_LINES = 80;

/**
 * Functions allowed to be longer: declarative tables, where splitting would scatter one table.
 * By "file: function", each with why.
 */
const LONG_TABLES: Record<string, string> = {
  // The zod schema of the config: one declaration of every key, its default and its message.
  "config/config.ts: configSchema": "the config schema",
};

/** The name a function goes by: its own, the variable or property it is assigned to, or its line. */
function functionName(node: ts.SignatureDeclaration, file: ts.SourceFile): string {
  if (node.name && ts.isIdentifier(node.name)) return node.name.text;
  if (node.name) return node.name.getText(file);
  const parent = node.parent;
  if (ts.isVariableDeclaration(parent) && ts.isIdentifier(parent.name)) return parent.name.text;
  if (ts.isPropertyAssignment(parent)) return parent.name.getText(file);
  if (ts.isConstructorDeclaration(node)) return "constructor";
  return `(anonymous at line ${file.getLineAndCharacterOfPosition(node.getStart(file)).line + 1})`;
}

/** Every function of a source text longer than `max` lines: "file: name (N lines)". */
function longFunctions(fileName: string, source: string, max: number): string[] {
  const file = ts.createSourceFile(fileName, source, ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && "body" in node && node.body !== undefined) {
      const first = file.getLineAndCharacterOfPosition(node.getStart(file)).line;
      const last = file.getLineAndCharacterOfPosition(node.getEnd()).line;
      const lines = last - first + 1;
      if (lines > max) found.push(`${fileName}: ${functionName(node, file)} (${lines} lines)`);
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return found;
}

describe("short functions", () => {
  test(`no function in src/ is over ${MAX_FUNCTION_LINES} lines, but the declarative tables allowed by name`, () => {
    const long = [...edges.keys()].flatMap((file) => longFunctions(relative(SRC, file), readFileSync(file, "utf8"), MAX_FUNCTION_LINES));
    expect(long.filter((entry) => !Object.hasOwn(LONG_TABLES, entry.replace(/ \(\d+ lines\)$/, "")))).toEqual([]);
  });

  test("every allowed table still exists and is still long: the list does not outlive what it allows", () => {
    const long = [...edges.keys()].flatMap((file) => longFunctions(relative(SRC, file), readFileSync(file, "utf8"), MAX_FUNCTION_LINES));
    const names = long.map((entry) => entry.replace(/ \(\d+ lines\)$/, ""));
    expect(Object.keys(LONG_TABLES).filter((entry) => !names.includes(entry))).toEqual([]);
  });

  test("the check finds a long function by its name: declared, assigned to a const, a method", () => {
    const body = Array.from({ length: 80 }, (_, i) => `  x += ${i};`).join("\n");
    const source = `function declared() {\n${body}\n}\nconst arrow = () => {\n${body}\n};\nclass K {\n  method() {\n${body}\n  }\n}\nfunction short() {\n  return 1;\n}\n`;
    expect(longFunctions("x.ts", source, MAX_FUNCTION_LINES)).toEqual([
      "x.ts: declared (82 lines)",
      "x.ts: arrow (82 lines)",
      "x.ts: method (82 lines)",
    ]);
  });
});
