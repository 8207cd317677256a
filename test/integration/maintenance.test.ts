/**
 * The maintenance switch with real processes: the CLI with and without a daemon, the socket route,
 * a daemon restart, the bit cleared from outside (as leaving OPNsense's CARP maintenance mode does),
 * off with and without a hold-down, and what status, metrics, notify scripts and the log say.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Config } from "../../src/config/config.ts";
import { type ErrorReply, type MaintenanceReply, PROTOCOL_HEADER, PROTOCOL_VERSION } from "../../src/protocol/wire.ts";
import { type DaemonProcess, makeSandbox, runCli, type Sandbox, spawnDaemon, waitFor } from "../helpers.ts";

const BIT = 1048576;
let sandbox: Sandbox;
const daemons: DaemonProcess[] = [];
afterEach(async () => {
  for (const daemon of daemons.splice(0)) await daemon.stop();
  sandbox.cleanup();
});

/** A sandbox whose only check passes, logging at info, with a notify script recording each event. */
function setUp(extra: Partial<Config> = {}) {
  const notifyDir = join(makeSandboxDir(extra), "notify.d");
  mkdirSync(notifyDir, { mode: 0o755 });
  const record = join(sandbox.dir, "notified");
  const script = join(notifyDir, "record");
  writeFileSync(script, `#!/bin/sh\necho "$* reason=$CARP_MAINTENANCE_REASON" >> ${JSON.stringify(record)}\n`);
  chmodSync(script, 0o755);
  sandbox.writeConfig({ notifyDir, logLevel: "info", ...extra });
  sandbox.addHook("ospf", { fixture: "pass" });
  return { record, notified: () => (existsSync(record) ? readFileSync(record, "utf8").trim().split("\n") : []) };
}

function makeSandboxDir(extra: Partial<Config>): string {
  sandbox = makeSandbox(extra);
  return sandbox.dir;
}

const cli = (...args: string[]) => runCli([...args, "--config", sandbox.configFile]);

async function start(): Promise<DaemonProcess> {
  const daemon = await spawnDaemon(sandbox);
  daemons.push(daemon);
  // Its first evaluation done: a switch turned now is answered by an evaluation of its own.
  await waitFor(async () => (await daemon.call("status")).lastRun, "the daemon's first evaluation");
  return daemon;
}

describe("without a daemon", () => {
  test("on demotes whatever the checks say, off promotes; the switch is set under the lock, as trigger's fallback evaluates", async () => {
    setUp();
    const on = await cli("maintenance", "on", "--reason", "upgrading FRR");
    expect(on.exitCode).toBe(0);
    expect(on.stderr).toContain("switching maintenance here");
    expect(on.stdout).toContain("demotion 0 -> 1048576: demoted");
    expect(on.stdout).toContain("maintenance on since ");
    expect(sandbox.demotion()).toBe(BIT);
    expect(sandbox.syslog()).toEqual([
      "carp daemon.warning: carp demoted by 1048576 due to carp-service-status maintenance (upgrading FRR)",
    ]);

    const status = await cli("maintenance", "status", "--json");
    expect(JSON.parse(status.stdout)).toMatchObject({ maintenance: { reason: "upgrading FRR" }, problem: null });

    // A check passes, and the node stays demoted.
    const check = await cli("check");
    expect(check.exitCode).toBe(0);
    expect(check.stdout).toContain("demotion 1048576: no change (demoted by this tool)");
    expect(sandbox.demotion()).toBe(BIT);

    const off = await cli("maintenance", "off");
    expect(off.exitCode).toBe(0);
    expect(off.stdout).toContain("demotion 1048576 -> 0: promoted");
    expect(off.stdout).toContain("maintenance off: the checks decide again");
    expect(sandbox.demotion()).toBe(0);
    expect((await cli("maintenance", "status")).stdout.trim()).toBe("maintenance off: the checks decide");
  });

  test("the bit cleared from outside (leaving CARP maintenance mode): the next evaluation sets it again, saying why", async () => {
    setUp();
    await cli("maintenance", "on");
    sandbox.setDemotion(240);
    const trigger = await cli("trigger");
    expect(trigger.stdout).toContain("demotion 240 -> 1048816: demoted");
    expect(trigger.stdout).toContain(
      "warning: The 2^20 bit was taken off outside this tool while carp-service-status maintenance is on (leaving CARP maintenance mode does that); setting it again",
    );
    expect(sandbox.demotion()).toBe(BIT + 240);
  });

  test("--reason goes with on only, and a reason too long is refused before anything changes", async () => {
    setUp();
    expect((await cli("maintenance", "off", "--reason", "x")).exitCode).toBe(2);
    const long = await cli("maintenance", "on", "--reason", "x".repeat(201));
    expect(long.exitCode).toBe(2);
    expect(long.stderr).toContain("The reason is longer than 200 characters");
    expect(sandbox.demotion()).toBe(0);
  });
});

