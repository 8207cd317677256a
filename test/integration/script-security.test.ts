/**
 * Script security as an admin meets it, with real files, modes and owners (the tests run as root):
 * `check` refusing a hook whose `#!` interpreter anyone could replace, without ever running that
 * interpreter; `doctor` naming it with the fix; and hook names shown unambiguously.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { makeSandbox, runCli, type Sandbox } from "../helpers.ts";

const BIT = 1048576;
let sandbox: Sandbox;
afterEach(() => sandbox.cleanup());

/**
 * The repro of the issue: a root 0755 hook `#!W/interp`, W 0777 and interp 0777, so anyone can put
 * their own interpreter there. The planted one leaves a mark when it runs (as root, it would).
 */
function plantInterpreter(): { w: string; interp: string; mark: string } {
  sandbox = makeSandbox();
  const w = join(sandbox.dir, "w");
  mkdirSync(w);
  chmodSync(w, 0o777);
  const mark = join(sandbox.dir, "interpreter-ran");
  const interp = join(w, "interp");
  writeFileSync(interp, `#!/bin/sh\ntouch ${JSON.stringify(mark)}\nexit 0\n`);
  chmodSync(interp, 0o777);
  sandbox.addHook("svc", { content: `#!${interp}\nexit 0\n` });
  return { w, interp, mark };
}

describe.skipIf(process.getuid?.() !== 0)("a #! interpreter anyone can replace", () => {
  test("check refuses the hook: it fails, the node is demoted, and the interpreter never runs", async () => {
    const { w, interp, mark } = plantInterpreter();
    const { stdout, exitCode } = await runCli(["check", "--config", sandbox.configFile]);
    expect(exitCode).toBe(1);
    expect(existsSync(mark)).toBe(false);
    expect(stdout).toMatch(/^svc\s+fail\s+-\s+0 ms\s+refused by script security: its interpreter/m);
    expect(sandbox.demotion()).toBe(BIT);
    expect(sandbox.syslog()).toEqual(["carp daemon.warning: carp demoted by 1048576 due to service disruption (services: svc)"]);
    const json = JSON.parse((await runCli(["check", "--json", "--config", sandbox.configFile])).stdout);
    expect(json.services[0].reason).toBe(
      `refused by script security: its interpreter "${interp}" (#! line): "${w}" is writable by others (mode 0777); fix: chmod o-w "${w}"`,
    );
    expect(existsSync(mark)).toBe(false);
  });

  test("doctor reports it for a hook and a notify script, with the fix, and exits 2", async () => {
    const { w, interp } = plantInterpreter();
    const notifyDir = join(sandbox.dir, "notify.d");
    mkdirSync(notifyDir, { mode: 0o755 });
    writeFileSync(join(notifyDir, "mail"), `#!${interp}\n`, { mode: 0o755 });
    sandbox.writeConfig({ notifyDir });
    const { stdout, exitCode } = await runCli(["doctor", "--config", sandbox.configFile, "--root", sandbox.dir]);
    expect(exitCode).toBe(2);
    const lines = stdout.split("\n");
    const problem = `refused by script security: its interpreter "${interp}" (#! line): "${w}" is writable by others (mode 0777); fix: chmod o-w "${w}"`;
    for (const [check, name] of [
      ["hooks", "svc"],
      ["notify scripts", "mail"],
    ]) {
      const at = lines.findIndex((line) => line.startsWith(`${check} `));
      expect(lines[at]?.replace(/ +/g, " ")).toBe(`${check} PROBLEM ${name}: ${problem}`);
      expect(lines[at + 1]?.trim()).toBe(`fix: chmod o-w "${w}"`);
    }
  });

  test("once fixed, the hook runs and passes", async () => {
    const { w, mark } = plantInterpreter();
    chmodSync(w, 0o755);
    chmodSync(join(w, "interp"), 0o755);
    const { exitCode } = await runCli(["check", "--config", sandbox.configFile]);
    expect(exitCode).toBe(0);
    expect(existsSync(mark)).toBe(true);
  });

  test("#!/usr/bin/env finds its program on the config's hookEnv PATH: a world-writable directory there is refused", async () => {
    sandbox = makeSandbox();
    const open = join(sandbox.dir, "open");
    mkdirSync(open);
    chmodSync(open, 0o777);
    sandbox.addHook("svc", { content: "#!/usr/bin/env sh\nexit 0\n" });
    expect((await runCli(["check", "--config", sandbox.configFile])).exitCode).toBe(0);
    writeFileSync(
      sandbox.configFile,
      `${(await Bun.file(sandbox.configFile).text()).trimEnd()}\n[hookEnv]\nPATH = "${open}:/usr/bin:/bin"\n`,
    );
    const json = JSON.parse((await runCli(["check", "--json", "--config", sandbox.configFile])).stdout);
    expect(json.services[0].reason).toStartWith(
      `refused by script security: its interpreter "/usr/bin/env" (#! line) looks "sh" up on PATH: "${open}" is writable by others`,
    );
  });
});

describe("names shown unambiguously", () => {
  test("a hook named a, backslash, n, b and one named a, newline, b are shown apart; --json keeps both raw", async () => {
    sandbox = makeSandbox();
    sandbox.addHook("a\\nb", { fixture: "fail" });
    sandbox.addHook("a\nb", { fixture: "fail" });
    const { stdout, exitCode } = await runCli(["check", "--config", sandbox.configFile]);
    expect(exitCode).toBe(1);
    // Byte order: newline (0x0a) before backslash (0x5c).
    expect(sandbox.syslog()).toEqual(["carp daemon.warning: carp demoted by 1048576 due to service disruption (services: a\\nb,a\\\\nb)"]);
    expect(stdout).toMatch(/^a\\nb\s+fail/m);
    expect(stdout).toMatch(/^a\\\\nb\s+fail/m);
    const json = JSON.parse((await runCli(["check", "--json", "--config", sandbox.configFile])).stdout);
    expect(json.failed).toEqual(["a\nb", "a\\nb"]);
  });
});
