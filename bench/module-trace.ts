/**
 * Which modules a compiled executable initialises, in what order, and what each costs: for
 * bench/breakdown.ts. `bun build` puts every module in one file; a module reached only through a
 * dynamic import is wrapped in an init function (`__esm` for ES modules, `__commonJS` for
 * CommonJS) that runs its statements when first imported, while the function declarations of
 * every module are hoisted to the top level and made at start-up. This bundles src/cli.ts as
 * the executable is bundled, wraps each init function in a timer named after its module (the
 * bundle's `// path` comments), and compiles the result with COMPILE_FLAGS. Run with
 * CARP_MODULE_TRACE=FILE, the executable writes, at exit, the modules it initialised as
 * [{ path, startMs, selfMs, totalMs }] (self: without the modules it initialised in turn) and
 * the time its first statement ran (firstStatementMs).
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { COMPILE_FLAGS, ENTRY, REPO } from "../scripts/build.ts";

export interface ModuleTrace {
  /** Bun's clock when the bundle's first statement ran: after every hoisted function was made. */
  firstStatementMs: number;
  modules: Array<{ path: string; startMs: number; selfMs: number; totalMs: number }>;
}

const PRELUDE = `
var __traceFirst = performance.now();
var __traceModules = [];
var __traceStack = [];
function __traceTimed(path, fn) {
  return function () {
    var start = performance.now();
    __traceStack.push(0);
    try {
      return fn.apply(this, arguments);
    } finally {
      var total = performance.now() - start;
      var inner = __traceStack.pop();
      if (__traceStack.length > 0) __traceStack[__traceStack.length - 1] += total;
      __traceModules.push({ path: path, startMs: start, selfMs: total - inner, totalMs: total });
    }
  };
}
function __esmTraced(path, fn) { return __esm(__traceTimed(path, fn)); }
function __cjsTraced(path, fn) { return __commonJS(__traceTimed(path, fn)); }
if (process.env.CARP_MODULE_TRACE) {
  process.on("exit", function () {
    __traceModules.sort(function (a, b) { return a.startMs - b.startMs; });
    require("node:fs").writeFileSync(process.env.CARP_MODULE_TRACE, JSON.stringify({ firstStatementMs: __traceFirst, modules: __traceModules }));
  });
}
`;

/** Bundles `entry` (default src/cli.ts) with a timer around each module's init function and compiles it to `outfile`. */
export function buildTracedExecutable(outfile: string, work: string, entry: string = ENTRY): void {
  const name = outfile.split("/").at(-1)!;
  const plain = join(work, `${name}-plain.js`);
  const bundled = Bun.spawnSync([process.execPath, "build", entry, "--target=bun", "--format=esm", "--outfile", plain], { cwd: REPO });
  if (bundled.exitCode !== 0) throw new Error(`bun build failed: ${bundled.stderr.toString()}`);
  let path = "(bundle)";
  let wrapped = 0;
  const lines = readFileSync(plain, "utf8")
    .split("\n")
    .map((line) => {
      const comment = /^\/\/ (\S+\.(?:ts|js|mjs|cjs|json))$/.exec(line);
      if (comment) path = comment[1]!;
      const init = /^(var (?:init|require)_\w+ = )__(esm|commonJS)\(/.exec(line);
      if (!init) return line;
      wrapped++;
      return `${init[1]}__${init[2] === "esm" ? "esmTraced" : "cjsTraced"}(${JSON.stringify(path)}, ${line.slice(init[0].length)}`;
    });
  if (wrapped === 0) throw new Error("no module init functions found in the bundle: has bun build's output changed?");
  // After the "// @bun" pragma, which must stay at the top.
  const pragma = lines.findIndex((line) => line.startsWith("// @bun"));
  lines.splice(pragma + 1, 0, PRELUDE);
  const traced = join(work, `${name}.js`);
  writeFileSync(traced, lines.join("\n"));
  const compiled = Bun.spawnSync([process.execPath, "build", traced, ...COMPILE_FLAGS, "--outfile", outfile], { cwd: work });
  if (compiled.exitCode !== 0) throw new Error(`bun build --compile of the traced bundle failed: ${compiled.stderr.toString()}`);
}
