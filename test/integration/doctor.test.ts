/**
 * doctor against fixtures: a sandbox (fake FreeBSD sysctl and logger, hooks) for the config, and
 * a scratch root holding what install writes, as on a node.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { appendFileSync, chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { checkSocket } from "../../src/doctor/daemon-checks.ts";
import { runDoctor } from "../../src/doctor/doctor.ts";
import type { Finding } from "../../src/doctor/finding.ts";
import { CONFIGD_PIDFILE, checkConfigdActions, checkMonitorHook, checkStockScript, checkSyshook } from "../../src/doctor/install-checks.ts";
import { checkLockFile } from "../../src/doctor/system-checks.ts";
import { LAYOUT } from "../../src/install/layout.ts";
import { pluginTree } from "../../src/install/plugin-files.ts";
import { renderConfigdActions, renderMonitorHook, renderShim, renderSyshook } from "../../src/install/templates.ts";
import { renderUpdateHook } from "../../src/install/update-hook.ts";
import { type DaemonProcess, holdLock, makeSandbox, runCli, type Sandbox, setFakeSwitch, spawnDaemon } from "../helpers.ts";

const AS_ROOT = process.getuid?.() === 0;
let sandbox: Sandbox;
let daemon: DaemonProcess | null = null;
const dirs: string[] = [];

afterEach(async () => {
  if (daemon && daemon.proc.exitCode === null) await daemon.stop();
  daemon = null;
  sandbox?.cleanup();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function put(root: string, path: string, text: string, mode = 0o644): string {
  const file = join(root, path);
  mkdirSync(dirname(file), { recursive: true, mode: 0o755 });
  writeFileSync(file, text);
  chmodSync(file, mode);
  return file;
}

/** A scratch root with everything install writes in place, and configd started after it. */
function installedRoot(): string {
  const root = mkdtempSync(join(tmpdir(), "carp-doctor-root-"));
  dirs.push(root);
  put(root, LAYOUT.stockScript, renderShim(), 0o755);
  put(root, LAYOUT.updateHook, renderUpdateHook(), 0o755);
  const actions = put(root, LAYOUT.configdActions, renderConfigdActions());
  put(root, LAYOUT.syshook, renderSyshook(), 0o755);
  put(root, LAYOUT.monitorHook, renderMonitorHook(), 0o755);
  const plugin = pluginTree().files.map((file) => put(root, file.path, file.text, file.mode));
  put(root, CONFIGD_PIDFILE, "123\n");
  const earlier = new Date(Date.now() - 60_000);
  for (const file of [actions, ...plugin]) utimesSync(file, earlier, earlier);
  return root;
}

/** A healthy node: one passing hook, preempt on. */
function healthy(): Sandbox {
  sandbox = makeSandbox();
  sandbox.addHook("svc", { fixture: "pass" });
  setFakeSwitch(sandbox, "oid.net.inet.carp.preempt", "1\n");
  return sandbox;
}

function byCheck(findings: Finding[]): Record<string, Finding["status"]> {
  return Object.fromEntries(findings.map((f) => [f.check, f.status]));
}

test("a node ready to run: every check passes, in the order of the table, and doctor exits 0", async () => {
  healthy();
  daemon = await spawnDaemon(sandbox);
  const root = installedRoot();
  const findings = await runDoctor({ root, configFile: sandbox.configFile });
  expect(findings.map((f) => [f.check, f.status])).toEqual([
    ["config", "ok"],
    ["sysctl", "ok"],
    ["lock file", "ok"],
    ["hooks", "ok"],
    ["preempt", "ok"],
    ["stock script", "ok"],
    ["configd actions", "ok"],
    ["CARP event hook", "ok"],
    ["monitor hook", "ok"],
    ["GUI plugin", "ok"],
    ["daemon", "ok"],
    ["socket", "ok"],
    ["demotion", "ok"],
    ["dry run", "ok"],
  ]);
  const cli = await runCli(["doctor", "--root", root, "--config", sandbox.configFile]);
  expect(cli.exitCode).toBe(0);
  expect(cli.stdout).toEndWith("\nAll 14 checks passed\n");
  const json = await runCli(["doctor", "--root", root, "--config", sandbox.configFile, "--json"]);
  expect(JSON.parse(json.stdout)).toMatchObject({ result: "ok", findings: expect.any(Array) });
});

test.skipIf(!AS_ROOT)(
  "a hook group-writable by another group: refused, the exact chmod, and the dry run would DEMOTE; exit 2",
  async () => {
    healthy();
    const hook = sandbox.addHook("frr", { fixture: "pass" }, 0o775);
    chownSync(hook, 0, 5);
    const findings = await runDoctor({ root: installedRoot(), configFile: sandbox.configFile });
    const hooks = findings.find((f) => f.check === "hooks")!;
    expect(hooks).toEqual({
      check: "hooks",
      status: "problem",
      detail: `frr: refused by script security: "${hook}" is group-writable with group 5 (mode 0775); fix: chmod g-w "${hook}"`,
      fix: `chmod g-w "${hook}"`,
    });
    expect(findings.find((f) => f.check === "dry run")!.detail).toStartWith(
      "starting now would DEMOTE this node because: frr (refused by script security",
    );
    const cli = await runCli(["doctor", "--root", installedRoot(), "--config", sandbox.configFile]);
    expect(cli.exitCode).toBe(2);
    expect(cli.stdout).toContain(`fix: chmod g-w "${hook}"`);
  },
);

