/** `carp-service-status check` as a real process against the fake FreeBSD sysctl and logger. */
import { afterEach, describe, expect, test } from "bun:test";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { holdLock, makeSandbox, runCli, type Sandbox, setFakeSwitch } from "../helpers.ts";

const BIT = 1048576;
let sandbox: Sandbox;
afterEach(() => sandbox.cleanup());

function check(...flags: string[]) {
  return runCli(["check", "--config", sandbox.configFile, ...flags]);
}

describe("check", () => {
  test("demotes when a service fails: exit 1, one syslog line, the table", async () => {
    sandbox = makeSandbox();
    sandbox.addHook("test_service", { fixture: "no-shebang-exit1" });
    sandbox.addHook("zz ok", { fixture: "pass" });
    const { stdout, exitCode } = await check();
    expect(exitCode).toBe(1);
    expect(sandbox.demotion()).toBe(BIT);
    expect(sandbox.syslog()).toEqual(["carp daemon.warning: carp demoted by 1048576 due to service disruption (services: test_service)"]);
    expect(stdout).toMatch(/test_service\s+fail\s+1\s+\d+ ms/);
    expect(stdout).toMatch(/zz ok\s+pass\s+0/);
    expect(stdout).toContain("demotion 0 -> 1048576: demoted");
  });

  test("a second failing check changes nothing and logs nothing", async () => {
    sandbox = makeSandbox();
    sandbox.addHook("svc", { fixture: "fail" });
    await check();
    const { exitCode } = await check();
    expect(exitCode).toBe(1);
    expect(sandbox.demotion()).toBe(BIT);
    expect(sandbox.syslog()).toHaveLength(1);
    expect(sandbox.sysctlCalls().filter((c) => c.includes("="))).toHaveLength(1);
  });

  test("promotes on recovery and keeps the kernel's own contributors", async () => {
    sandbox = makeSandbox();
    sandbox.setDemotion(240);
    const hook = sandbox.addHook("svc", { fixture: "fail" });
    await check();
    expect(sandbox.demotion()).toBe(1048816);
    rmSync(hook);
    sandbox.addHook("svc", { fixture: "pass" });
    const { exitCode } = await check();
    expect(exitCode).toBe(0);
    expect(sandbox.demotion()).toBe(240);
    expect(sandbox.syslog()[1]).toBe("carp daemon.warning: carp promoted by 1048576 due to service recovery");
  });

  test("failed names are sorted and joined by a comma", async () => {
    sandbox = makeSandbox();
    for (const name of ["unbound", "frr", "dpinger"]) sandbox.addHook(name, { fixture: "exit7" });
    await check();
    expect(sandbox.syslog()[0]).toEndWith("(services: dpinger,frr,unbound)");
  });

  test("a failing hook named with a newline is one syslog line, escaped; --json keeps the real name", async () => {
    sandbox = makeSandbox();
    sandbox.addHook("a\nb", { fixture: "fail" });
    const { stdout, exitCode } = await check();
    expect(exitCode).toBe(1);
    expect(sandbox.syslog()).toEqual(["carp daemon.warning: carp demoted by 1048576 due to service disruption (services: a\\nb)"]);
    expect(stdout).toMatch(/^a\\nb\s+fail\s+1/m);
    const json = JSON.parse((await check("--json")).stdout);
    expect(json.failed).toEqual(["a\nb"]);
    expect(json.services[0].name).toBe("a\nb");
  });

  test("--json prints the evaluation", async () => {
    sandbox = makeSandbox();
    sandbox.addHook("bad", { fixture: "fail" });
    sandbox.addHook("good", { fixture: "pass" });
    const { stdout } = await check("--json");
    const result = JSON.parse(stdout);
    expect(result).toMatchObject({ action: "demoted", failed: ["bad"], demotionBefore: 0, demotionAfter: BIT });
    expect(result.services[0]).toMatchObject({ name: "bad", status: "fail", exitCode: 1, signal: null, timedOut: false, reason: null });
    expect(result.services[0].output).toContain("service down");
    expect(typeof result.services[0].durationMs).toBe("number");
    expect(result.services[1]).toMatchObject({ name: "good", status: "pass", exitCode: 0 });
  });

  test("--dry-run decides but writes and logs nothing", async () => {
    sandbox = makeSandbox();
    sandbox.addHook("svc", { fixture: "fail" });
    const { stdout, exitCode } = await check("--dry-run");
    expect(exitCode).toBe(1);
    expect(stdout).toContain("would demote");
    expect(sandbox.demotion()).toBe(0);
    expect(sandbox.syslog()).toEqual([]);
  });

  test("a hung hook times out and fails instead of blocking the run", async () => {
    sandbox = makeSandbox();
    sandbox.writeConfig({ hookTimeoutMs: 300 });
    sandbox.addHook("hang", { fixture: "hang" });
    const { stdout, exitCode } = await check("--json");
    expect(exitCode).toBe(1);
    expect(JSON.parse(stdout).services[0]).toMatchObject({ name: "hang", status: "fail", timedOut: true });
  });
});

