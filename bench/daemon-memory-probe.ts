/**
 * What the idle daemon's private memory is made of, compiled like the executable (COMPILE_FLAGS)
 * by bench/breakdown.ts, or run from source. It builds the daemon step by step in the order
 * `daemon` does (config.ts with zod, smol-toml and croner; the config file read; the daemon's
 * modules; the first log line, which loads pino; the daemon started, evaluating on its schedule),
 * and after each step collects garbage (Bun.gc(true)) and reads:
 *   - the process's anonymous memory (smaps_rollup): what it costs on its own;
 *   - JavaScriptCore's heap (bun:jsc heapStats): live object bytes, and the capacity it holds;
 *   - JavaScriptCore's "extra memory": buffers and strings owned by heap objects.
 * The rest of the anonymous memory is malloc (mimalloc: bytecode, compiled code's metadata,
 * structures, Bun's own state) and thread stacks.
 *
 *   daemon-memory-probe OUT.json CONFIG_FILE IDLE_SECONDS [--zod-jitless]
 *
 * --zod-jitless: as if config.ts set z.config({ jitless: true }) (zod then validates without
 * generating code with new Function).
 *
 * Writes [{ step, anonMb, heapMb, heapCapacityMb, extraMb, objects }] to OUT.json, then exits.
 */
import { heapStats } from "bun:jsc";
import { readFileSync, writeFileSync } from "node:fs";

const [out, configFile, idleSeconds = "12", option] = process.argv.slice(2);
if (out === undefined || configFile === undefined) throw new Error("usage: daemon-memory-probe OUT.json CONFIG_FILE IDLE_SECONDS");

const MB = 2 ** 20;
const steps: Array<Record<string, number | string>> = [];
async function measure(step: string): Promise<void> {
  Bun.gc(true);
  await Bun.sleep(50);
  const anonKb = Number(/^Anonymous:\s+(\d+)/m.exec(readFileSync("/proc/self/smaps_rollup", "utf8"))![1]);
  const heap = heapStats();
  steps.push({
    step,
    anonMb: anonKb / 1024,
    heapMb: heap.heapSize / MB,
    heapCapacityMb: heap.heapCapacity / MB,
    extraMb: heap.extraMemorySize / MB,
    objects: heap.objectCount,
  });
}

await measure("Bun, nothing loaded");
if (option === "--zod-jitless") (await import("zod")).z.config({ jitless: true });
const { loadConfig } = await import("../src/config/config.ts");
await measure("config.ts loaded: zod, smol-toml, croner, our config modules");
const loaded = loadConfig({ file: configFile });
await measure("the config file read and validated (the zod schema built)");
const { run } = await import("../src/cli/daemon.ts");
await import("../src/daemon/daemon.ts");
await measure("the daemon's modules loaded (engine, socket server, metrics, notify, scheduler)");
const { createLog } = await import("../src/system/log.ts");
createLog("info", { format: loaded.config.logFormat, terminal: false }).debug("probe");
await measure("the first log call: pino loaded and a logger made");
void run({ config: configFile, syslog: true });
await Bun.sleep(Number(idleSeconds) * 1000);
await measure(`the daemon idle for ${idleSeconds} s (its socket, schedule and evaluations)`);
writeFileSync(out, JSON.stringify(steps));
process.exit(0);
