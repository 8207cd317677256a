import { afterEach, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

// The fakes stand in for FreeBSD's sysctl(8) and logger(1) in every other test,
// so they must behave like the real tools, failures included.

const FIXTURES_DIR = join(import.meta.dir, "fixtures");
const SCRIPTS_DIR = join(FIXTURES_DIR, "scripts");
const HOOKS_DIR = join(import.meta.dir, "..", "hooks");
const OID = "net.inet.carp.demotion";
const DEMOTE = 1048576;

const tempDirs: string[] = [];

afterEach(async () => {
  await Promise.all(tempDirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

/** A fresh "kernel": a temp dir holding symlinks to both fakes. */
async function makeFakeDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "carp-fixtures-"));
  tempDirs.push(dir);
  await symlink(join(FIXTURES_DIR, "sysctl"), join(dir, "sysctl"));
  await symlink(join(FIXTURES_DIR, "logger"), join(dir, "logger"));
  return dir;
}

interface RunResult {
  exitCode: number | null;
  stdout: string;
  stderr: string;
}

function runTool(dir: string, tool: string, args: string[], stdin?: string): RunResult {
  const result = Bun.spawnSync([join(dir, tool), ...args], {
    stdin: stdin === undefined ? "ignore" : new TextEncoder().encode(stdin),
  });
  return { exitCode: result.exitCode, stdout: result.stdout.toString(), stderr: result.stderr.toString() };
}

function sysctl(dir: string, ...args: string[]): RunResult {
  return runTool(dir, "sysctl", args);
}

function readDemotion(dir: string): string {
  return sysctl(dir, "-n", OID).stdout.trim();
}

/** Alive and not a zombie (an orphan's reaper may be slow in containers). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return !existsSync("/proc/self");
  }
}

async function waitUntil(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (check()) return true;
    await Bun.sleep(20);
  }
  return check();
}

async function readFirstLine(stream: ReadableStream<Uint8Array>): Promise<string> {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
  }
  reader.releaseLock();
  return text.split("\n")[0] ?? "";
}

// --- fake sysctl ---

test("sysctl reads 0 when no value was ever written", async () => {
  const dir = await makeFakeDir();
  expect(sysctl(dir, OID)).toEqual({ exitCode: 0, stdout: `${OID}: 0\n`, stderr: "" });
  expect(sysctl(dir, "-n", OID)).toEqual({ exitCode: 0, stdout: "0\n", stderr: "" });
});

test("sysctl write adds to the current value and prints OLD -> NEW", async () => {
  const dir = await makeFakeDir();
  await writeFile(join(dir, "demotion"), "240\n");
  expect(sysctl(dir, `${OID}=${DEMOTE}`)).toEqual({
    exitCode: 0,
    stdout: `${OID}: 240 -> 1048816\n`,
    stderr: "",
  });
  expect(readDemotion(dir)).toBe("1048816");
  expect(sysctl(dir, `${OID}=-${DEMOTE}`).stdout).toBe(`${OID}: 1048816 -> 240\n`);
  expect(readDemotion(dir)).toBe("240");
});

test("sysctl -n write prints only OLD -> NEW", async () => {
  const dir = await makeFakeDir();
  expect(sysctl(dir, "-n", `${OID}=${DEMOTE}`).stdout).toBe(`0 -> ${DEMOTE}\n`);
});

test("sysctl allows the value to go negative", async () => {
  const dir = await makeFakeDir();
  expect(sysctl(dir, `${OID}=-5`).stdout).toBe(`${OID}: 0 -> -5\n`);
  expect(readDemotion(dir)).toBe("-5");
  expect(sysctl(dir, `${OID}=3`).stdout).toBe(`${OID}: -5 -> -2\n`);
});

test("sysctl reads leading zeros as decimal", async () => {
  const dir = await makeFakeDir();
  expect(sysctl(dir, `${OID}=010`).stdout).toBe(`${OID}: 0 -> 10\n`);
  expect(sysctl(dir, `${OID}=-08`).stdout).toBe(`${OID}: 10 -> 2\n`);
});

test("sysctl rejects an unknown oid on read and write", async () => {
  const dir = await makeFakeDir();
  const expected = { exitCode: 1, stdout: "", stderr: "sysctl: unknown oid 'net.inet.carp.nope'\n" };
  expect(sysctl(dir, "net.inet.carp.nope")).toEqual(expected);
  expect(sysctl(dir, "-n", "net.inet.carp.nope")).toEqual(expected);
  expect(sysctl(dir, "net.inet.carp.nope=1")).toEqual(expected);
  expect(existsSync(join(dir, "demotion"))).toBe(false);
});

test("sysctl -i skips an unknown oid silently and reads a known one with its name, as the stock script calls it", async () => {
  const dir = await makeFakeDir();
  await writeFile(join(dir, "demotion"), "240\n");
  expect(sysctl(dir, "-i", "net.inet.carp.nope", OID)).toEqual({ exitCode: 0, stdout: `${OID}: 240\n`, stderr: "" });
  expect(sysctl(dir, "-i", "net.inet.carp.nope=1")).toEqual({ exitCode: 0, stdout: "", stderr: "" });
  await writeFile(join(dir, "sysctl.no-carp"), "");
  expect(sysctl(dir, "-i", OID)).toEqual({ exitCode: 0, stdout: "", stderr: "" });
});

test("sysctl reads any other oid from oid.NAME beside it, and never writes one", async () => {
  const dir = await makeFakeDir();
  await writeFile(join(dir, "oid.net.inet.carp.preempt"), "1\n");
  expect(sysctl(dir, "-n", "net.inet.carp.preempt")).toEqual({ exitCode: 0, stdout: "1\n", stderr: "" });
  expect(sysctl(dir, "net.inet.carp.preempt")).toEqual({ exitCode: 0, stdout: "net.inet.carp.preempt: 1\n", stderr: "" });
  expect(sysctl(dir, "net.inet.carp.preempt=0")).toMatchObject({ exitCode: 1, stderr: "sysctl: unknown oid 'net.inet.carp.preempt'\n" });
  expect(await readFile(join(dir, "oid.net.inet.carp.preempt"), "utf8")).toBe("1\n");
});

test("sysctl treats the demotion oid as unknown when sysctl.no-carp exists", async () => {
  const dir = await makeFakeDir();
  await writeFile(join(dir, "sysctl.no-carp"), "");
  const expected = { exitCode: 1, stdout: "", stderr: `sysctl: unknown oid '${OID}'\n` };
  expect(sysctl(dir, OID)).toEqual(expected);
  expect(sysctl(dir, "-n", OID)).toEqual(expected);
  expect(sysctl(dir, `${OID}=${DEMOTE}`)).toEqual(expected);
  expect(existsSync(join(dir, "demotion"))).toBe(false);
});

test("sysctl write fails with EPERM when sysctl.eperm exists, reads still work", async () => {
  const dir = await makeFakeDir();
  await writeFile(join(dir, "demotion"), "240\n");
  await writeFile(join(dir, "sysctl.eperm"), "");
  const result = sysctl(dir, `${OID}=${DEMOTE}`);
  expect(result.exitCode).toBe(1);
  expect(result.stderr).toBe(`sysctl: ${OID}=${DEMOTE}: Operation not permitted\n`);
  // Like FreeBSD, the old value is shown before the write is attempted.
  expect(result.stdout).toBe(`${OID}: 240\n`);
  expect(readDemotion(dir)).toBe("240");
  expect(sysctl(dir, OID)).toEqual({ exitCode: 0, stdout: `${OID}: 240\n`, stderr: "" });
});

test("sysctl rejects values that are not integers", async () => {
  const dir = await makeFakeDir();
  for (const value of ["abc", "1.5", "--1", "+1", "1e3", "0x10", " 1", "99999999999", "2147483648"]) {
    expect(sysctl(dir, `${OID}=${value}`)).toEqual({
      exitCode: 1,
      stdout: "",
      stderr: `sysctl: invalid integer '${value}'\n`,
    });
  }
  expect(sysctl(dir, `${OID}=`)).toEqual({ exitCode: 1, stdout: "", stderr: "sysctl: empty numeric value\n" });
  expect(readDemotion(dir)).toBe("0");
});

test("sysctl rejects unknown flags and a missing oid with usage", async () => {
  const dir = await makeFakeDir();
  const bad = sysctl(dir, "-x", OID);
  expect(bad.exitCode).toBe(1);
  expect(bad.stderr).toStartWith("sysctl: illegal option -- x\nusage: sysctl ");
  expect(sysctl(dir).stderr).toStartWith("usage: sysctl ");
  expect(sysctl(dir).exitCode).toBe(1);
});

test("sysctl records each invocation's arguments in sysctl.calls", async () => {
  const dir = await makeFakeDir();
  sysctl(dir, "-n", OID);
  sysctl(dir, `${OID}=${DEMOTE}`);
  sysctl(dir, "net.inet.carp.nope");
  const calls = await readFile(join(dir, "sysctl.calls"), "utf8");
  expect(calls).toBe(`-n ${OID}\n${OID}=${DEMOTE}\nnet.inet.carp.nope\n`);
});

test("sysctl adds atomically: 20 concurrent demotions from 0 end at 20971520", async () => {
  const dir = await makeFakeDir();
  const writers = Array.from({ length: 20 }, () =>
    Bun.spawn([join(dir, "sysctl"), "-n", `${OID}=${DEMOTE}`], { stdout: "pipe", stderr: "pipe" }),
  );
  const outputs = await Promise.all(writers.map((proc) => new Response(proc.stdout).text()));
  expect(await Promise.all(writers.map((proc) => proc.exited))).toEqual(Array(20).fill(0));
  expect(readDemotion(dir)).toBe(String(20 * DEMOTE));
  // Each writer saw a distinct OLD value: no two read-add-writes overlapped.
  const olds = outputs.map((out) => Number(out.split(" -> ")[0])).sort((a, b) => a - b);
  expect(olds).toEqual(Array.from({ length: 20 }, (_, i) => i * DEMOTE));
});

test("sysctl sleeps sysctl.delay seconds before reads and writes", async () => {
  const dir = await makeFakeDir();
  await writeFile(join(dir, "sysctl.delay"), "0.2\n");
  let started = performance.now();
  expect(readDemotion(dir)).toBe("0");
  expect(performance.now() - started).toBeGreaterThanOrEqual(200);
  // Two delayed writes started together still both land.
  started = performance.now();
  const writers = [1, 2].map(() => Bun.spawn([join(dir, "sysctl"), `${OID}=${DEMOTE}`], { stdout: "ignore" }));
  expect(await Promise.all(writers.map((proc) => proc.exited))).toEqual([0, 0]);
  // The sleep happens before the lock, so the writers sleep in parallel.
  expect(performance.now() - started).toBeLessThan(1500);
  await rm(join(dir, "sysctl.delay"));
  expect(readDemotion(dir)).toBe(String(2 * DEMOTE));
});

// --- fake logger ---

test("logger appends TAG PRI: MESSAGE with words joined by single spaces", async () => {
  const dir = await makeFakeDir();
  const args = ["-t", "carp", "-p", "daemon.warning", "carp", "promoted", "by", "1048576", "due to service recovery"];
  expect(runTool(dir, "logger", args)).toEqual({ exitCode: 0, stdout: "", stderr: "" });
  runTool(dir, "logger", ["-tcarp", "-pdaemon.warning", "second"]);
  expect(await readFile(join(dir, "syslog"), "utf8")).toBe(
    "carp daemon.warning: carp promoted by 1048576 due to service recovery\ncarp daemon.warning: second\n",
  );
});

test("logger treats words after -- as the message, even if they look like options", async () => {
  const dir = await makeFakeDir();
  const result = runTool(dir, "logger", ["-t", "carp", "-p", "daemon.warning", "--", "-p", "x"]);
  expect(result.exitCode).toBe(0);
  expect(await readFile(join(dir, "syslog"), "utf8")).toBe("carp daemon.warning: -p x\n");
});

test("logger logs each stdin line when given no message", async () => {
  const dir = await makeFakeDir();
  runTool(dir, "logger", ["-t", "carp", "-p", "daemon.warning"], "one\ntwo");
  expect(await readFile(join(dir, "syslog"), "utf8")).toBe("carp daemon.warning: one\ncarp daemon.warning: two\n");
});

test("logger fails without writing when logger.fail exists", async () => {
  const dir = await makeFakeDir();
  await writeFile(join(dir, "logger.fail"), "");
  expect(runTool(dir, "logger", ["-t", "carp", "-p", "daemon.warning", "hello"])).toEqual({
    exitCode: 1,
    stdout: "",
    stderr: "logger: cannot connect to syslogd\n",
  });
  expect(existsSync(join(dir, "syslog"))).toBe(false);
});

test("logger rejects unknown options and priority names", async () => {
  const dir = await makeFakeDir();
  const bad = runTool(dir, "logger", ["-i", "-t", "carp", "hello"]);
  expect(bad.exitCode).toBe(1);
  expect(bad.stderr).toStartWith("logger: illegal option -- i\nusage: logger ");
  const badPri = runTool(dir, "logger", ["-p", "daemon.warnx", "hello"]);
  expect(badPri).toEqual({ exitCode: 1, stdout: "", stderr: "logger: unknown priority name: warnx\n" });
  expect(runTool(dir, "logger", ["-p", "demon.warning", "hello"]).stderr).toBe("logger: unknown facility name: demon\n");
  expect(existsSync(join(dir, "syslog"))).toBe(false);
});

// --- fixture hook scripts ---

test("every fixture script is executable, the no-shebang ones have no #! line", async () => {
  const names = await readdir(SCRIPTS_DIR);
  expect(names.sort()).toEqual([
    "bad-shebang",
    "exit7",
    "fail",
    "flood",
    "fork-and-exit",
    "hang",
    "hang-ignore-term",
    "hang-with-children",
    "no-shebang-exit0",
    "no-shebang-exit1",
    "pass",
    "self-kill",
    "set-m-background",
    "setsid-background",
    "slow-pass",
  ]);
  for (const name of names) {
    expect({ name, executable: ((await stat(join(SCRIPTS_DIR, name))).mode & 0o111) === 0o111 }).toEqual({
      name,
      executable: true,
    });
  }
  expect(await readFile(join(SCRIPTS_DIR, "no-shebang-exit1"), "utf8")).toBe("exit 1\n");
  expect(await readFile(join(SCRIPTS_DIR, "no-shebang-exit0"), "utf8")).toBe("exit 0\n");
  expect(await readFile(join(SCRIPTS_DIR, "bad-shebang"), "utf8")).toStartWith("#!/nonexistent/interpreter\n");
});

test("simple fixture scripts report what their names say", () => {
  const run = (name: string) => {
    const result = Bun.spawnSync([join(SCRIPTS_DIR, name)]);
    return {
      exitCode: result.exitCode,
      signalCode: result.signalCode ?? null,
      stdout: result.stdout.toString(),
      stderr: result.stderr.toString(),
    };
  };
  expect(run("pass")).toEqual({ exitCode: 0, signalCode: null, stdout: "ok\n", stderr: "" });
  expect(run("fail")).toEqual({
    exitCode: 1,
    signalCode: null,
    stdout: "service down\n",
    stderr: "details on stderr\n",
  });
  expect(run("exit7").exitCode).toBe(7);
  expect(run("self-kill").signalCode).toBe("SIGKILL");
  // The kernel cannot exec these: execvp's fallback runs them with /bin/sh.
  expect(Bun.spawnSync(["/bin/sh", join(SCRIPTS_DIR, "no-shebang-exit1")]).exitCode).toBe(1);
  expect(Bun.spawnSync(["/bin/sh", join(SCRIPTS_DIR, "no-shebang-exit0")]).exitCode).toBe(0);
});

test("flood writes exactly 50 MiB and passes", () => {
  const result = Bun.spawnSync([join(SCRIPTS_DIR, "flood")]);
  expect(result.exitCode).toBe(0);
  expect(result.stdout.length).toBe(52428800);
});

test("fork-and-exit exits at once while a grandchild keeps the pipe open", async () => {
  const proc = Bun.spawn([join(SCRIPTS_DIR, "fork-and-exit")], { stdout: "pipe", detached: true });
  try {
    expect(await readFirstLine(proc.stdout)).toBe("forked");
    expect(await proc.exited).toBe(0);
  } finally {
    process.kill(-proc.pid, "SIGKILL");
  }
});

test("hang-ignore-term survives SIGTERM to its group and dies on SIGKILL", async () => {
  const proc = Bun.spawn([join(SCRIPTS_DIR, "hang-ignore-term")], { stdout: "pipe", detached: true });
  try {
    const line = await readFirstLine(proc.stdout);
    expect(line).toMatch(/^pids: \d+ \d+$/);
    const [parentPid, childPid] = line.slice("pids: ".length).split(" ").map(Number) as [number, number];
    expect(parentPid).toBe(proc.pid);
    process.kill(-proc.pid, "SIGTERM");
    await Bun.sleep(200);
    expect([isAlive(parentPid), isAlive(childPid)]).toEqual([true, true]);
    process.kill(-proc.pid, "SIGKILL");
    expect(await proc.exited).not.toBe(0);
    expect(proc.signalCode).toBe("SIGKILL");
    expect(await waitUntil(() => !isAlive(childPid), 2000)).toBe(true);
  } finally {
    try {
      process.kill(-proc.pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
});

test("hang prints before hanging in a child sleep", async () => {
  const proc = Bun.spawn([join(SCRIPTS_DIR, "hang")], { stdout: "pipe", detached: true });
  expect(await readFirstLine(proc.stdout)).toBe("hanging");
  process.kill(-proc.pid, "SIGKILL");
  await proc.exited;
  expect(proc.signalCode).toBe("SIGKILL");
});

// --- example hooks ---

test("example hooks are executable and the demo hook always fails", async () => {
  for (const path of [
    "test_service",
    "examples/frr_ospf_full",
    "examples/daemon_pidfile",
    "examples/gateway_ping",
    "examples/notify_webhook",
  ]) {
    expect({ path, mode: (await stat(join(HOOKS_DIR, path))).mode & 0o111 }).toEqual({ path, mode: 0o111 });
    expect({ path, syntax: Bun.spawnSync(["/bin/sh", "-n", join(HOOKS_DIR, path)]).exitCode }).toEqual({
      path,
      syntax: 0,
    });
  }
  expect(Bun.spawnSync([join(HOOKS_DIR, "test_service")]).exitCode).toBe(1);
});

test("gateway_ping refuses to run until GATEWAY is set", () => {
  // Safe to run here: with GATEWAY empty it exits before sending anything.
  const result = Bun.spawnSync([join(HOOKS_DIR, "examples", "gateway_ping")]);
  expect(result.exitCode).toBe(2);
  expect(result.stderr.toString()).toBe("set GATEWAY in this script\n");
});

test.skipIf(Bun.which("vtysh") !== null)("frr_ospf_full fails closed without vtysh", () => {
  const result = Bun.spawnSync([join(HOOKS_DIR, "examples", "frr_ospf_full")]);
  expect(result.exitCode).toBe(1);
  expect(result.stderr.toString()).toContain("vtysh not found");
});

test.skipIf(existsSync("/var/run/unbound.pid"))("daemon_pidfile fails when the pidfile is missing", () => {
  const result = Bun.spawnSync([join(HOOKS_DIR, "examples", "daemon_pidfile")]);
  expect(result.exitCode).toBe(1);
  expect(result.stderr.toString()).toContain("/var/run/unbound.pid not found");
});
