/**
 * Every external tool run is bounded: sysctl and logger run in their own process group with a
 * deadline, a wrapper whose child keeps stdout open cannot hold an evaluation, and no evaluation
 * holds the lock past the lock phase's deadline. Real processes, the fake FreeBSD sysctl and logger.
 */
import { afterEach, expect, test } from "bun:test";
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import pino from "pino";
import { CarpError } from "../../src/common/errors.ts";
import { type EvaluationDeps, evaluate } from "../../src/engine/evaluate.ts";
import { acquireLock } from "../../src/system/lock-file.ts";
import { createSysctl } from "../../src/system/sysctl.ts";
import { createSyslog } from "../../src/system/syslog.ts";
import { isAlive, makeSandbox, runCli, type Sandbox, setFakeSwitch, waitFor } from "../helpers.ts";

const BIT = 1048576;
let sandbox: Sandbox;
afterEach(() => sandbox.cleanup());

/** A wrapper around the fake tool: shell lines before and after it runs (e.g. leave a child holding stdout). */
function wrapper(name: string, tool: "sysctl" | "logger", { before = "", after = "" }: { before?: string; after?: string }): string {
  const path = join(sandbox.dir, "bin", name);
  writeFileSync(path, `#!/bin/sh\n${before}\n"$(dirname "$0")/${tool}" "$@" || exit $?\n${after}\n`);
  chmodSync(path, 0o755);
  return path;
}

function deps(extra: Partial<EvaluationDeps>): EvaluationDeps {
  return {
    sysctl: createSysctl(sandbox.config.sysctl),
    syslog: createSyslog(sandbox.config.logger),
    log: pino({ level: "silent" }),
    isRoot: false,
    ...extra,
  };
}

async function lockIsFree(): Promise<boolean> {
  const lock = await acquireLock(sandbox.config.lockFile, { timeoutMs: 0 }).catch(() => null);
  lock?.release();
  return lock !== null;
}

test("a sysctl wrapper whose child keeps stdout open does not hold the evaluation, and its child is killed", async () => {
  sandbox = makeSandbox();
  sandbox.addHook("svc", { fixture: "fail" });
  const pidFile = join(sandbox.dir, "holder.pid");
  const sysctl = wrapper("sysctl-holding", "sysctl", { after: `sleep 60 &\necho $! >> ${JSON.stringify(pidFile)}` });
  const started = performance.now();
  const evaluation = await evaluate(sandbox.config, deps({ sysctl: createSysctl(sysctl) }));
  expect(evaluation.action).toBe("demoted");
  expect(sandbox.demotion()).toBe(BIT);
  expect(performance.now() - started).toBeLessThan(4000);
  const pids = readFileSync(pidFile, "utf8").trim().split("\n").map(Number);
  await waitFor(() => pids.every((pid) => !isAlive(pid)), "the stdout holders to end", 2000);
});

test("the same wrapper through the CLI: check exits as usual", async () => {
  sandbox = makeSandbox();
  sandbox.addHook("svc", { fixture: "fail" });
  const sysctl = wrapper("sysctl-holding", "sysctl", { after: "sleep 60 &" });
  const { exitCode } = await runCli(["check", "--config", sandbox.writeConfig({ sysctl })]);
  expect(exitCode).toBe(1);
  expect(sandbox.demotion()).toBe(BIT);
});

test("a sysctl write that does not finish is a system error: demotion untouched, lock released", async () => {
  sandbox = makeSandbox();
  sandbox.addHook("svc", { fixture: "fail" });
  // Reads answer; the write (an argument with "=") hangs before it reaches the fake kernel.
  const sysctl = wrapper("sysctl-hanging-write", "sysctl", { before: 'case "$*" in *=*) sleep 60 ;; esac' });
  const error = await evaluate(sandbox.config, deps({ sysctl: createSysctl(sysctl, { timeoutMs: 300 }) })).catch((e) => e);
  expect(error).toBeInstanceOf(CarpError);
  expect(error.code).toBe("system");
  expect(error.message).toContain("did not finish within 300 ms; its process group was killed");
  expect(sandbox.demotion()).toBe(0);
  expect(await lockIsFree()).toBe(true);
});

test("a logger that does not finish after a successful write is a warning, and the demotion stands", async () => {
  sandbox = makeSandbox();
  sandbox.addHook("svc", { fixture: "fail" });
  const logger = wrapper("logger-hanging", "logger", { after: "sleep 60" });
  const evaluation = await evaluate(sandbox.config, deps({ syslog: createSyslog(logger, { timeoutMs: 300 }) }));
  expect(evaluation.action).toBe("demoted");
  expect(sandbox.demotion()).toBe(BIT);
  expect(evaluation.warnings).toEqual([expect.stringContaining("the syslog line was not sent")]);
  expect(evaluation.warnings[0]).toContain("did not finish within 300 ms");
  expect(await lockIsFree()).toBe(true);
});

test("no evaluation holds the lock past the lock phase's deadline", async () => {
  sandbox = makeSandbox();
  sandbox.addHook("svc", { fixture: "fail" });
  setFakeSwitch(sandbox, "sysctl.delay", "3");
  const started = performance.now();
  const error = await evaluate(sandbox.config, deps({ lockPhaseTimeoutMs: 300 })).catch((e) => e);
  expect(error).toBeInstanceOf(CarpError);
  expect(error.message).toContain("was stopped: the lock phase's deadline of 300 ms passed");
  expect(performance.now() - started).toBeLessThan(2500);
  expect(await lockIsFree()).toBe(true);
  expect(sandbox.demotion()).toBe(0);
});
