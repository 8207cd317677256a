/**
 * Gateway checks end to end: `check` and a real daemon against the fake gateway_status.php
 * (test/fixtures/gateway-status, the real script's JSON shape), the fake sysctl and logger. A
 * gateway is a check named gateway:NAME that demotes, recovers and flaps like a hook; a status
 * that cannot be read is a system error the evaluation goes on past: the hooks still count and can
 * demote, the gateway checks keep their counted state, and nothing is promoted.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import parsePrometheusTextFormat from "parse-prometheus-text-format";
import { NODE_PATHS } from "../../src/install/layout.ts";
import { renderMonitorHook } from "../../src/install/templates.ts";
import { addGatewayFixture, type GatewayFixture, writeGatewayConfig } from "../gateway-fixture.ts";
import { CLI, type DaemonProcess, makeSandbox, runCli, type Sandbox, spawnDaemon, waitFor } from "../helpers.ts";

const BIT = 1048576;
const DEMOTED = "carp daemon.warning: carp demoted by 1048576 due to service disruption (services: gateway:WAN_GW)";
const PROMOTED = "carp daemon.warning: carp promoted by 1048576 due to service recovery";

let sandbox: Sandbox;
let daemon: DaemonProcess | null = null;
afterEach(async () => {
  if (daemon && daemon.proc.exitCode === null) await daemon.stop();
  daemon = null;
  sandbox.cleanup();
});

function check(...flags: string[]) {
  return runCli(["check", "--config", sandbox.configFile, ...flags]);
}

/** A sandbox with a passing hook and the fake status command printing these gateways. */
function setUp(lines: string[], gateways: Record<string, string[]> = { WAN_GW: [] }, extra: Record<string, unknown> = {}): GatewayFixture {
  sandbox = makeSandbox();
  sandbox.addHook("unbound", { fixture: "pass" });
  const fixture = addGatewayFixture(sandbox, lines);
  writeGatewayConfig(sandbox, fixture, gateways, extra);
  return fixture;
}

/** The lines of the fake sysctl's calls that wrote the demotion. */
function writes(): string[] {
  return sandbox.sysctlCalls().filter((call) => call.includes("="));
}

