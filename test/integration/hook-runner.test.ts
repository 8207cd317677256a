/** Real spawns of fixture hooks through the runner. */
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, copyFileSync, existsSync, mkdtempSync as makeTempDir, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type RunHookOptions, runHook } from "../../src/engine/hook-runner.ts";
import { HOOK_ENV } from "../../src/engine/run-hooks.ts";
import { isAlive, SCRIPTS, waitFor } from "../helpers.ts";

const OPTIONS: RunHookOptions = { timeoutMs: 5000, killGraceMs: 300, outputLimitBytes: 4096, env: HOOK_ENV };

const tempDirs: string[] = [];
afterAll(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

function mkdtempSync(prefix: string): string {
  const dir = makeTempDir(prefix);
  tempDirs.push(dir);
  return dir;
}

function fixture(name: string): string {
  return join(SCRIPTS, name);
}

describe("exit status", () => {
  test("exit 0 passes and keeps the output", async () => {
    const run = await runHook(fixture("pass"), OPTIONS);
    expect(run.exitCode).toBe(0);
    expect(run.output).toBe("ok\n");
    expect(run.execError).toBeNull();
  });

  test("a non-zero exit is kept with stdout and stderr", async () => {
    const run = await runHook(fixture("fail"), OPTIONS);
    expect(run.exitCode).toBe(1);
    expect(run.output).toContain("service down");
    expect(run.output).toContain("details on stderr");
  });

  test("the exit code is reported as is", async () => {
    expect((await runHook(fixture("exit7"), OPTIONS)).exitCode).toBe(7);
  });

  test("a hook killed by a signal records the signal", async () => {
    const run = await runHook(fixture("self-kill"), OPTIONS);
    expect(run.signal).toBe("SIGKILL");
    expect(run.exitCode).toBeNull();
  });

  test("a bad #! line is an exec failure naming the interpreter", async () => {
    const run = await runHook(fixture("bad-shebang"), OPTIONS);
    expect(run.execError).toContain('interpreter "/nonexistent/interpreter" not found');
    expect(run.exitCode).toBeNull();
  });

  test("a script without #! runs under /bin/sh, as the stock script's shell would run it", async () => {
    expect((await runHook(fixture("no-shebang-exit1"), OPTIONS)).exitCode).toBe(1);
    const run = await runHook(fixture("no-shebang-exit0"), OPTIONS);
    expect(run.exitCode).toBe(0);
    expect(run.execError).toBeNull();
  });

  test("runs with cwd /, stdin /dev/null and only the minimal environment", async () => {
    const dir = mkdtempSync(join(tmpdir(), "carp-env-"));
    const hook = join(dir, "env-probe");
    Bun.write(hook, "#!/bin/sh\npwd\nenv | sort\nreadlink /proc/self/fd/0\n");
    await Bun.sleep(10);
    chmodSync(hook, 0o755);
    process.env.CARP_TEST_LEAK = "leaked";
    const run = await runHook(hook, OPTIONS);
    delete process.env.CARP_TEST_LEAK;
    expect(run.output.split("\n")[0]).toBe("/");
    expect(run.output).toContain("PATH=/sbin:/bin:/usr/sbin:/usr/bin:/usr/local/sbin:/usr/local/bin");
    expect(run.output).not.toContain("CARP_TEST_LEAK");
    expect(run.output).toContain("/dev/null");
  });
});

describe("timeouts", () => {
  test("a hung hook is killed with its process group and reported as timed out", async () => {
    const run = await runHook(fixture("hang"), { ...OPTIONS, timeoutMs: 300 });
    expect(run.timedOut).toBe(true);
    expect(run.output).toBe("hanging\n");
    expect(run.durationMs).toBeGreaterThanOrEqual(290);
  });

  test("a hook and child that ignore SIGTERM get SIGKILL after the grace: nothing survives", async () => {
    const run = await runHook(fixture("hang-ignore-term"), { ...OPTIONS, timeoutMs: 300, killGraceMs: 200 });
    expect(run.timedOut).toBe(true);
    const match = /pids: (\d+) (\d+)/.exec(run.output);
    expect(match).not.toBeNull();
    const pids = [Number(match![1]), Number(match![2])];
    expect(pids.filter(isAlive)).toEqual([]);
  });

  /** Runs hang-with-children; resolves with its run and the pids its three processes wrote. */
  async function hangWithChildren(options: Partial<RunHookOptions>, whenStarted: () => void = () => {}) {
    const pidsDir = mkdtempSync(join(tmpdir(), "carp-tree-"));
    const running = runHook(fixture("hang-with-children"), { ...OPTIONS, env: { ...HOOK_ENV, PIDS_DIR: pidsDir }, ...options });
    const names = ["hook", "job", "session"];
    const pids = await waitFor(
      () =>
        names.every((name) => existsSync(join(pidsDir, name)))
          ? names.map((name) => Number(readFileSync(join(pidsDir, name), "utf8")))
          : null,
      "the hook and its children to start",
    );
    expect(pids.every(isAlive)).toBe(true);
    whenStarted();
    return { run: await running, pids };
  }

  test("a timed-out hook's children in a group or a session of their own are killed with it", async () => {
    const { run, pids } = await hangWithChildren({ timeoutMs: 2000, killGraceMs: 200 });
    expect(run.timedOut).toBe(true);
    await waitFor(() => pids.every((pid) => !isAlive(pid)), "the hook and both children to end", 2000);
  });

  test("aborting the evaluation kills a running hook and its children, whatever group or session they are in", async () => {
    const controller = new AbortController();
    const { run, pids } = await hangWithChildren({ signal: controller.signal }, () => controller.abort());
    expect(run.aborted).toBe(true);
    await waitFor(() => pids.every((pid) => !isAlive(pid)), "the hook and both children to end", 2000);
  });

  test("aborting the evaluation kills a running hook", async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const run = await runHook(fixture("hang"), { ...OPTIONS, signal: controller.signal });
    expect(run.aborted).toBe(true);
    expect(run.timedOut).toBe(false);
  });
});

