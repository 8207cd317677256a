/**
 * Nothing of a hook survives its run: whatever it leaves in its process group is terminated once
 * it exits, passing or failing, with a warning on its result. Real processes throughout.
 */
import { afterAll, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HOOK_ENV } from "../../src/engine/evaluate.ts";
import { type RunHookOptions, runHook } from "../../src/engine/hook-runner.ts";
import { isAlive, waitFor } from "../helpers.ts";

const OPTIONS: RunHookOptions = { timeoutMs: 5000, killGraceMs: 300, outputLimitBytes: 4096, env: HOOK_ENV };
const dir = mkdtempSync(join(tmpdir(), "carp-leftovers-"));
const survivors: number[] = [];
afterAll(() => {
  for (const pid of survivors) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
  rmSync(dir, { recursive: true, force: true });
});

/** A hook whose script writes the pid of what it leaves behind to a file, then exits. */
function hook(name: string, body: string): { path: string; pids: () => number[] } {
  const path = join(dir, name);
  const pidFile = join(dir, `${name}.pids`);
  writeFileSync(path, `#!/bin/sh\nPIDS=${JSON.stringify(pidFile)}\n${body}\n`);
  chmodSync(path, 0o755);
  return {
    path,
    pids: () => readFileSync(pidFile, "utf8").split(/\s+/).filter(Boolean).map(Number),
  };
}

const cases: Array<[string, string, number]> = [
  ["a background job", 'sleep 60 &\necho $! > "$PIDS"\nexit 0', 0],
  ["a background job in a subshell", '(sleep 60 & echo $! > "$PIDS")\nexit 0', 0],
  ["a nohup job", 'nohup sleep 60 >/dev/null 2>&1 &\necho $! > "$PIDS"\nexit 0', 0],
  ["a job that ignores SIGTERM, left by a failing hook", 'sh -c \'trap "" TERM; sleep 60\' &\necho $! > "$PIDS"\nexit 3', 3],
];

for (const [what, body, exitCode] of cases) {
  test(`${what} is terminated when the hook exits, and the result says so`, async () => {
    const leaving = hook(what.replaceAll(" ", "-"), body);
    const run = await runHook(leaving.path, OPTIONS);
    expect(run.exitCode).toBe(exitCode);
    expect(run.leftProcesses).toBe(true);
    const pids = leaving.pids();
    expect(pids.length).toBeGreaterThan(0);
    // SIGKILL is sent before runHook returns; the kernel may take a moment to finish it.
    await waitFor(() => pids.every((pid) => !isAlive(pid)), "the left-behind processes to end", 2000);
  });
}

test("a hook that leaves nothing behind carries no warning", async () => {
  const clean = hook("clean", 'sleep 0.01 & wait\necho done > "$PIDS"\nexit 0');
  const run = await runHook(clean.path, OPTIONS);
  expect(run.exitCode).toBe(0);
  expect(run.leftProcesses).toBe(false);
});

test("a daemon detached into a session of its own is left running, as the README advises", async () => {
  // Not a group leader, so setsid(1) calls setsid(2) itself, without forking: $! is the sleep.
  const detaching = hook("detaching", 'setsid sleep 60 >/dev/null 2>&1 < /dev/null &\necho $! > "$PIDS"\nexit 0');
  const run = await runHook(detaching.path, OPTIONS);
  expect(run.exitCode).toBe(0);
  const [pid] = detaching.pids();
  survivors.push(pid!);
  expect(isAlive(pid!)).toBe(true);
});

test("a shutdown cuts the grace for left-behind processes short, so the daemon's exit orphans nothing", async () => {
  const leaving = hook("leaving-at-shutdown", 'sh -c \'trap "" TERM; sleep 60\' &\necho $! > "$PIDS"\nexit 0');
  const stop = new AbortController();
  setTimeout(() => stop.abort(), 300);
  const started = performance.now();
  const run = await runHook(leaving.path, { ...OPTIONS, killGraceMs: 10_000, signal: stop.signal });
  expect(run.leftProcesses).toBe(true);
  expect(performance.now() - started).toBeLessThan(3000);
  const pids = leaving.pids();
  await waitFor(() => pids.every((pid) => !isAlive(pid)), "the left-behind process to end", 2000);
});