test("preempt off: a loud warning that demotion moves nothing; exit 1", async () => {
  healthy();
  setFakeSwitch(sandbox, "oid.net.inet.carp.preempt", "0\n");
  daemon = await spawnDaemon(sandbox);
  const root = installedRoot();
  const findings = await runDoctor({ root, configFile: sandbox.configFile });
  expect(findings.find((f) => f.check === "preempt")!.detail).toContain("demotion will not move mastership");
  expect((await runCli(["doctor", "--root", root, "--config", sandbox.configFile])).exitCode).toBe(1);
});

test("an invalid config: a problem, and every check that needs it skipped", async () => {
  healthy();
  writeFileSync(sandbox.configFile, "concurrency = 0\n");
  const findings = await runDoctor({ root: installedRoot(), configFile: sandbox.configFile });
  expect(byCheck(findings)).toMatchObject({
    config: "problem",
    sysctl: "skipped",
    hooks: "skipped",
    "stock script": "ok",
    daemon: "skipped",
    "dry run": "skipped",
  });
  expect(findings[0]!.detail).toContain("concurrency");
});

test("carp(4) not loaded: the oid is a problem, the demotion cannot be decoded, the dry run cannot evaluate", async () => {
  healthy();
  setFakeSwitch(sandbox, "sysctl.no-carp");
  const findings = await runDoctor({ root: installedRoot(), configFile: sandbox.configFile });
  expect(byCheck(findings)).toMatchObject({ sysctl: "problem", demotion: "skipped", "dry run": "problem" });
  expect(findings.find((f) => f.check === "sysctl")!.detail).toContain("unknown oid 'net.inet.carp.demotion'");
});

test("our bit set while the hooks pass: decoded, and the dry run would promote", async () => {
  healthy();
  sandbox.setDemotion(1048576 + 240);
  const findings = await runDoctor({ root: installedRoot(), configFile: sandbox.configFile });
  expect(findings.find((f) => f.check === "demotion")!.detail).toBe(
    "1048816: our bit (2^20: a service check failed) + 240 = 1 x 240 from the kernel (a CARP interface down, send errors, pfsync bulk update or maintenance mode)",
  );
  expect(findings.find((f) => f.check === "dry run")).toMatchObject({ status: "info" });
  expect(sandbox.demotion()).toBe(1048576 + 240);
});

describe("config slips, the simulation, no checks", () => {
  test('a [hooks."X"] naming no hook and a duration in milliseconds: config warnings with the nearest name; exit 1', async () => {
    healthy();
    sandbox.addHook("frr_ospf", { fixture: "pass" });
    appendFileSync(sandbox.configFile, 'promoteDelayMs = 30\n[hooks."frr-ospf"]\ntimeoutMs = 3000\n');
    const root = installedRoot();
    const findings = await runDoctor({ root, configFile: sandbox.configFile });
    expect(findings.filter((f) => f.check === "config")).toEqual([
      { check: "config", status: "ok", detail: `"${sandbox.configFile}" is valid`, fix: null },
      {
        check: "config",
        status: "warn",
        detail: "promoteDelayMs = 30 is in milliseconds (0.03 s)",
        fix: "for 30 s write promoteDelayMs = 30000",
      },
      {
        check: "config",
        status: "warn",
        detail: `[hooks."frr-ospf"] names no file in "${sandbox.hooksDir}"; did you mean "frr_ospf"?`,
        fix: null,
      },
    ]);
    const cli = await runCli(["doctor", "--root", root, "--config", sandbox.configFile]);
    expect(cli.exitCode).toBe(1);
    expect(cli.stdout).toContain(`names no file in "${sandbox.hooksDir}"; did you mean "frr_ospf"?`);
  });

  test("sysctl and preempt from the simulation say so", async () => {
    healthy();
    const simulationFile = join(sandbox.dir, "simulated-demotion");
    sandbox.writeConfig({ sysctl: "simulated", simulationFile });
    const findings = await runDoctor({ root: installedRoot(), configFile: sandbox.configFile });
    expect(findings.find((f) => f.check === "sysctl")).toEqual({
      check: "sysctl",
      status: "info",
      detail: `net.inet.carp.demotion = 0, simulated in "${simulationFile}": not a kernel's value (no CARP on this machine)`,
      fix: null,
    });
    expect(findings.find((f) => f.check === "preempt")!.detail).toBe(
      "net.inet.carp.preempt = 1, simulated: not a kernel's value (no CARP on this machine)",
    );
  });

  test("no hooks, our bit set: no checks, nothing would demote this node (and the bit would come off)", async () => {
    sandbox = makeSandbox();
    sandbox.setDemotion(1048576);
    const cli = await runCli(["doctor", "--root", installedRoot(), "--config", sandbox.configFile]);
    expect(cli.exitCode).toBe(1);
    expect(cli.stdout).toMatch(
      new RegExp(`dry run +WARN +no checks: nothing would demote this node \\(no hook in "${sandbox.hooksDir}"\\); our 2\\^20 is set`),
    );
    expect(cli.stdout).not.toContain("starting now would PROMOTE");
    expect(sandbox.demotion()).toBe(1048576);
  });
});

