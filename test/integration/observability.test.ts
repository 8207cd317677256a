/**
 * A real daemon's observability: the metrics file after every evaluation and the same text at
 * GET /metrics, a file that cannot be written never failing an evaluation, and notify scripts
 * that never delay one, stopped with the daemon; and `check` explaining a stacked demotion. What
 * counts as failed is one notion everywhere; a hold-down and a hook flapping below `fall` are
 * seen in the log, the metrics, notify and `check`.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import parsePrometheusTextFormat from "parse-prometheus-text-format";
import { METRICS_CONTENT_TYPE } from "../../src/protocol/wire.ts";
import { type DaemonProcess, isAlive, makeSandbox, runCli, type Sandbox, setFakeSwitch, spawnDaemon, waitFor } from "../helpers.ts";

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
    // Every evaluation has a source: the start too, so requests and evaluations add up.
    expect(samples(readFileSync(metricsFile, "utf8"), "evaluation_requests_total")).toEqual({
      socket: 1,
      schedule: 0,
      start: 1,
      hold_end: 0,
    });
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
    const hangPid = (event: string) => join(sandbox!.dir, `hang.${event}`);
    // Hangs for good (ignoring SIGTERM) on a change of our bit, after saying so with its pid.
    writeFileSync(
      join(notifyDir, "notify"),
      `#!/bin/sh
echo "$*" >> ${JSON.stringify(record)}
case "$1" in demoted|promoted) trap '' TERM; echo $$ > ${JSON.stringify(sandbox.dir)}/hang.$1; sleep 600 & wait ;; esac
`,
    );
    chmodSync(join(notifyDir, "notify"), 0o755);
    const hook = sandbox.addHook("svc", { fixture: "pass" });
    // Far longer than the test: nothing here may depend on the notify timeout.
    const d = await start({ notifyDir, notifyTimeoutMs: 600_000, killGraceMs: 100 });

    rmSync(hook);
    sandbox.addHook("svc", { fixture: "fail" });
    expect((await d.call("evaluate")).action).toBe("demoted");
    await waitFor(() => existsSync(hangPid("demoted")), "the notify script to hang on demoted");
    const hungOnDemoted = Number(readFileSync(hangPid("demoted"), "utf8"));
    rmSync(hook);
    sandbox.addHook("svc", { fixture: "pass" });
    expect((await d.call("evaluate")).action).toBe("promoted");
    // Answered while the notify script still hangs: evaluations never wait for notify scripts.
    expect(isAlive(hungOnDemoted)).toBe(true);

    // Released by hand, the queue goes on, in order, up to the next hang.
    process.kill(hungOnDemoted, "SIGKILL");
    await waitFor(() => existsSync(hangPid("promoted")), "the notify script to hang on promoted");
    expect(readFileSync(record, "utf8").trim().split("\n")).toEqual(["hook svc fail", "demoted", "hook svc pass", "promoted"]);
    const hungOnPromoted = Number(readFileSync(hangPid("promoted"), "utf8"));
    const stopping = performance.now();
    expect(await d.stop()).toBe(0);
    // The daemon's own bound on a stop (two seconds), not a guess at how fast this machine is.
    expect(performance.now() - stopping).toBeLessThan(2000);
    expect(isAlive(hungOnPromoted)).toBe(false);
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

const BIT = 1048576;

/** A hook that fails while the file `broken` exists in the sandbox, printing why. */
function switchableHook(name: string): { broken: string; fail(): void; pass(): void } {
  const broken = join(sandbox.dir, `${name}.broken`);
  sandbox.addHook(name, {
    content: `#!/bin/sh\nif [ -e ${broken} ]; then echo 'no OSPF neighbour in state Full'; exit 2; fi\necho Full\n`,
  });
  return { broken, fail: () => writeFileSync(broken, ""), pass: () => rmSync(broken, { force: true }) };
}

describe("one notion of what counts as failed", () => {
  test("rise 3, a pass after a failure, the bit cleared from outside: the daemon demotes again and names the hook", async () => {
    sandbox = makeSandbox({ rise: 3 });
    const ospf = switchableHook("ospf");
    ospf.fail();
    const d = await start({});
    expect(sandbox.demotion()).toBe(BIT);
    ospf.pass();
    const once = await d.call("evaluate");
    expect(once.services[0].counted).toEqual({ state: "fail", streak: 1, needed: 3 });
    // Leaving CARP maintenance mode writes the demotion back to its default: our bit is gone.
    sandbox.setDemotion(0);
    const again = await d.call("evaluate");
    expect(again.action).toBe("demoted");
    expect(again.failed).toEqual(["ospf"]);
    expect(sandbox.demotion()).toBe(BIT);
    expect(sandbox.syslog().at(-1)).toContain("carp demoted by 1048576 due to service disruption (services: ospf)");
    const lines = await waitFor(() => {
      const found = d.logs().filter((l) => String(l.msg).startsWith("demoted this node:"));
      return found.length === 2 ? found : null;
    }, "the second demotion's line");
    expect(lines.map((l) => l.msg)).toEqual([
      "demoted this node: ospf (exit 2: no OSPF neighbour in state Full)",
      "demoted this node: ospf (passed its last run, still counts as failed: passing 2 of 3)",
    ]);
    expect(lines[1]!.failed).toEqual(["ospf"]);
  });
});

