/**
 * Nothing of a hook survives its run: whatever it leaves running when it exits is terminated,
 * passing or failing, whatever process group or session it moved to (bash `set -m`, setsid, a
 * double fork), with a warning naming it on the result. Orphans are re-parented to us (a
 * subreaper) and reaped, and a hook's processes are never another running hook's to end. Real
 * processes throughout.
 */
import { afterAll, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type RunHookOptions, runHook } from "../../src/engine/hook-runner.ts";
import { HOOK_ENV } from "../../src/engine/run-hooks.ts";
import { isAlive, SCRIPTS, waitFor } from "../helpers.ts";

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
function hook(name: string, body: string, shell = "/bin/sh"): { path: string; pidFile: string; pids: () => number[] } {
  const path = join(dir, name);
  const pidFile = join(dir, `${name}.pids`);
  writeFileSync(path, `#!${shell}\nexport PIDS=${JSON.stringify(pidFile)}\n${body}\n`);
  chmodSync(path, 0o755);
  return {
    path,
    pidFile,
    pids: () => readFileSync(pidFile, "utf8").split(/\s+/).filter(Boolean).map(Number),
  };
}

/** Fields 3 (state), 4 (ppid), 5 (pgrp) and 6 (session) of /proc/PID/stat. */
function statOf(pid: number): { state: string; ppid: number; pgrp: number; session: number } {
  const text = readFileSync(`/proc/${pid}/stat`, "utf8");
  const [state, ppid, pgrp, session] = text.slice(text.lastIndexOf(")") + 2).split(" ");
  return { state: state!, ppid: Number(ppid), pgrp: Number(pgrp), session: Number(session) };
}

/** The pid a fixture prints as "left: PID". */
async function leftPid(stdout: ReadableStream<Uint8Array>): Promise<number> {
  let text = "";
  for await (const chunk of stdout) {
    text += new TextDecoder().decode(chunk);
    const match = /left: (\d+)\n/.exec(text);
    if (match) return Number(match[1]);
  }
  throw new Error(`no "left: PID" line in ${JSON.stringify(text)}`);
}

/** Waits for the pid file to be written by a process the hook started in the background. */
const WAIT_FOR_PIDS = 'while [ ! -s "$PIDS" ]; do sleep 0.01; done';

const cases: Array<[string, string, number, string?]> = [
  ["a background job", 'sleep 60 &\necho $! > "$PIDS"\nexit 0', 0],
  ["a background job in a subshell", '(sleep 60 & echo $! > "$PIDS")\nexit 0', 0],
  ["a nohup job", 'nohup sleep 60 >/dev/null 2>&1 &\necho $! > "$PIDS"\nexit 0', 0],
  ["a job that ignores SIGTERM, left by a failing hook", 'sh -c \'trap "" TERM; sleep 60\' &\necho $! > "$PIDS"\nsleep 0.1\nexit 3', 3],
  ["a bash job under job control (set -m: a process group of its own)", 'set -m\nsleep 304 &\necho $! > "$PIDS"\nexit 0', 0, "/bin/bash"],
  ["a child in a session of its own (setsid)", 'setsid sleep 60 >/dev/null 2>&1 </dev/null &\necho $! > "$PIDS"\nexit 0', 0],
  [
    "a double fork into a session of its own (setsid -f, as daemon(8) detaches)",
    `setsid -f sh -c 'echo $$ > "$PIDS"; exec sleep 60' >/dev/null 2>&1 </dev/null\n${WAIT_FOR_PIDS}\nexit 0`,
    0,
  ],
];

for (const [what, body, exitCode, shell] of cases) {
  test(`${what} is terminated when the hook exits, and the result names it`, async () => {
    const leaving = hook(what.replaceAll(/\W+/g, "-"), body, shell);
    const run = await runHook(leaving.path, OPTIONS);
    expect(run.exitCode).toBe(exitCode);
    expect(run.leftProcesses).toBe(true);
    const pids = leaving.pids();
    expect(pids.length).toBeGreaterThan(0);
    for (const pid of pids) expect(run.leftBehind.join(", ")).toContain(`(pid ${pid})`);
    // SIGKILL is sent before runHook returns; the kernel may take a moment to finish it.
    await waitFor(() => pids.every((pid) => !isAlive(pid)), "the left-behind processes to end", 2000);
  });
}

