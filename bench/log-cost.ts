/**
 * What the first log line costs a process, per format: compiles one probe per format (text on a
 * pipe, text on a terminal, json), runs them interleaved and prints, as medians, the process's
 * wall time, the import of system/log.ts plus its first line, the next line, and the anonymous
 * memory after a full collection. The probes write to /dev/null.
 *
 *   bun bench/log-cost.ts [ROUNDS] [--tree DIR]
 *
 * ROUNDS defaults to 21. `--tree DIR` measures another checkout's src/system/log.ts (with its own
 * node_modules), e.g. the commit before a change: `git worktree add --detach /tmp/before REF`, then
 * `bun install --frozen-lockfile` there. Linux: reads /proc/self/status.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const args = process.argv.slice(2);
const treeAt = args.indexOf("--tree");
const tree = treeAt === -1 ? resolve(import.meta.dir, "..") : resolve(args[treeAt + 1] ?? ".");
if (treeAt !== -1) args.splice(treeAt, 2);
const rounds = Number(args[0] ?? 21);
const LOG = join(tree, "src/system/log.ts");
const VARIANTS = {
  "text on a pipe": `{ format: "text", terminal: false }`,
  "text on a terminal": `{ format: "text", terminal: true }`,
  json: `{ format: "json" }`,
} as const;

function probe(options: string): string {
  return `import { readFileSync } from "node:fs";
const t0 = performance.now();
const { createLog, flushLog } = await import(${JSON.stringify(LOG)});
const log = createLog("info", ${options});
log.info({ hook: "svc", exitCode: 1 }, "first line");
const first = performance.now() - t0;
const t1 = performance.now();
log.info({ hook: "svc", exitCode: 1 }, "next line");
const next = performance.now() - t1;
await flushLog(log);
Bun.gc(true);
const anon = Number(/RssAnon:\\s+(\\d+)/.exec(readFileSync("/proc/self/status", "utf8"))?.[1]) / 1024;
console.log(JSON.stringify({ first, next, anon }));
`;
}

const dir = mkdtempSync(join(tmpdir(), "carp-log-cost-"));
try {
  const binaries = Object.entries(VARIANTS).map(([name, options], i) => {
    const source = join(dir, `probe-${i}.ts`);
    const binary = join(dir, `probe-${i}`);
    writeFileSync(source, probe(options));
    const build = Bun.spawnSync([
      process.execPath,
      "build",
      "--compile",
      "--minify",
      "--bytecode",
      "--format=esm",
      source,
      "--outfile",
      binary,
    ]);
    if (build.exitCode !== 0) throw new Error(`building the ${name} probe failed: ${build.stderr.toString()}`);
    return { name, binary };
  });
  const samples = binaries.map(() => ({ wall: [] as number[], first: [] as number[], next: [] as number[], anon: [] as number[] }));
  for (let round = -1; round < rounds; round++) {
    for (const [i, { binary }] of binaries.entries()) {
      const started = performance.now();
      const run = Bun.spawnSync([binary], { stdout: "pipe", stderr: "ignore" });
      const wall = performance.now() - started;
      if (round < 0) continue;
      const result = JSON.parse(run.stdout.toString()) as { first: number; next: number; anon: number };
      const s = samples[i]!;
      s.wall.push(wall);
      s.first.push(result.first);
      s.next.push(result.next);
      s.anon.push(result.anon);
    }
  }
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1] ?? Number.NaN;
  console.log(`Bun ${Bun.version}, ${rounds} interleaved rounds, medians\n`);
  console.log("| format | process | import + first line | next line | anonymous memory |");
  console.log("| --- | --- | --- | --- | --- |");
  for (const [i, { name }] of binaries.entries()) {
    const s = samples[i]!;
    console.log(
      `| ${name} | ${median(s.wall).toFixed(1)} ms | ${median(s.first).toFixed(2)} ms | ${median(s.next).toFixed(3)} ms | ${median(s.anon).toFixed(1)} MB |`,
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