describe("gateway checks through check", () => {
  test("a gateway going down demotes with services: gateway:WAN_GW, and its recovery promotes", async () => {
    const gateways = setUp(["WAN_GW none", "WAN2_DHCP none"]);
    const up = await check();
    expect(up.exitCode).toBe(0);
    expect(up.stdout).toMatch(
      /\ngateway:WAN_GW\s+pass\s+-\s+\d+ ms\s+none \(Online\), loss 0\.0 %, delay 12\.1 ms, stddev 0\.4 ms, monitor 192\.0\.2\.1\n/,
    );
    expect(sandbox.demotion()).toBe(0);

    gateways.setGateways(["WAN_GW down", "WAN2_DHCP none"]);
    const down = await check("--json");
    expect(down.exitCode).toBe(1);
    const evaluation = JSON.parse(down.stdout);
    expect(evaluation).toMatchObject({ action: "demoted", failed: ["gateway:WAN_GW"], demotionAfter: BIT });
    expect(evaluation.services.map((s: { name: string; status: string }) => `${s.name} ${s.status}`)).toEqual([
      "gateway:WAN_GW fail",
      "unbound pass",
    ]);
    expect(evaluation.services[0]).toMatchObject({
      reason: "in failOn",
      output: "down (Offline), loss 100.0 %, delay 0.0 ms, stddev 0.0 ms, monitor 192.0.2.1",
      exitCode: null,
    });
    expect(sandbox.syslog()).toEqual([DEMOTED]);

    gateways.setGateways(["WAN_GW none", "WAN2_DHCP none"]);
    const back = await check();
    expect(back.exitCode).toBe(0);
    expect(back.stdout).toContain("demotion 1048576 -> 0: promoted");
    expect(sandbox.syslog()).toEqual([DEMOTED, PROMOTED]);
    // One read of the gateway status per evaluation.
    expect(gateways.runs()).toBe(3);
  });

  test("a gateway marked down by hand (force_down) fails by default; latency and loss alone do not", async () => {
    const gateways = setUp(["WAN_GW force_down"]);
    expect((await check()).exitCode).toBe(1);
    for (const status of ["loss", "delay", "delay+loss"]) {
      gateways.setGateways([`WAN_GW ${status}`]);
      const { exitCode, stdout } = await check();
      expect({ status, exitCode }).toEqual({ status, exitCode: 0 });
      expect(stdout).toMatch(new RegExp(`gateway:WAN_GW\\s+pass\\s.*${status.replace("+", "\\+")} \\(`));
    }
    expect(sandbox.syslog()).toEqual([DEMOTED, PROMOTED]);
  });

  test("failOn with loss: packet loss fails WAN2_GW, and WAN_GW on the default failOn stays up", async () => {
    const gateways = setUp(["WAN_GW loss", "WAN2_GW loss"], {
      WAN_GW: [],
      WAN2_GW: ['failOn = ["down", "force_down", "loss", "delay+loss"]'],
    });
    const { exitCode, stdout } = await check();
    expect(exitCode).toBe(1);
    expect(stdout).toMatch(/gateway:WAN2_GW\s+fail\s+-\s+\d+ ms\s+in failOn: loss \(Packetloss\), loss 24\.0 %/);
    expect(stdout).toMatch(/gateway:WAN_GW\s+pass\s/);
    expect(sandbox.syslog()).toEqual([
      "carp daemon.warning: carp demoted by 1048576 due to service disruption (services: gateway:WAN2_GW)",
    ]);
    gateways.setGateways(["WAN_GW none", "WAN2_GW delay+loss"]);
    expect((await check()).exitCode).toBe(1);
    gateways.setGateways(["WAN_GW none", "WAN2_GW delay"]);
    expect((await check()).exitCode).toBe(0);
    expect(sandbox.demotion()).toBe(0);
  });

  test("a listed gateway missing from the status fails closed, naming the gateways there are", async () => {
    setUp(["WAN_DHCP none", "LAN_GW none"], { WAN_DHCP6: [] });
    const { exitCode, stdout } = await check("--json");
    expect(exitCode).toBe(1);
    const [gateway] = JSON.parse(stdout).services;
    expect(gateway).toMatchObject({
      name: "gateway:WAN_DHCP6",
      status: "fail",
      reason:
        'no gateway "WAN_DHCP6" in the gateway status; did you mean "WAN_DHCP"? (it lists LAN_GW, WAN_DHCP); fix: name a gateway of System > Gateways in [gateways."WAN_DHCP6"]',
    });
    expect(sandbox.demotion()).toBe(BIT);
  });

  test("no gateways at all ([] from PHP) fails every listed one", async () => {
    setUp([]);
    expect((await check()).exitCode).toBe(1);
    expect(sandbox.syslog()).toEqual([DEMOTED]);
  });

  const broken: Array<[string, (fixture: GatewayFixture) => void, string]> = [
    [
      "output that is not JSON",
      (f) => f.setSwitch("out", "<br />\n<b>Warning</b>: Undefined array key\n"),
      "did not print the gateway status: it did not print JSON (JSON Parse error: Unrecognized token '<'): \"<br />\\n<b>Warning</b>: Undefined array key\"",
    ],
    ["JSON of another shape", (f) => f.setSwitch("out", '{"WAN_GW": "down"}\n'), 'its entry for "WAN_GW" is not an object'],
    [
      "a non-zero exit",
      (f) => f.setSwitch("exit", "255"),
      "exited with status 255: PHP Fatal error:  Uncaught Error: Call to undefined function dpinger_status()",
    ],
    ["a hang", (f) => f.setSwitch("hang", ""), "did not finish within 500 ms (gatewayStatusTimeoutMs); it and all it started were killed"],
  ];
  for (const [what, breakIt, message] of broken) {
    for (const start of [0, BIT + 240]) {
      test(`${what} is a system error (exit 3) that leaves the demotion at ${start} while every hook passes`, async () => {
        const gateways = setUp(["WAN_GW none"], { WAN_GW: [] }, { gatewayStatusTimeoutMs: 500 });
        sandbox.setDemotion(start);
        breakIt(gateways);
        const started = performance.now();
        const { exitCode, stdout, stderr } = await check();
        expect(exitCode).toBe(3);
        expect(stdout).toMatch(/\ngateway:WAN_GW\s+skipped\s+-\s+-\s+not judged: the gateway status could not be read/);
        expect(stdout).toContain(
          `ERROR: The gateway status could not be read, so gateway:WAN_GW keeps its counted state and nothing is promoted: The gateway status command "${gateways.command}" `,
        );
        expect(stdout).toContain(message);
        expect(stderr).toContain('"kind":"gateways","msg":"The gateway status could not be read');
        if (start & BIT) expect(stdout).toContain("(2^20: kept; every check judged passes, but the gateway status could not be read)");
        // Neither promoted (every hook passes) nor demoted: nothing written, nothing logged.
        expect(sandbox.demotion()).toBe(start);
        expect(writes()).toEqual([]);
        expect(sandbox.syslog()).toEqual([]);
        expect(performance.now() - started).toBeLessThan(10_000);
      });
    }
  }

  test("a failed read does not stop a failing hook beside it: it demotes, and the run still exits 3", async () => {
    const gateways = setUp(["WAN_GW none"]);
    sandbox.addHook("frr_ospf", { fixture: "fail" });
    gateways.setSwitch("exit", "1");
    const { exitCode, stdout } = await check("--json");
    expect(exitCode).toBe(3);
    const evaluation = JSON.parse(stdout);
    expect(evaluation).toMatchObject({ action: "demoted", failed: ["frr_ospf"], demotionAfter: BIT });
    expect(evaluation.errors).toEqual([
      {
        kind: "gateways",
        message: expect.stringContaining(`The gateway status command "${gateways.command}" exited with status 1`),
      },
    ]);
    expect(sandbox.demotion()).toBe(BIT);
    expect(sandbox.syslog()).toEqual(["carp daemon.warning: carp demoted by 1048576 due to service disruption (services: frr_ospf)"]);
  });

  test("a gateway that demoted keeps counting as failed while its status cannot be read: no promotion on an incomplete picture", async () => {
    const gateways = setUp(["WAN_GW down"], { WAN_GW: ["rise = 2"] });
    expect((await check()).exitCode).toBe(1);
    expect(sandbox.demotion()).toBe(BIT);

    // The gateway recovers, but the status cannot be read: every hook passes, the bit stays.
    gateways.setGateways(["WAN_GW none"]);
    gateways.setSwitch("out", "<br />\n");
    const unread = await check();
    expect(unread.exitCode).toBe(3);
    expect(unread.stdout).toMatch(/\ngateway:WAN_GW\s+skipped, counts as fail\s+-\s+-\s+not judged/);
    expect(unread.stdout).toContain("demotion 1048576: no change (demoted by this tool)");
    expect(sandbox.demotion()).toBe(BIT);

    // Its flap counters did not move: the first good read is the first of its rise of 2.
    gateways.setSwitch("out", null);
    const first = await check();
    expect(first.stdout).toMatch(/gateway:WAN_GW\s+pass, counts as fail \(passing 1 of 2\)\s/);
    expect(sandbox.demotion()).toBe(BIT);
    expect((await check()).stdout).toContain("demotion 1048576 -> 0: promoted");
    expect(sandbox.syslog()).toEqual([DEMOTED, PROMOTED]);
  });

  test("all hooks passing and a broken status while demoted by a hook's earlier failure: stays demoted, exit 3, the promotion withheld", async () => {
    const gateways = setUp(["WAN_GW none"]);
    sandbox.addHook("frr_ospf", { fixture: "fail" });
    expect((await check()).exitCode).toBe(1);
    expect(sandbox.demotion()).toBe(BIT);

    sandbox.addHook("frr_ospf", { fixture: "pass" });
    gateways.setSwitch("hang", "");
    writeGatewayConfig(sandbox, gateways, { WAN_GW: [] }, { gatewayStatusTimeoutMs: 300 });
    const { exitCode, stdout } = await check("--json");
    expect(exitCode).toBe(3);
    const evaluation = JSON.parse(stdout);
    expect(evaluation).toMatchObject({
      action: "none",
      decision: "none",
      failed: [],
      demoted: true,
      demotionAfter: BIT,
      promotionWithheldBy: "gateways",
    });
    expect(evaluation.promotionWithheld).toStartWith(
      "The 2^20 bit stays set although every check passes that could be judged: the gateway status could not be read, so gateway:WAN_GW",
    );
    expect(evaluation.errors.map((e: { kind: string }) => e.kind)).toEqual(["gateways"]);
    expect(sandbox.demotion()).toBe(BIT);
    // The one write is the first run's demotion.
    expect(writes()).toHaveLength(1);
  });

  test("the hang's own children are ended with it", async () => {
    const gateways = setUp(["WAN_GW none"], { WAN_GW: [] }, { gatewayStatusTimeoutMs: 300 });
    gateways.setSwitch("hang", "");
    expect((await check()).exitCode).toBe(3);
    const left = Bun.spawnSync(["pgrep", "-f", "-a", "sleep 3600"]).stdout.toString();
    // Other tests' sleeps are not ours to judge: only one started by this sandbox's fixture would be, and it is gone.
    expect(left.split("\n").filter((line) => line.includes(sandbox.dir))).toEqual([]);
  });

  test("flap control on a gateway: its own fall and rise", async () => {
    const gateways = setUp(["WAN_GW none"], { WAN_GW: ["fall = 2", "rise = 2"] }, { fall: 5, rise: 5 });
    expect((await check()).exitCode).toBe(0);
    gateways.setGateways(["WAN_GW down"]);
    const once = await check();
    expect(once.stdout).toMatch(/gateway:WAN_GW\s+fail, counts as pass \(failing 1 of 2\)\s/);
    expect(sandbox.demotion()).toBe(0);
    expect((await check()).stdout).toContain("demotion 0 -> 1048576: demoted");
    gateways.setGateways(["WAN_GW none"]);
    const recovering = await check();
    expect(recovering.stdout).toMatch(/gateway:WAN_GW\s+pass, counts as fail \(passing 1 of 2\)\s/);
    expect(recovering.exitCode).toBe(1);
    expect(sandbox.demotion()).toBe(BIT);
    expect((await check()).stdout).toContain("demotion 1048576 -> 0: promoted");
    expect(sandbox.syslog()).toEqual([DEMOTED, PROMOTED]);
  });

  test("the command does not run while no gateway is listed, nor when every listed one is disabled (listed as skipped)", async () => {
    const gateways = setUp(["WAN_GW down"], {});
    expect((await check()).exitCode).toBe(0);
    expect(gateways.runs()).toBe(0);

    writeGatewayConfig(sandbox, gateways, { WAN_GW: ["enabled = false"] });
    const { exitCode, stdout } = await check();
    expect(exitCode).toBe(0);
    expect(gateways.runs()).toBe(0);
    expect(stdout).toContain('gateway:WAN_GW  skipped  -     -     disabled in the config ([gateways."WAN_GW"] enabled = false)');
  });

  test("a hook file named gateway:WAN_GW fails as ./gateway:WAN_GW, and the gateway's check keeps its name", async () => {
    setUp(["WAN_GW none"]);
    sandbox.addHook("gateway:WAN_GW", { fixture: "pass" });
    const { exitCode, stdout } = await check("--json");
    expect(exitCode).toBe(1);
    const services = JSON.parse(stdout).services as Array<{ name: string; status: string; reason: string | null }>;
    expect(services.map((s) => `${s.name} ${s.status}`)).toEqual(["./gateway:WAN_GW fail", "gateway:WAN_GW pass", "unbound pass"]);
    expect(services[0]!.reason).toBe(
      `its name is reserved: "gateway:NAME" is the check of the gateway NAME ([gateways."NAME"]); rename it: mv -- '${sandbox.hooksDir}/gateway:WAN_GW' '${sandbox.hooksDir}/gateway_WAN_GW'`,
    );
    expect(sandbox.syslog()).toEqual([
      "carp daemon.warning: carp demoted by 1048576 due to service disruption (services: ./gateway:WAN_GW)",
    ]);
  });

  test("as root, a command anyone could change is refused like a hook: a system error naming the fix", async () => {
    const gateways = setUp(["WAN_GW none"]);
    const open = join(sandbox.dir, "open");
    mkdirSync(open);
    chmodSync(open, 0o777);
    const command = join(open, "gateway-status");
    writeFileSync(command, `#!/bin/sh\nexec ${JSON.stringify(gateways.command)}\n`);
    chmodSync(command, 0o755);
    writeGatewayConfig(sandbox, { ...gateways, command }, { WAN_GW: [] });
    const { exitCode, stdout } = await check();
    expect(exitCode).toBe(3);
    expect(stdout).toContain(
      `The gateway status command "${command}" is refused by script security: "${open}" is writable by others (mode 0777); fix: chmod o-w "${open}"`,
    );
    expect(gateways.runs()).toBe(0);
  });
});