describe("discovery fails closed", () => {
  test("a hook whose name is not UTF-8 fails under its escaped name and demotes", async () => {
    sandbox = makeSandbox();
    sandbox.addHook("ok", { fixture: "pass" });
    const raw = Buffer.concat([Buffer.from(`${sandbox.hooksDir}/`), Buffer.from([0x62, 0xff, 0x61])]);
    writeFileSync(raw, "#!/bin/sh\nexit 0\n", { mode: 0o755 });
    const { stdout, exitCode } = await check("--json");
    expect(exitCode).toBe(1);
    const result = JSON.parse(stdout);
    expect(result.failed).toEqual(["b\\xffa"]);
    expect(result.services.find((s: { name: string }) => s.name === "b\\xffa").reason).toContain(
      "file name is not valid UTF-8; rename it: mv -- ",
    );
    expect(sandbox.demotion()).toBe(BIT);
    // Shown like any name, escaped: the backslash of its \xff doubled.
    expect(sandbox.syslog()).toEqual(["carp daemon.warning: carp demoted by 1048576 due to service disruption (services: b\\\\xffa)"]);
  });

  test("a hooks directory that is not a directory: exit 3, the demotion untouched", async () => {
    sandbox = makeSandbox();
    sandbox.setDemotion(BIT);
    const file = sandbox.addHook("not-a-dir", { fixture: "pass" });
    sandbox.writeConfig({ hooksDir: file });
    const { stderr, exitCode } = await check();
    expect(exitCode).toBe(3);
    expect(stderr).toContain(`Hooks directory "${file}" is not a directory`);
    expect(sandbox.demotion()).toBe(BIT);
    expect(sandbox.sysctlCalls()).toEqual([]);
    expect(sandbox.syslog()).toEqual([]);
  });
});

describe("sysctl failures: exit 3, nothing logged as done", () => {
  test("unknown oid (carp not loaded)", async () => {
    sandbox = makeSandbox();
    sandbox.addHook("svc", { fixture: "fail" });
    setFakeSwitch(sandbox, "sysctl.no-carp");
    const { stderr, exitCode } = await check();
    expect(exitCode).toBe(3);
    expect(stderr).toContain("unknown oid 'net.inet.carp.demotion'");
    expect(stderr).toContain("is carp(4) loaded?");
    expect(sandbox.syslog()).toEqual([]);
  });

  test("operation not permitted", async () => {
    sandbox = makeSandbox();
    sandbox.addHook("svc", { fixture: "fail" });
    setFakeSwitch(sandbox, "sysctl.eperm");
    const { stderr, exitCode } = await check();
    expect(exitCode).toBe(3);
    expect(stderr).toContain("Operation not permitted");
    expect(sandbox.syslog()).toEqual([]);
  });

  test("missing sysctl executable", async () => {
    sandbox = makeSandbox();
    sandbox.writeConfig({ sysctl: join(sandbox.dir, "no-such-sysctl") });
    const { stderr, exitCode } = await check();
    expect(exitCode).toBe(3);
    expect(stderr).toContain("no-such-sysctl");
    expect(stderr).toContain('set "sysctl" in the config');
  });

  test("a lock held past lockTimeoutMs is a clear error", async () => {
    sandbox = makeSandbox();
    sandbox.writeConfig({ lockTimeoutMs: 200 });
    // flock(1) takes the same lock the stock script does.
    const holder = await holdLock(sandbox.config.lockFile, 3);
    const { stderr, exitCode } = await check();
    holder.kill();
    expect(exitCode).toBe(3);
    expect(stderr).toContain("is still held after 200 ms");
  });
});

