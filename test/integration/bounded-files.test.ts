/**
 * Every file we read is bounded: a FIFO, a device or a huge file at `stateFile`, at `--config` or
 * in the simulation is an error naming it, in moments, with memory to spare; never a hang, and
 * never a daemon deaf to SIGTERM. Real processes, real FIFOs and device nodes.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CONFIG_MAX_BYTES } from "../../src/config/defaults.ts";
import type { Evaluation } from "../../src/protocol/wire.ts";
import { CLI, type DaemonProcess, makeSandbox, type Sandbox, spawnDaemon, waitFor } from "../helpers.ts";

const BIT = 1048576;
let sandbox: Sandbox | null = null;
let daemon: DaemonProcess | null = null;
let scratch: string | null = null;
afterEach(async () => {
  // A daemon blocked in open(2) ignores SIGTERM: it gets SIGKILL after a while.
  if (daemon) {
    daemon.proc.kill("SIGTERM");
    await Promise.race([daemon.proc.exited, Bun.sleep(3000)]);
    daemon.proc.kill("SIGKILL");
    await daemon.proc.exited;
  }
  daemon = null;
  sandbox?.cleanup();
  sandbox = null;
  if (scratch) rmSync(scratch, { recursive: true, force: true });
  scratch = null;
});

/** Resident memory of a live process, in MiB (Linux /proc). */
function rssMib(pid: number): number {
  try {
    const line = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return line ? Number(line[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

/** Memory a run of the CLI may use before it counts as swamped: an idle daemon takes some 50 MiB. */
const MAX_RSS_MIB = 400;

/**
 * Runs the CLI, watched: killed when it outlives `timeoutMs` or grows past MAX_RSS_MIB (reading
 * /dev/zero would otherwise take the machine's memory), and the test is told which.
 */
async function runWatched(args: string[], timeoutMs = 10_000) {
  const proc = Bun.spawn([process.execPath, CLI, ...args], { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const started = performance.now();
  let killedFor: string | null = null;
  let peakMib = 0;
  const watch = setInterval(() => {
    peakMib = Math.max(peakMib, rssMib(proc.pid));
    if (peakMib > MAX_RSS_MIB) killedFor = `memory (${Math.round(peakMib)} MiB)`;
    else if (performance.now() - started > timeoutMs) killedFor = `time (${timeoutMs} ms)`;
    if (killedFor) proc.kill("SIGKILL");
  }, 25);
  const [stdout, stderr, exitCode] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  clearInterval(watch);
  return { stdout, stderr, exitCode, killedFor };
}

function mkfifo(path: string): string {
  expect(Bun.spawnSync(["mkfifo", path]).exitCode).toBe(0);
  return path;
}

describe("the state file", () => {
  test("a FIFO put in its place while the daemon runs blocks nothing: triggers are answered, SIGTERM ends it", async () => {
    sandbox = makeSandbox({ schedule: "* * * * * *", rise: 2 });
    sandbox.addHook("svc", { fixture: "pass" });
    daemon = await spawnDaemon(sandbox);
    await waitFor(async () => (await daemon!.call("status")).counters.evaluations >= 1, "the start-up evaluation");
    const state = sandbox.config.stateFile;
    rmSync(state, { force: true });
    mkfifo(state);
    const reply = await fetch("http://localhost/evaluate", {
      method: "POST",
      unix: sandbox.config.socket as string,
      signal: AbortSignal.timeout(5000),
    });
    const evaluation = (await reply.json()) as Evaluation;
    expect(evaluation.action).toBe("none");
    expect(evaluation.warnings).toEqual(
      expect.arrayContaining([
        `Cannot read the state file "${state}": it is a FIFO (named pipe), not a regular file; remove it (rm "${state}") or set "stateFile" to a file of its own; counting from the daemon's memory`,
      ]),
    );
    // Scheduled runs go on too.
    const after = (await daemon.call("status")).counters.scheduled;
    await waitFor(async () => (await daemon!.call("status")).counters.scheduled >= after + 2, "two more scheduled runs", 5000);
    daemon.proc.kill("SIGTERM");
    expect(await Promise.race([daemon.proc.exited, Bun.sleep(3000).then(() => "still running")])).toBe(0);
  }, 30_000);

  test("a FIFO there makes check say so and go on, at once", async () => {
    sandbox = makeSandbox();
    sandbox.addHook("svc", { fixture: "fail" });
    mkfifo(sandbox.config.stateFile);
    const { stdout, exitCode, killedFor } = await runWatched(["check", "--config", sandbox.configFile]);
    expect(killedFor).toBeNull();
    expect(exitCode).toBe(1);
    expect(sandbox.demotion()).toBe(BIT);
    expect(stdout).toContain(`warning: Cannot read the state file "${sandbox.config.stateFile}": it is a FIFO (named pipe)`);
  }, 20_000);

  test('stateFile = "/dev/zero": check reads nothing of it, replaces nothing, and goes on', async () => {
    sandbox = makeSandbox({ stateFile: "/dev/zero" });
    sandbox.addHook("svc", { fixture: "fail" });
    const { stdout, exitCode, killedFor } = await runWatched(["check", "--config", sandbox.configFile]);
    expect(killedFor).toBeNull();
    expect(exitCode).toBe(1);
    expect(sandbox.demotion()).toBe(BIT);
    expect(stdout).toContain(
      'warning: Cannot read the state file "/dev/zero": it is a character device, not a regular file; set "stateFile" to a file of its own',
    );
    expect(Bun.spawnSync(["test", "-c", "/dev/zero"]).exitCode).toBe(0);
  }, 20_000);
});

describe("--config", () => {
  for (const command of [["check"], ["config"], ["trigger"], ["daemon"]]) {
    test(`${command.join(" ")} --config /dev/zero is a config error naming it, in moments`, async () => {
      const { stdout, stderr, exitCode, killedFor } = await runWatched([...command, "--config", "/dev/zero"]);
      expect(killedFor).toBeNull();
      expect(`${stdout}${stderr}`).toContain('Cannot read config "/dev/zero": it is a character device, not a regular file');
      expect(exitCode).toBe(2);
    }, 20_000);
  }

  test("a FIFO as --config is refused, not waited on", async () => {
    scratch = mkdtempSync(join(tmpdir(), "carp-config-"));
    const fifo = mkfifo(join(scratch, "carp.toml"));
    const { stderr, exitCode, killedFor } = await runWatched(["check", "--config", fifo]);
    expect(killedFor).toBeNull();
    expect(exitCode).toBe(2);
    expect(stderr).toContain(`Cannot read config "${fifo}": it is a FIFO (named pipe), not a regular file; give the path of a TOML file`);
  }, 20_000);

  test("a config file over the cap is refused", async () => {
    scratch = mkdtempSync(join(tmpdir(), "carp-config-"));
    const file = join(scratch, "carp.toml");
    writeFileSync(file, `# ${"x".repeat(CONFIG_MAX_BYTES)}\n`);
    const { stderr, exitCode } = await runWatched(["config", "--config", file]);
    expect(exitCode).toBe(2);
    expect(stderr).toContain(`holds more than ${CONFIG_MAX_BYTES} bytes`);
  }, 20_000);
});

describe("the simulation's files", () => {
  test("a FIFO as the simulated demotion is a system error naming it, not a hang", async () => {
    sandbox = makeSandbox();
    const simulationFile = join(sandbox.dir, "sim", "demotion");
    Bun.spawnSync(["mkdir", "-p", join(sandbox.dir, "sim")]);
    mkfifo(simulationFile);
    sandbox.writeConfig({ sysctl: "simulated", simulationFile });
    sandbox.addHook("svc", { fixture: "fail" });
    const { stderr, exitCode, killedFor } = await runWatched(["check", "--config", sandbox.configFile]);
    expect(killedFor).toBeNull();
    expect(exitCode).toBe(3);
    expect(stderr).toContain(
      `Cannot read simulated demotion "${simulationFile}": it is a FIFO (named pipe), not a regular file; remove it (rm "${simulationFile}") or set "simulationFile" to a file of its own`,
    );
  }, 20_000);
});
