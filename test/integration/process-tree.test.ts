/**
 * Process trees across processes: a daemon killed with -9 leaves its hooks to the next start,
 * which ends them from the run file (and never a process whose pid was recycled); a stopping
 * daemon, and `check` or `trigger`'s local evaluation stopped by SIGINT or SIGTERM, end their
 * hooks and everything the hooks started before exiting; and a daemon, a subreaper, reaps the
 * orphans it inherits. Real daemons, real signals, the fixture hang-with-children.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { appendFileSync, chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runFilePath } from "../../src/system/run-file.ts";
import { CLI, type DaemonProcess, isAlive, makeSandbox, type Sandbox, spawnDaemon as spawnCliDaemon, waitFor } from "../helpers.ts";

let sandbox: Sandbox;
const strays: number[] = [];
const daemons: DaemonProcess[] = [];
afterEach(async () => {
  // A test that failed half way must not leave its daemon (and so its hooks) running.
  for (const daemon of daemons.splice(0)) if (daemon.proc.exitCode === null && daemon.proc.signalCode === null) await daemon.stop();
  for (const pid of strays.splice(0)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
  sandbox.cleanup();
});

const PID_NAMES = ["hook", "job", "session"] as const;

async function spawnDaemon(on: Sandbox): Promise<DaemonProcess> {
  const daemon = await spawnCliDaemon(on);
  daemons.push(daemon);
  return daemon;
}

/** A sandbox whose hook is hang-with-children, writing its pids into a directory we read. */
function hangingSandbox(extra: Parameters<typeof makeSandbox>[0] = {}): { pidsDir: string; pids(): Promise<number[]> } {
  sandbox = makeSandbox(extra);
  const pidsDir = join(sandbox.dir, "pids");
  mkdirSync(pidsDir);
  appendFileSync(sandbox.configFile, `hookEnv = { PIDS_DIR = ${JSON.stringify(pidsDir)} }\n`);
  sandbox.addHook("hang", { fixture: "hang-with-children" });
  const pids = async () => {
    const found = await waitFor(
      () =>
        PID_NAMES.every((name) => existsSync(join(pidsDir, name)))
          ? PID_NAMES.map((name) => Number(readFileSync(join(pidsDir, name), "utf8")))
          : null,
      "the hook and its two children to start",
    );
    strays.push(...found);
    return found;
  };
  return { pidsDir, pids };
}

/** Field 22 of /proc/PID/stat (start time in clock ticks), as the run file records it on Linux. */
function startOf(pid: number): string {
  const text = readFileSync(`/proc/${pid}/stat`, "utf8");
  return text.slice(text.lastIndexOf(")") + 2).split(" ")[22 - 3]!;
}

/** The children of `pid` (every thread's), with their state. */
function childrenOf(pid: number): Array<{ pid: number; state: string }> {
  const tasks = readdirOrEmpty(`/proc/${pid}/task`);
  const pids = tasks.flatMap((tid) => readFileSync(`/proc/${pid}/task/${tid}/children`, "utf8").split(" ").filter(Boolean).map(Number));
  return pids.flatMap((child) => {
    try {
      const text = readFileSync(`/proc/${child}/stat`, "utf8");
      return [{ pid: child, state: text.slice(text.lastIndexOf(")") + 2).split(" ")[0]! }];
    } catch {
      return [];
    }
  });
}

function readdirOrEmpty(path: string): string[] {
  try {
    return readdirSync(path);
  } catch {
    return [];
  }
}

