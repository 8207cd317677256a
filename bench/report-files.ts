/** Where the benchmark scripts put their figures: a results file and a marked block of docs/benchmarks.md. */
import { readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

export const REPO = resolve(import.meta.dir, "..");

/** The document that quotes the figures. */
export const FIGURES_DOC = join(REPO, "docs", "benchmarks.md");

/** Writes `report` to bench/NAME.md and between `<!-- NAME:start -->` and `<!-- NAME:end -->` in docs/benchmarks.md. */
export function publishReport(name: string, report: string): void {
  writeFileSync(join(REPO, "bench", `${name}.md`), `${report}\n`);
  const doc = readFileSync(FIGURES_DOC, "utf8");
  const block = new RegExp(`<!-- ${name}:start -->\\n[\\s\\S]*?<!-- ${name}:end -->`);
  if (!block.test(doc)) throw new Error(`${FIGURES_DOC} has no <!-- ${name}:start --> ... <!-- ${name}:end --> block`);
  writeFileSync(FIGURES_DOC, doc.replace(block, `<!-- ${name}:start -->\n${report}\n<!-- ${name}:end -->`));
}

const CLOCK_TICKS_PER_S = 100;

/**
 * CPU time (ms) and memory (MB) of a process, from /proc: RSS, and its anonymous part (heap and
 * stacks: what the process costs on its own; the rest is the runtime's code pages, shared with
 * every other process of the same executable and reclaimable). Linux only, like the benchmarks.
 */
export function usage(pid: number): { cpuMs: number; rssMb: number; anonMb: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]);
  const smaps = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, "m").exec(smaps)![1]);
  return { cpuMs: (ticks * 1000) / CLOCK_TICKS_PER_S, rssMb: kb("Rss") / 1024, anonMb: kb("Anonymous") / 1024 };
}
