/**
 * Compiled by bench.ts: loads only the named parts of the daemon's stack, idles, and prints the
 * time the loading took and its RSS split into the executable's own pages (Bun's code, touched on
 * first use) and anonymous memory. Shows what bounds the idle daemon's RSS.
 */
import { readFileSync } from "node:fs";

const started = performance.now();
const parts = new Set((process.argv[2] ?? "").split(",").filter(Boolean));
if (parts.has("zod")) {
  const { z } = await import("zod");
  z.strictObject({ a: z.string().default("x") }).parse({});
}
if (parts.has("pino")) {
  const { default: pino } = await import("pino");
  pino({}, pino.destination({ dest: "/dev/null", sync: true })).info("probe");
}
if (parts.has("croner")) {
  const { Cron } = await import("croner");
  new Cron("*/10 * * * * *", () => {});
}
const loadMs = performance.now() - started;
if (parts.has("serve")) {
  Bun.serve({ unix: `/tmp/carp-footprint-${process.pid}.sock`, fetch: () => new Response("") }).unref();
}
if (parts.has("spawn")) {
  const child = Bun.spawn(["true"], { stdout: "pipe", stderr: "pipe" });
  await child.exited;
}

await Bun.sleep(1000);
Bun.gc(true);
let executableKb = 0;
let anonymousKb = 0;
let mapping = "";
for (const line of readFileSync("/proc/self/smaps", "utf8").split("\n")) {
  const header = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
  if (header) {
    mapping = header[1]!;
    continue;
  }
  const rss = /^Rss:\s+(\d+)/.exec(line);
  if (!rss) continue;
  if (mapping === process.execPath) executableKb += Number(rss[1]);
  else if (mapping === "" || mapping.startsWith("[heap]")) anonymousKb += Number(rss[1]);
}
const rssKb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync("/proc/self/status", "utf8"))![1]);
console.log(JSON.stringify({ loadMs, rssMb: rssKb / 1024, executableMb: executableKb / 1024, anonymousMb: anonymousKb / 1024 }));
process.exit(0);