describe("what install put on the node", () => {
  function scratchRoot(): string {
    const root = mkdtempSync(join(tmpdir(), "carp-doctor-root-"));
    dirs.push(root);
    return root;
  }

  test("the stock script: our shim, the stock script, or missing", () => {
    const root = scratchRoot();
    expect(checkStockScript(root).status).toBe("warn");
    put(root, LAYOUT.stockScript, "#!/usr/local/bin/php\n<?php\n", 0o755);
    expect(checkStockScript(root)).toMatchObject({ status: "info", fix: "carp-service-status install --replace-stock" });
    put(root, LAYOUT.stockScript, renderShim(), 0o755);
    expect(checkStockScript(root)).toMatchObject({ status: "warn", fix: "carp-service-status install --replace-stock" });
    expect(checkStockScript(root).detail).toContain("a firmware update puts the stock script back, and nothing would put the shim back");
    put(root, LAYOUT.updateHook, renderUpdateHook(), 0o755);
    expect(checkStockScript(root).status).toBe("ok");
  });

  test("the configd actions: missing, changed, newer than configd (restart it), loaded", () => {
    const root = scratchRoot();
    expect(checkConfigdActions(root)).toMatchObject({ status: "warn", fix: "carp-service-status install" });
    const actions = put(root, LAYOUT.configdActions, "[evaluate]\n");
    expect(checkConfigdActions(root).detail).toContain("differs from this version's");
    put(root, LAYOUT.configdActions, renderConfigdActions());
    expect(checkConfigdActions(root).status).toBe("info");
    const pidfile = put(root, CONFIGD_PIDFILE, "1\n");
    const earlier = new Date(Date.now() - 60_000);
    utimesSync(pidfile, earlier, earlier);
    expect(checkConfigdActions(root)).toMatchObject({ status: "warn", fix: "service configd restart" });
    utimesSync(actions, new Date(Date.now() - 120_000), new Date(Date.now() - 120_000));
    expect(checkConfigdActions(root).status).toBe("ok");
  });

  test("the CARP event hook: missing, changed, installed", () => {
    const root = scratchRoot();
    expect(checkSyshook(root).detail).toContain("waits for the next scheduled run");
    put(root, LAYOUT.syshook, "#!/bin/sh\n", 0o755);
    expect(checkSyshook(root).detail).toContain("differs from this version's");
    put(root, LAYOUT.syshook, renderSyshook(), 0o755);
    expect(checkSyshook(root).status).toBe("ok");
  });

  test("the monitor hook (gateway alarms): missing, changed, installed", () => {
    const root = scratchRoot();
    expect(checkMonitorHook(root)).toMatchObject({
      check: "monitor hook",
      status: "warn",
      detail: `"${join(root, LAYOUT.monitorHook)}" is missing: a gateway alarm waits for the next scheduled run to reach the gateway checks`,
      fix: "carp-service-status install",
    });
    put(root, LAYOUT.monitorHook, renderSyshook(), 0o755);
    expect(checkMonitorHook(root).detail).toContain("differs from this version's");
    put(root, LAYOUT.monitorHook, renderMonitorHook(), 0o755);
    expect(checkMonitorHook(root)).toMatchObject({
      status: "ok",
      detail: `"${join(root, LAYOUT.monitorHook)}" installed: gateway alarms trigger an evaluation`,
    });
  });
});

describe("lock file and socket", () => {
  test("a lock file held by another process: a warning after a second", async () => {
    healthy();
    const lockFile = sandbox.config.lockFile;
    // In a group of its own: the lock is held by sleep, flock's child, which must go too.
    const holder = await holdLock(lockFile, 5, { detached: true });
    try {
      expect(await checkLockFile(lockFile)).toMatchObject({ status: "warn" });
    } finally {
      process.kill(-holder.pid, "SIGKILL");
      await holder.exited;
    }
    expect(await checkLockFile(lockFile)).toMatchObject({ status: "ok" });
  });

  test("a socket left by a daemon that died, and a file that is not a socket", async () => {
    healthy();
    const socket = sandbox.config.socket as string;
    expect(await checkSocket(socket)).toMatchObject({ status: "warn", detail: `"${socket}" does not exist: no daemon listens` });
    const crashed = await spawnDaemon(sandbox);
    crashed.proc.kill("SIGKILL");
    await crashed.proc.exited;
    expect((await checkSocket(socket)).detail).toContain("is left from a daemon that is gone");
    rmSync(socket);
    writeFileSync(socket, "");
    expect(await checkSocket(socket)).toMatchObject({ status: "problem", fix: `rm "${socket}"` });
  });
});
