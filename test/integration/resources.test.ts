/**
 * Our own resource exhaustion is not a service failure: concurrency is capped to what the
 * descriptor limit allows, and a spawn that fails for want of descriptors is a system error that
 * leaves the demotion untouched. Real processes under a real `ulimit -n`.
 */
import { afterEach, expect, test } from "bun:test";
import { join } from "node:path";
import { CLI, FIXTURES, makeSandbox, type Sandbox } from "../helpers.ts";

let sandbox: Sandbox;
afterEach(() => sandbox.cleanup());

/** Runs argv under `ulimit -n limit` (soft and hard). */
async function underFdLimit(limit: number, argv: string[]) {
  const quoted = argv.map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(" ");
  const proc = Bun.spawn(["bash", "-c", `ulimit -n ${limit} && exec ${quoted}`], { stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, exitCode] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { stdout, stderr, exitCode };
}

function manyPassingHooks(count: number): void {
  for (let i = 0; i < count; i++) sandbox.addHook(`svc${String(i).padStart(2, "0")}`, { content: "#!/bin/sh\nsleep 0.1\n" });
}

test("a spawn that fails with EMFILE is a system error, not failed services: the demotion is untouched", async () => {
  sandbox = makeSandbox({ concurrency: 64 });
  manyPassingHooks(40);
  const config = JSON.stringify({ ...sandbox.config });
  const { stdout } = await underFdLimit(40, [process.execPath, join(FIXTURES, "evaluate-uncapped.ts"), config]);
  const outcome = JSON.parse(stdout);
  expect(outcome).toMatchObject({ ok: false, code: "system" });
  expect(outcome.message).toContain("EMFILE");
  expect(outcome.message).toContain("says nothing about the service");
  expect(sandbox.demotion()).toBe(0);
  expect(sandbox.syslog()).toEqual([]);
});

test("under a small descriptor limit, check caps its concurrency, says so once, and every hook passes", async () => {
  sandbox = makeSandbox({ concurrency: 64, logLevel: "info" });
  manyPassingHooks(12);
  const { stdout, stderr, exitCode } = await underFdLimit(80, [process.execPath, CLI, "check", "--config", sandbox.writeConfig()]);
  expect(exitCode).toBe(0);
  expect(stdout).not.toContain("fail");
  const notes = stderr.split("\n").filter((line) => line.includes("needs more descriptors than the limit of 80"));
  expect(notes).toHaveLength(1);
  expect(notes[0]).toContain("running 4 hooks at once");
});