describe("output", () => {
  test("a hook is done when it exits, even when a background child holds stdout", async () => {
    const started = performance.now();
    const run = await runHook(fixture("fork-and-exit"), OPTIONS);
    const elapsedMs = performance.now() - started;
    expect(run.exitCode).toBe(0);
    expect(run.output).toBe("forked\n");
    // The child sleeps 30 s; waiting for EOF would take that long.
    expect(elapsedMs).toBeLessThan(5000);
  });

  test("a 50 MiB flood passes, keeps only the cap and counts the rest", async () => {
    const run = await runHook(fixture("flood"), { ...OPTIONS, timeoutMs: 20000 });
    expect(run.exitCode).toBe(0);
    expect(run.outputDroppedBytes).toBe(52428800 - 4096);
    // 2 KiB of head, the marker, 2 KiB of tail.
    expect(run.output).toBe(`${"\0".repeat(2048)}\n[… ${52428800 - 4096} bytes dropped …]\n${"\0".repeat(2048)}`);
  });

  test("memory stays bounded however much a hook writes (400 MiB here)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "carp-flood-"));
    const hook = join(dir, "big-flood");
    writeFileSync(hook, "#!/bin/sh\nhead -c 419430400 /dev/zero\n", { mode: 0o755 });
    const rssBefore = process.memoryUsage().rss;
    let peak = rssBefore;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 5);
    const run = await runHook(hook, { ...OPTIONS, timeoutMs: 20000 });
    clearInterval(sampler);
    expect(run.outputDroppedBytes).toBe(419430400 - 4096);
    // Allocator churn costs some tens of MiB; holding the output would cost 400.
    expect(peak - rssBefore).toBeLessThan(150 * 1024 * 1024);
  });

  test("the cap is configurable, down to nothing", async () => {
    const run = await runHook(fixture("fail"), { ...OPTIONS, outputLimitBytes: 0 });
    expect(run.output).not.toContain("service down");
    expect(run.outputDroppedBytes).toBe("service down\ndetails on stderr\n".length);
  });
});

test("odd names run as argv, never word-split or expanded", async () => {
  const dir = mkdtempSync(join(tmpdir(), "carp-names-"));
  for (const name of ["with space", "100%", 'it\'s "quoted"', "ünïcödé", "-dash", "$(touch pwned)"]) {
    const path = join(dir, name);
    copyFileSync(fixture("exit7"), path);
    chmodSync(path, 0o755);
    const run = await runHook(path, OPTIONS);
    expect({ name, exitCode: run.exitCode }).toEqual({ name, exitCode: 7 });
  }
});