describe("a daemon killed with -9", () => {
  test("leaves its hung hook running; the next start ends it and its children, and says so in one line", async () => {
    const hanging = hangingSandbox({ hookTimeoutMs: 2000, schedule: false });
    const first = await spawnDaemon(sandbox);
    const pids = await hanging.pids();
    // The hook at once; its children once the daemon has looked (every second while a hook runs):
    // the one in a session of its own was handed to the daemon when setsid(1) forked.
    const runFile = runFilePath(sandbox.config.stateFile as string);
    await waitFor(
      () => pids.every((pid) => readFileSync(runFile, "utf8").includes(`"pid":${pid},`)),
      "the run file to name all three",
      5000,
    );

    first.proc.kill("SIGKILL");
    await first.proc.exited;
    // What -9 leaves: nothing of the daemon is left to end them.
    expect(pids.every(isAlive)).toBe(true);

    rmSync(hanging.pidsDir, { recursive: true });
    mkdirSync(hanging.pidsDir);
    const second = await spawnDaemon(sandbox);
    await waitFor(() => pids.every((pid) => !isAlive(pid)), "the first daemon's hook and its children to end", 5000);
    const said = second.logs().filter((line) => String(line.msg).includes("stopped without a shutdown"));
    expect(said).toHaveLength(1);
    expect(said[0]!.msg).toContain(`previous daemon (pid ${first.proc.pid})`);
    for (const pid of pids) expect(said[0]!.msg).toContain(`(pid ${pid})`);
    expect(await second.stop()).toBe(0);
  });

  test("a recorded pid now naming another process is not signalled; one still the recorded process is ended", async () => {
    sandbox = makeSandbox({ schedule: false });
    const gone = Bun.spawn(["true"]);
    await gone.exited;
    const ours = Bun.spawn(["sleep", "3635"], { detached: true });
    const recycled = Bun.spawn(["sleep", "3636"], { detached: true });
    strays.push(ours.pid, recycled.pid);
    const boot = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
    writeFileSync(
      runFilePath(sandbox.config.stateFile as string),
      JSON.stringify({
        daemon: { pid: gone.pid, start: "1", name: "carp-service-status" },
        boot,
        processes: [
          { pid: ours.pid, start: startOf(ours.pid), name: "sleep" },
          // The pid, with the start of the process that had it before: another process now.
          { pid: recycled.pid, start: String(Number(startOf(recycled.pid)) - 1), name: "sleep" },
        ],
      }),
    );
    const daemon = await spawnDaemon(sandbox);
    expect(await ours.exited).not.toBe(0);
    expect(ours.signalCode).toBe("SIGTERM");
    expect(isAlive(recycled.pid)).toBe(true);
    const said = await daemon.waitForLog((line) => String(line.msg).includes("stopped without a shutdown"));
    expect(said.msg).toContain(`sleep (pid ${ours.pid})`);
    expect(said.msg).toContain(`not signalled, as their pids now name other processes: ${recycled.pid}`);
    expect(await daemon.stop()).toBe(0);
    expect(isAlive(recycled.pid)).toBe(true);
  });
  test("a run file others may write is not believed: nothing it names is signalled", async () => {
    sandbox = makeSandbox({ schedule: false });
    const gone = Bun.spawn(["true"]);
    await gone.exited;
    const listed = Bun.spawn(["sleep", "3637"], { detached: true });
    strays.push(listed.pid);
    const runFile = runFilePath(sandbox.config.stateFile as string);
    const boot = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
    writeFileSync(
      runFile,
      JSON.stringify({
        daemon: { pid: gone.pid, start: "1", name: "carp-service-status" },
        boot,
        processes: [{ pid: listed.pid, start: startOf(listed.pid), name: "sleep" }],
      }),
    );
    chmodSync(runFile, 0o666);
    const daemon = await spawnDaemon(sandbox);
    const said = await daemon.waitForLog((line) => String(line.msg).includes("cannot be used"));
    expect(said.msg).toContain("others may write it (mode 0666)");
    expect(await daemon.stop()).toBe(0);
    expect(isAlive(listed.pid)).toBe(true);
  });
});

describe("a stopping daemon", () => {
  test("ends its running hook and the hook's children in other groups and sessions, and removes its run file", async () => {
    const hanging = hangingSandbox({ hookTimeoutMs: 60_000, schedule: false });
    const daemon = await spawnDaemon(sandbox);
    const pids = await hanging.pids();
    expect(await daemon.stop()).toBe(0);
    await waitFor(() => pids.every((pid) => !isAlive(pid)), "the hook and its children to end", 2000);
    expect(existsSync(runFilePath(sandbox.config.stateFile as string))).toBe(false);
  });
});