/** Samples of one family as { "label values": value }. */
function samples(text: string, name: string): Record<string, number> {
  const family = parsePrometheusTextFormat(text).find((f) => f.name === `carp_service_status_${name}`);
  return Object.fromEntries((family?.metrics ?? []).map((m) => [Object.values(m.labels ?? {}).join(","), Number(m.value)]));
}

describe("gateway checks in the daemon", () => {
  test("status, metrics, notify and the log carry gateway:WAN_GW like a hook; a failed read counts as kind gateways", async () => {
    const gateways = setUp(["WAN_GW none"], { WAN_GW: [] });
    const notifyDir = join(sandbox.dir, "notify.d");
    mkdirSync(notifyDir, { mode: 0o755 });
    const record = join(sandbox.dir, "record");
    writeFileSync(join(notifyDir, "record"), `#!/bin/sh\necho "$*" >> ${JSON.stringify(record)}\n`);
    chmodSync(join(notifyDir, "record"), 0o755);
    writeGatewayConfig(sandbox, gateways, { WAN_GW: [] }, { schedule: false, logLevel: "info", notifyDir, gatewayStatusTimeoutMs: 500 });
    daemon = await spawnDaemon(sandbox);
    await waitFor(async () => (await daemon!.call("status")).counters.evaluations === 1, "the first evaluation");

    const status = await daemon.call("status");
    expect(status.services.map((s: { name: string; status: string }) => `${s.name} ${s.status}`)).toEqual([
      "gateway:WAN_GW pass",
      "unbound pass",
    ]);

    gateways.setGateways(["WAN_GW down"]);
    const demoted = await daemon.call("evaluate");
    expect(demoted).toMatchObject({ action: "demoted", failed: ["gateway:WAN_GW"] });
    expect(sandbox.demotion()).toBe(BIT);
    await daemon.waitForLog((line) => String(line.msg).startsWith("demoted this node: gateway:WAN_GW (in failOn: down (Offline)"));

    const metrics = await (await fetch("http://localhost/metrics", { unix: sandbox.config.socket as string })).text();
    expect(samples(metrics, "hook_up")).toEqual({ "gateway:WAN_GW": 0, unbound: 1 });
    expect(samples(metrics, "hook_counted_up")).toEqual({ "gateway:WAN_GW": 0, unbound: 1 });

    // A read that fails: the evaluation goes on (the bit stays), and the error is counted by its kind.
    gateways.setSwitch("hang", "");
    const failed = await daemon.call("evaluate");
    expect(failed).toMatchObject({ action: "none", demoted: true, errors: [{ kind: "gateways" }] });
    expect(failed.errors[0].message).toContain("did not finish within 500 ms (gatewayStatusTimeoutMs)");
    expect(sandbox.demotion()).toBe(BIT);
    const after = await (await fetch("http://localhost/metrics", { unix: sandbox.config.socket as string })).text();
    expect(samples(after, "evaluation_errors_total")).toMatchObject({ gateways: 1, other: 0 });
    expect((await daemon.call("status")).lastError.message).toContain("The gateway status could not be read");
    await daemon.waitForLog((line) => line.kind === "gateways" && String(line.msg).startsWith("The gateway status could not be read"));
    const viaTrigger = await runCli(["trigger", "--config", sandbox.configFile]);
    expect(viaTrigger.exitCode).toBe(3);
    expect(viaTrigger.stdout).toContain("ERROR: The gateway status could not be read");

    gateways.setSwitch("hang", null);
    gateways.setGateways(["WAN_GW none"]);
    expect((await daemon.call("evaluate")).action).toBe("promoted");
    await waitFor(() => existsSync(record) && readFileSync(record, "utf8").split("\n").length >= 5, "every notify event");
    expect(readFileSync(record, "utf8").trim().split("\n")).toEqual([
      "hook gateway:WAN_GW fail",
      "demoted",
      "hook gateway:WAN_GW pass",
      "promoted",
    ]);
    expect(sandbox.syslog()).toEqual([DEMOTED, PROMOTED]);
  });
});