describe("a hold-down, seen everywhere", () => {
  test("the metrics say held and until when, notify scripts get held UNTIL and held-cancelled, check says why the bit stays", async () => {
    sandbox = makeSandbox({ promoteDelayMs: 30_000 });
    const notifyDir = join(sandbox.dir, "notify.d");
    mkdirSync(notifyDir, { mode: 0o755 });
    const record = join(sandbox.dir, "record");
    writeFileSync(
      join(notifyDir, "record"),
      `#!/bin/sh\necho "$* remaining=$CARP_HOLD_REMAINING_MS broken=$CARP_HOLD_BROKEN_BY exit=$CARP_HOOK_EXIT_CODE" >> ${JSON.stringify(record)}\n`,
    );
    chmodSync(join(notifyDir, "record"), 0o755);
    const ospf = switchableHook("ospf");
    ospf.fail();
    sandbox.setDemotion(240);
    const d = await start({ notifyDir });
    expect(sandbox.demotion()).toBe(BIT + 240);

    ospf.pass();
    const before = Date.now();
    const held = await d.call("evaluate");
    expect(held.promotionHeld).toMatchObject({ remainingMs: 30_000, started: true });
    const text = await (await getMetrics()).text();
    expect(samples(text, "promotion_held")).toEqual({ "": 1 });
    expect(samples(text, "demoted")).toEqual({ "": 1 });
    expect(samples(text, "hook_up")).toEqual({ ospf: 1 });
    expect(samples(text, "demotion_kernel")).toEqual({ "": 240 });
    const until = samples(text, "promotion_held_until_timestamp_seconds")[""]! * 1000;
    expect(until).toBeGreaterThan(before + 25_000);
    expect(until).toBeLessThan(Date.now() + 30_500);

    // status, as of its reply, and check's text say the bit is held, not that a check failed.
    const status = await runCli(["status", "--config", sandbox.configFile]);
    expect(status.stdout).toMatch(/\npromotion held: (29|30) s left \(every check passing since [^)]+\); the 2\^20 bit comes off then/);
    expect(status.stdout).toContain("demotion 1048816: our bit (2^20: held by the hold-down; every check passes) + 240");
    expect(status.stdout).not.toContain("a service check failed");
    const trigger = await runCli(["trigger", "--config", sandbox.configFile]);
    expect(trigger.stdout).toMatch(/\npromotion held: \d+ s left \(every check passing since /);
    expect(trigger.stdout).toContain("our bit (2^20: held by the hold-down; every check passes)");

    ospf.fail();
    expect((await d.call("evaluate")).promotionHeld).toBeNull();
    expect(samples(await (await getMetrics()).text(), "promotion_held")).toEqual({ "": 0 });
    await waitFor(() => existsSync(record) && readFileSync(record, "utf8").trim().split("\n").length === 6, "six notify events");
    const events = readFileSync(record, "utf8").trim().split("\n");
    expect(events[0]).toBe("hook ospf fail remaining= broken= exit=2");
    expect(events[1]).toBe("demoted remaining= broken= exit=");
    expect(events[2]).toBe("hook ospf pass remaining= broken= exit=0");
    expect(events[3]).toMatch(/^held \d{4}-\d\d-\d\dT[\d:.]+Z remaining=30000 broken= exit=$/);
    // The run that failed ended the hold-down: its hook's change, then the cancelling, in order.
    expect(events[4]).toBe("hook ospf fail remaining= broken= exit=2");
    expect(events[5]).toBe("held-cancelled remaining= broken=ospf exit=");
  }, 20_000);
});

describe("flapping below fall, seen", () => {
  test("one info line per change of a hook's raw result, counters of failures and changes, its exit code; preempt read", async () => {
    sandbox = makeSandbox({ fall: 3 });
    setFakeSwitch(sandbox, "oid.net.inet.carp.preempt", "1\n");
    const ospf = switchableHook("ospf");
    const d = await start({});
    // pass (start), fail, fail, pass, fail: never three failures in a row.
    for (const next of [ospf.fail, () => {}, ospf.pass, ospf.fail]) {
      next();
      expect((await d.call("evaluate")).action).toBe("none");
    }
    expect(sandbox.demotion()).toBe(0);
    const flaps = d.logs().filter((l) => l.hook === "ospf");
    expect(flaps.map((l) => [l.level, l.msg])).toEqual([
      [30, 'hook "ospf" failed its run (exit 2: no OSPF neighbour in state Full), still counts as pass: failing 1 of 3 (fall)'],
      [30, 'hook "ospf" passed its run, as it counts (pass)'],
      [30, 'hook "ospf" failed its run (exit 2: no OSPF neighbour in state Full), still counts as pass: failing 1 of 3 (fall)'],
    ]);
    const text = await waitFor(async () => {
      const metrics = await (await getMetrics()).text();
      return samples(metrics, "preempt")[""] === 1 ? metrics : null;
    }, "preempt in the metrics");
    expect(samples(text, "hook_failures_total")).toEqual({ ospf: 3 });
    expect(samples(text, "hook_transitions_total")).toEqual({ ospf: 3 });
    expect(samples(text, "hook_last_exit_code")).toEqual({ ospf: 2 });
    expect(samples(text, "hook_timed_out")).toEqual({ ospf: 0 });
    expect(samples(text, "hook_up")).toEqual({ ospf: 0 });
    expect(samples(text, "hook_counted_up")).toEqual({ ospf: 1 });
  });
});