test("a daemon reaps the orphans it inherits, and ends and names what hooks leave running", async () => {
  sandbox = makeSandbox({ schedule: false });
  const pidsDir = join(sandbox.dir, "pids");
  mkdirSync(pidsDir);
  appendFileSync(sandbox.configFile, `hookEnv = { PIDS_DIR = ${JSON.stringify(pidsDir)} }\n`);
  // Orphans a sleep that ends on its own while the hook still runs, and records how the orphan
  // looks once it has ended: a zombie, and whose.
  sandbox.addHook("orphaning", {
    content: `#!/bin/sh
(sleep 0.1 & echo $! > "$PIDS_DIR/orphan")
pid=$(cat "$PIDS_DIR/orphan")
while [ "$(cut -d' ' -f3 /proc/$pid/stat)" != Z ]; do sleep 0.01; done
cut -d' ' -f3,4 /proc/$pid/stat > "$PIDS_DIR/orphan.stat"
exit 0
`,
  });
  sandbox.addHook("job", { fixture: "set-m-background" });
  sandbox.addHook("session", { fixture: "setsid-background" });
  const daemon = await spawnDaemon(sandbox);
  const evaluation = await daemon.call("evaluate");
  const warnings = Object.fromEntries(evaluation.services.map((s: { name: string; warnings: string[] }) => [s.name, s.warnings]));
  for (const name of ["job", "session"]) {
    const left = Number(/left: (\d+)/.exec(evaluation.services.find((s: { name: string }) => s.name === name).output)![1]);
    expect(warnings[name]).toEqual([expect.stringContaining(`(pid ${left})`)]);
    expect(isAlive(left)).toBe(false);
  }
  expect(warnings.orphaning).toEqual([]);
  expect(readFileSync(join(pidsDir, "orphan.stat"), "utf8").trim()).toBe(`Z ${daemon.proc.pid}`);
  // Nothing of the evaluation is left under the daemon, not even a zombie, and nothing in the run file.
  expect(childrenOf(daemon.proc.pid)).toEqual([]);
  expect(existsSync(runFilePath(sandbox.config.stateFile as string))).toBe(false);
  expect(await daemon.stop()).toBe(0);
});

describe("a one-shot evaluation stopped by a signal", () => {
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    test(`${signal} to check ends its hung hook and the hook's children before check dies of it, writing nothing`, async () => {
      const hanging = hangingSandbox({ hookTimeoutMs: 2000 });
      sandbox.addHook("zz-fails", { fixture: "fail" });
      const proc = Bun.spawn([process.execPath, CLI, "check", "--config", sandbox.configFile], { stdout: "pipe", stderr: "pipe" });
      const pids = await hanging.pids();
      proc.kill(signal);
      const stderr = await new Response(proc.stderr).text();
      await proc.exited;
      expect(proc.signalCode).toBe(signal);
      expect(pids.filter(isAlive)).toEqual([]);
      expect(stderr).toContain(`Stopped by ${signal}: the hooks were ended and nothing was written`);
      expect(sandbox.demotion()).toBe(0);
      expect(sandbox.syslog()).toEqual([]);
    });
  }

  test("SIGTERM to trigger evaluating here (no daemon) ends its hung hook and the hook's children", async () => {
    const hanging = hangingSandbox({ hookTimeoutMs: 2000 });
    const proc = Bun.spawn([process.execPath, CLI, "trigger", "--config", sandbox.configFile], { stdout: "pipe", stderr: "pipe" });
    const pids = await hanging.pids();
    proc.kill("SIGTERM");
    await proc.exited;
    expect(proc.signalCode).toBe("SIGTERM");
    expect(pids.filter(isAlive)).toEqual([]);
  });
});