describe("the gateway alarm hook", () => {
  /** The monitor hook as install writes it, pointed at the sandbox: its socket, and this CLI with its config. */
  function monitorHook(): string {
    const binary = join(sandbox.dir, "carp-service-status");
    writeFileSync(
      binary,
      `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} "$@" --config ${JSON.stringify(sandbox.configFile)}\n`,
    );
    chmodSync(binary, 0o755);
    const paths = { ...NODE_PATHS, binary, socket: sandbox.config.socket as string, syshookMark: join(sandbox.dir, "syshook") };
    const hook = join(sandbox.dir, "50-carp-service-status");
    writeFileSync(hook, renderMonitorHook(paths));
    chmodSync(hook, 0o755);
    return hook;
  }

  /** Runs it as rc.syshook monitor does (SCRIPT GW,...), which must return at once and say nothing. */
  async function alarm(hook: string) {
    const proc = Bun.spawn([hook, "WAN_GW"], { stdout: "pipe", stderr: "pipe" });
    const [stdout, stderr, exitCode] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    expect({ stdout, stderr, exitCode }).toEqual({ stdout: "", stderr: "", exitCode: 0 });
  }

  test("an alarm has the running daemon read the gateways now: the gateway down demotes without waiting for the schedule", async () => {
    const gateways = setUp(["WAN_GW none"], { WAN_GW: [] });
    writeGatewayConfig(sandbox, gateways, { WAN_GW: [] }, { schedule: false });
    daemon = await spawnDaemon(sandbox);
    await waitFor(async () => (await daemon!.call("status")).counters.evaluations === 1, "the first evaluation");
    const hook = monitorHook();
    gateways.setGateways(["WAN_GW down"]);
    await alarm(hook);
    // The syslog line comes last, after the write and its read-back.
    await waitFor(() => sandbox.syslog().length > 0, "the demotion");
    expect(sandbox.syslog()).toEqual([DEMOTED]);
    expect(sandbox.demotion()).toBe(BIT);
    expect((await daemon.call("status")).counters.triggers).toBe(1);
  });

  test("with no daemon, the alarm evaluates here, in the background", async () => {
    const gateways = setUp(["WAN_GW down"], { WAN_GW: [] });
    const hook = monitorHook();
    await alarm(hook);
    await waitFor(() => sandbox.syslog().length >= 2, "the evaluation here", 15_000);
    await waitFor(() => !existsSync(join(sandbox.dir, "syshook.busy")), "the evaluation to end");
    expect(sandbox.demotion()).toBe(BIT);
    // configd evaluate logs to syslog: the stock line, then our own saying why.
    expect(sandbox.syslog()[0]).toBe(DEMOTED);
    expect(sandbox.syslog()[1]).toContain('"msg":"demoted this node: gateway:WAN_GW (in failOn: down (Offline)');
    expect(gateways.runs()).toBe(1);
  });
});