test("the set -m and setsid fixtures really move their child out of the hook's process group", async () => {
  for (const [fixture, moved] of [
    ["set-m-background", "pgrp"],
    ["setsid-background", "session"],
  ] as const) {
    // Run as a hook is, in a session of its own, but not through the runner, which would end the child.
    const proc = Bun.spawn([join(SCRIPTS, fixture)], { stdout: "pipe", stderr: "ignore", detached: true });
    // Up to the line, not to EOF: the child keeps the pipe open.
    const pid = await leftPid(proc.stdout);
    survivors.push(pid);
    // The child moves right after the fork that $! names.
    await waitFor(() => statOf(pid)[moved] !== proc.pid, `${fixture}'s child to leave the hook's ${moved}`, 2000);
    process.kill(pid, "SIGKILL");
  }
});

test("the set -m fixture run as a hook leaves nothing and warns", async () => {
  const run = await runHook(join(SCRIPTS, "set-m-background"), OPTIONS);
  expect(run.exitCode).toBe(0);
  const pid = Number(/left: (\d+)/.exec(run.output)![1]);
  // Named as found: "sleep", or bash's name if it is caught between fork and exec.
  expect(run.leftBehind).toEqual([expect.stringMatching(new RegExp(`^\\S+ \\(pid ${pid}\\)$`))]);
  await waitFor(() => !isAlive(pid), "the job to end", 2000);
});

test("a hook that leaves nothing behind carries no warning", async () => {
  const clean = hook("clean", 'sleep 0.01 & wait\necho done > "$PIDS"\nexit 0');
  const run = await runHook(clean.path, OPTIONS);
  expect(run.exitCode).toBe(0);
  expect(run.leftProcesses).toBe(false);
  expect(run.leftBehind).toEqual([]);
});

test("an orphan that ends on its own during the run is re-parented to us and reaped, not left a zombie", async () => {
  // The subshell exits at once, orphaning the sleep; once the sleep has ended the hook records
  // its state and parent, then exits.
  const orphaning = hook(
    "orphaning",
    `(sleep 0.1 & echo $! > "$PIDS")
pid=$(cat "$PIDS")
while [ "$(cut -d' ' -f3 /proc/$pid/stat)" != Z ]; do sleep 0.01; done
cut -d' ' -f3,4 /proc/$pid/stat > "$PIDS.stat"
exit 0`,
  );
  const run = await runHook(orphaning.path, OPTIONS);
  expect(run.exitCode).toBe(0);
  const [pid] = orphaning.pids();
  // A zombie whose parent is this process: the subreaper, not init.
  expect(readFileSync(`${orphaning.pidFile}.stat`, "utf8").trim()).toBe(`Z ${process.pid}`);
  // Reaped before runHook returned: nothing left under that pid, not even a zombie.
  expect(existsSync(`/proc/${pid}`)).toBe(false);
});

test("an orphan of a hook still running is not ended when another hook finishes, and is when its own does", async () => {
  const release = join(dir, "release-slow");
  // The slow hook orphans a sleep into a session of its own, then waits for the test to let it go.
  const slow = hook(
    "slow-with-orphan",
    `(setsid sleep 60 >/dev/null 2>&1 </dev/null & echo $! > "$PIDS")
while [ ! -e ${JSON.stringify(release)} ]; do sleep 0.01; done
exit 0`,
  );
  // The quick hook finishes while the slow hook's orphan is already ours.
  const quick = hook("quick", `while [ ! -s ${JSON.stringify(slow.pidFile)} ]; do sleep 0.01; done\necho done > "$PIDS"\nexit 0`);
  const slowRun = runHook(slow.path, OPTIONS);
  const quickRun = await runHook(quick.path, OPTIONS);
  expect(quickRun.leftProcesses).toBe(false);
  const [orphan] = slow.pids();
  expect(statOf(orphan!).ppid).toBe(process.pid);
  expect(isAlive(orphan!)).toBe(true);

  writeFileSync(release, "");
  const slowResult = await slowRun;
  expect(slowResult.leftBehind).toEqual([`sleep (pid ${orphan})`]);
  await waitFor(() => !isAlive(orphan!), "the orphan to end", 2000);
});

test("a shutdown cuts the grace for left-behind processes short, so the daemon's exit orphans nothing", async () => {
  const leaving = hook("leaving-at-shutdown", 'sh -c \'trap "" TERM; sleep 60\' &\necho $! > "$PIDS"\nsleep 0.2\nexit 0');
  const stop = new AbortController();
  setTimeout(() => stop.abort(), 300);
  const started = performance.now();
  const run = await runHook(leaving.path, { ...OPTIONS, killGraceMs: 10_000, signal: stop.signal });
  expect(run.leftProcesses).toBe(true);
  expect(performance.now() - started).toBeLessThan(3000);
  const pids = leaving.pids();
  await waitFor(() => pids.every((pid) => !isAlive(pid)), "the left-behind process to end", 2000);
});
