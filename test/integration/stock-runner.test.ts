/** The benchmark's restatement of the stock script must do the stock script's work, or the comparison is unfair. */
import { afterEach, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { makeSandbox, REPO, type Sandbox } from "../helpers.ts";

let sandbox: Sandbox;
afterEach(() => sandbox.cleanup());

async function runStock() {
  const { sysctl, logger, hooksDir, lockFile } = sandbox.config;
  const proc = Bun.spawn(["sh", join(REPO, "bench", "stock-runner.sh"), hooksDir, sysctl, logger, lockFile]);
  return proc.exited;
}

test("demotes once, promotes once, keeps other contributors and always exits 0, like the stock script", async () => {
  sandbox = makeSandbox();
  sandbox.setDemotion(240);
  const failing = sandbox.addHook("svc", { fixture: "fail" });
  sandbox.addHook("other", { fixture: "exit7" });
  sandbox.addHook("ok", { fixture: "pass" });
  expect(await runStock()).toBe(0);
  expect(await runStock()).toBe(0);
  expect(sandbox.demotion()).toBe(1048816);
  rmSync(failing);
  rmSync(join(sandbox.hooksDir, "other"));
  expect(await runStock()).toBe(0);
  expect(sandbox.demotion()).toBe(240);
  expect(sandbox.syslog()).toEqual([
    "carp daemon.warning: carp demoted by 1048576 due to service disruption (services: other,svc)",
    "carp daemon.warning: carp promoted by 1048576 due to service recovery",
  ]);
});

test("runs every hook: the steady state reads the demotion once and writes nothing", async () => {
  sandbox = makeSandbox();
  for (const name of ["a", "b", "c"]) sandbox.addHook(name, { fixture: "pass" });
  await runStock();
  expect(sandbox.sysctlCalls()).toEqual(["-n net.inet.carp.demotion"]);
});