describe("never a double demotion", () => {
  test("20 concurrent checks with a failing hook end at exactly 2^20 with one syslog line", async () => {
    sandbox = makeSandbox();
    sandbox.addHook("svc", { fixture: "fail" });
    // Widen the race window between read and write, as a slow sysctl would.
    setFakeSwitch(sandbox, "sysctl.delay", "0.02");
    const results = await Promise.all(Array.from({ length: 20 }, () => check()));
    expect(results.map((r) => r.exitCode)).toEqual(Array(20).fill(1));
    expect(sandbox.demotion()).toBe(BIT);
    expect(sandbox.syslog()).toHaveLength(1);
  });

  test("waits for a lock held by the stock script (flock(1)) instead of racing it", async () => {
    sandbox = makeSandbox();
    sandbox.addHook("svc", { fixture: "fail" });
    const holder = await holdLock(sandbox.config.lockFile, 0.5);
    const started = performance.now();
    await check();
    await holder.exited;
    expect(performance.now() - started).toBeGreaterThan(300);
    expect(sandbox.demotion()).toBe(BIT);
  });
});

describe("usage", () => {
  test("an unknown flag is a usage error", async () => {
    const { stderr, exitCode } = await runCli(["check", "--jsn"]);
    expect(exitCode).toBe(2);
    expect(stderr).toContain("--jsn");
  });

  test("an unknown command is a usage error", async () => {
    const { stderr, exitCode } = await runCli(["chek"]);
    expect(exitCode).toBe(2);
    expect(stderr).toContain('Unknown command "chek"');
  });

  test("--help works for the program and each command", async () => {
    expect((await runCli(["--help"])).stdout).toContain("Commands:");
    const { stdout, exitCode } = await runCli(["check", "--help"]);
    expect(exitCode).toBe(0);
    expect(stdout).toContain("--dry-run");
  });
});

describe("the built-in default without CARP", () => {
  test("simulates the kernel counter and syslog, runs the repository's hooks, and says so once", async () => {
    sandbox = makeSandbox();
    const state = join(sandbox.dir, "sim-demotion");
    const messages = join(sandbox.dir, "sim-messages");
    const file = join(sandbox.dir, "sim.toml");
    await Bun.write(file, `simulationFile = "${state}"\nsimulationLog = "${messages}"\nlockFile = "${sandbox.config.lockFile}"\n`);
    await Bun.write(state, "240\n");
    const first = await runCli(["check", "--config", file]);
    expect(first.exitCode).toBe(1);
    expect(first.stdout).toMatch(/test_service\s+fail/);
    expect(first.stdout).toContain("demotion 240 -> 1048816: demoted");
    expect(first.stderr.match(/No CARP on this machine/g)).toHaveLength(1);
    expect(await Bun.file(messages).text()).toContain("carp demoted by 1048576 due to service disruption (services: test_service)");
    const second = await runCli(["check", "--config", file]);
    expect(second.stdout).toContain("demotion 1048816: no change");
    expect((await Bun.file(state).text()).trim()).toBe("1048816");
  });
});
