/**
 * A real daemon's observability: the metrics file after every evaluation and the same text at
 * GET /metrics, a file that cannot be written never failing an evaluation, and notify scripts
 * that never delay one, stopped with the daemon; and `check` explaining a stacked demotion.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import parsePrometheusTextFormat from "parse-prometheus-text-format";
import { METRICS_CONTENT_TYPE } from "../../src/protocol/wire.ts";
import { type DaemonProcess, isAlive, makeSandbox, runCli, type Sandbox, spawnDaemon, waitFor } from "../helpers.ts";

let sandbox: Sandbox;
let daemon: DaemonProcess | null = null;
afterEach(async () => {
  if (daemon && daemon.proc.exitCode === null) await daemon.stop();
  daemon = null;
  sandbox.cleanup();
});

async function start(extra: Record<string, unknown>): Promise<DaemonProcess> {
  sandbox.writeConfig({ schedule: false, logLevel: "info", ...extra });
  daemon = await spawnDaemon(sandbox);
  await waitFor(async () => (await daemon!.call("status")).counters.evaluations === 1, "the first evaluation");
  return daemon;
}

/** Samples of one family as { "label values": value }. */
function samples(text: string, name: string): Record<string, number> {
  const family = parsePrometheusTextFormat(text).find((f) => f.name === `carp_service_status_${name}`);
  return Object.fromEntries((family?.metrics ?? []).map((m) => [Object.values(m.labels ?? {}).join(","), Number(m.value)]));
}

async function getMetrics(): Promise<Response> {
  return fetch("http://localhost/metrics", { unix: sandbox.config.socket as string });
}

describe("metrics", () => {
  test("the file is written after every evaluation, and GET /metrics serves the same text as text/plain", async () => {
    sandbox = makeSandbox();
    const metricsDir = join(sandbox.dir, "node_exporter");
    mkdirSync(metricsDir);
    const metricsFile = join(metricsDir, "carp_service_status.prom");
    sandbox.addHook("svc", { fixture: "pass" });
    sandbox.addHook('bad name "q"', { fixture: "fail" });
    await start({ metricsFile });
    await waitFor(() => existsSync(metricsFile) && samples(readFileSync(metricsFile, "utf8"), "evaluations_total")[""] === 1, "the file");
    const first = readFileSync(metricsFile, "utf8");
    expect(samples(first, "hook_up")).toEqual({ 'bad name "q"': 0, svc: 1 });
    expect(samples(first, "demotion")).toEqual({ "": 1048576 });

    await daemon!.call("evaluate");
    await waitFor(() => samples(readFileSync(metricsFile, "utf8"), "evaluations_total")[""] === 2, "the second write");
    const response = await getMetrics();
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe(METRICS_CONTENT_TYPE);
    expect(await response.text()).toBe(readFileSync(metricsFile, "utf8"));
    expect(samples(readFileSync(metricsFile, "utf8"), "evaluation_requests_total")).toEqual({ socket: 1, schedule: 0 });
  });

  test("a metrics file that cannot be written is logged once, and every evaluation still succeeds", async () => {
    sandbox = makeSandbox();
    sandbox.addHook("svc", { fixture: "pass" });
    const metricsFile = join(sandbox.dir, "missing", "carp_service_status.prom");
    const d = await start({ metricsFile });
    for (let i = 0; i < 3; i++) expect((await d.call("evaluate")).action).toBe("none");
    await Bun.sleep(100);
    const errors = d.logs().filter((l) => String(l.msg).startsWith("Cannot write metrics file"));
    expect(errors).toHaveLength(1);
    expect(errors[0]!.msg).toContain(`"${metricsFile}"`);
    expect(errors[0]!.msg).toContain("its directory does not exist; create it");
    // The socket still serves them.
    expect(samples(await (await getMetrics()).text(), "evaluations_total")).toEqual({ "": 4 });
  });
});

describe("notify scripts in the daemon", () => {
  test("a hung notify script delays no evaluation, events still run in order, and a stop kills it", async () => {
    sandbox = makeSandbox();
    const notifyDir = join(sandbox.dir, "notify.d");
    mkdirSync(notifyDir, { mode: 0o755 });
    const record = join(sandbox.dir, "record");
    const hangPid = join(sandbox.dir, "hang.pid");
    // Hangs (ignoring SIGTERM) for "demoted" until its timeout, and for "promoted" for good.
    writeFileSync(
      join(notifyDir, "notify"),
      `#!/bin/sh
echo "$*" >> ${JSON.stringify(record)}
case "$1" in demoted|promoted) trap '' TERM; echo $$ > ${JSON.stringify(hangPid)}; sleep 600 & wait ;; esac
`,
    );
    chmodSync(join(notifyDir, "notify"), 0o755);
    const hook = sandbox.addHook("svc", { fixture: "pass" });
    const d = await start({ notifyDir, notifyTimeoutMs: 400, killGraceMs: 100 });

    rmSync(hook);
    sandbox.addHook("svc", { fixture: "fail" });
    const demoting = performance.now();
    expect((await d.call("evaluate")).action).toBe("demoted");
    await waitFor(() => existsSync(hangPid), "the notify script to hang");
    rmSync(hook);
    sandbox.addHook("svc", { fixture: "pass" });
    const promoting = performance.now();
    expect((await d.call("evaluate")).action).toBe("promoted");
    // Both evaluations answered while the notify script hung.
    expect(performance.now() - promoting).toBeLessThan(300);
    expect(performance.now() - demoting).toBeLessThan(400);

    await waitFor(() => readFileSync(record, "utf8").split("\n").length === 5, "every event", 3000);
    expect(readFileSync(record, "utf8").trim().split("\n")).toEqual(["hook svc fail", "demoted", "hook svc pass", "promoted"]);
    const hung = Number(readFileSync(hangPid, "utf8"));
    const stopping = performance.now();
    expect(await d.stop()).toBe(0);
    expect(performance.now() - stopping).toBeLessThan(2000);
    expect(isAlive(hung)).toBe(false);
    expect(d.logs().some((l) => String(l.msg).includes("timed out after"))).toBe(true);
  });
});

describe("the demotion explained", () => {
  test("a real check on a stacked value prints the split and the fix", async () => {
    sandbox = makeSandbox();
    sandbox.setDemotion(2 * 1048576 + 240);
    const { stdout } = await runCli(["check", "--config", sandbox.configFile, "--dry-run"]);
    expect(stdout).toContain(
      `\ndemotion 2097392: our 2^20 added 2 times (stacked) + 240 = 1 x 240 from the kernel (a CARP interface down, send errors, pfsync bulk update or maintenance mode)\n`,
    );
    // The repair is said once, by the ANOMALY line, with the same command the split would give.
    expect(stdout).toContain("clear it with sysctl net.inet.carp.demotion=-2097152");
    expect(stdout).not.toContain("\nfix: ");
  });
});