describe("with a daemon", () => {
  test("on through the socket: demoted at once; status, metrics, notify and one log line say so; a restart keeps it", async () => {
    const { notified } = setUp();
    const daemon = await start();
    const on = await cli("maintenance", "on", "--reason", "upgrading FRR");
    expect(on.stderr).toBe("");
    expect(on.exitCode).toBe(0);
    expect(on.stdout).toContain("demotion 0 -> 1048576: demoted");
    expect(sandbox.demotion()).toBe(BIT);

    const lines = daemon.logs().filter((line) => String(line.msg).startsWith("maintenance on"));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 40, maintenance: "on", reason: "upgrading FRR" });
    const status = await daemon.call("status");
    expect(status.maintenance).toMatchObject({ reason: "upgrading FRR" });
    expect((await cli("status")).stdout).toContain("maintenance on since ");
    const metrics = await (await fetch("http://localhost/metrics", { unix: sandbox.config.socket as string })).text();
    expect(metrics).toContain("\ncarp_service_status_maintenance 1\n");
    await waitFor(() => notified().length >= 2, "the notify script");
    expect(notified()).toEqual(["maintenance on reason=upgrading FRR", "demoted reason="]);

    // A restart: the switch is on in its file, the new daemon keeps the node demoted and says so once.
    expect(await daemon.stop()).toBe(0);
    daemons.splice(0);
    const again = await start();
    await again.waitForLog((line) => String(line.msg).startsWith("maintenance on since"));
    expect(sandbox.demotion()).toBe(BIT);
    expect((await again.call("status")).maintenance).toMatchObject({ reason: "upgrading FRR" });
    await waitFor(() => notified().length >= 3, "the notify script after the restart");
    expect(notified()[2]).toBe("maintenance on reason=upgrading FRR");

    // Off: promoted at once (no hold-down), and said.
    const off = await cli("maintenance", "off");
    expect(off.stdout).toContain("demotion 1048576 -> 0: promoted");
    expect(sandbox.demotion()).toBe(0);
    await again.waitForLog((line) => String(line.msg).startsWith("maintenance off"));
    const after = await (await fetch("http://localhost/metrics", { unix: sandbox.config.socket as string })).text();
    expect(after).toContain("\ncarp_service_status_maintenance 0\n");
    await waitFor(() => notified().length >= 5, "the notify script after off");
    expect(notified().slice(3)).toEqual(["maintenance off reason=", "promoted reason="]);
  });

  test("the bit cleared from outside while it is on: the daemon's next run (here, the CARP hook's trigger) puts it back", async () => {
    // No schedule: a scheduled run between the reset and the trigger would put the bit back first.
    setUp({ schedule: false });
    const daemon = await start();
    await cli("maintenance", "on");
    sandbox.setDemotion(0);
    const trigger = await cli("trigger");
    expect(trigger.stdout).toContain("demotion 0 -> 1048576: demoted");
    expect(sandbox.demotion()).toBe(BIT);
    expect(
      daemon
        .logs()
        .some((line) =>
          String(line.msg).startsWith("The 2^20 bit was taken off outside this tool while carp-service-status maintenance is on"),
        ),
    ).toBe(true);
  });

  test("off with a hold-down: the whole hold-down runs from then, and the daemon promotes when it ends", async () => {
    setUp({ promoteDelayMs: 1500 });
    const daemon = await start();
    await cli("maintenance", "on");
    const off = await cli("maintenance", "off");
    expect(off.stdout).toContain("promotion held: 2 s left");
    expect(sandbox.demotion()).toBe(BIT);
    await daemon.waitForLog((line) => String(line.msg).startsWith("promoted this node"), 10_000);
    expect(sandbox.demotion()).toBe(0);
  });

  test("the socket route takes a JSON body, answers with the switch and the evaluation, and refuses a bad body", async () => {
    setUp();
    await start();
    const socket = sandbox.config.socket as string;
    const response = await fetch("http://localhost/maintenance", {
      method: "POST",
      unix: socket,
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ on: true, reason: "from curl" }),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get(PROTOCOL_HEADER)).toBe(PROTOCOL_VERSION);
    const reply = (await response.json()) as MaintenanceReply;
    expect(reply.maintenance).toMatchObject({ reason: "from curl" });
    expect(reply.evaluation).toMatchObject({ action: "demoted", failed: [], maintenance: { reason: "from curl" } });
    const bad = await fetch("http://localhost/maintenance", { method: "POST", unix: socket, body: '{"on": "yes"}' });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as ErrorReply).error.message).toBe('"on" is true or false');
    expect(sandbox.demotion()).toBe(BIT);
  });
});
