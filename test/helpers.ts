/** Scratch trees for tests: a hooks dir, the fake sysctl and logger, a config file. */
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { type Config, parseConfig } from "../src/config/config.ts";

export const REPO = resolve(import.meta.dir, "..");
export const CLI = join(REPO, "src", "cli.ts");
export const FIXTURES = join(REPO, "test", "fixtures");
export const SCRIPTS = join(FIXTURES, "scripts");

/**
 * chmod that keeps setuid, setgid and the sticky bit: Bun 1.3.14's chmodSync (and chmod, fchmod)
 * drops them, leaving 0755 on disk for 04755. chmod(1) sets them under either Bun.
 */
export function setMode(path: string, mode: number): void {
  chmodSync(path, mode);
  if ((mode & 0o7000) === 0) return;
  const run = Bun.spawnSync(["chmod", mode.toString(8), path]);
  if (run.exitCode !== 0) throw new Error(`chmod ${mode.toString(8)} "${path}" failed: ${run.stderr.toString()}`);
}

export interface Sandbox {
  dir: string;
  hooksDir: string;
  configFile: string;
  config: Config;
  /** Adds a hook: a fixture script by name, or literal content. */
  addHook(name: string, from: { fixture: string } | { content: string }, mode?: number): string;
  /** The fake kernel's demotion value. */
  demotion(): number;
  setDemotion(value: number): void;
  /** Lines the fake logger received. */
  syslog(): string[];
  /** Argument lines the fake sysctl received. */
  sysctlCalls(): string[];
  /** Writes the config file with these keys on top of the sandbox's own. */
  writeConfig(extra?: Record<string, unknown>): string;
  cleanup(): void;
}

function tomlValue(value: unknown): string {
  return typeof value === "string" ? JSON.stringify(value) : String(value);
}

export function makeSandbox(extra: Partial<Config> = {}): Sandbox {
  const dir = mkdtempSync(join(tmpdir(), "carp-test-"));
  chmodSync(dir, 0o755);
  const hooksDir = join(dir, "hooks");
  const bin = join(dir, "bin");
  mkdirSync(hooksDir, { mode: 0o755 });
  mkdirSync(bin, { mode: 0o755 });
  symlinkSync(join(FIXTURES, "sysctl"), join(bin, "sysctl"));
  symlinkSync(join(FIXTURES, "logger"), join(bin, "logger"));
  const base = {
    hooksDir,
    sysctl: join(bin, "sysctl"),
    logger: join(bin, "logger"),
    lockFile: join(dir, "carp_service_status.lock"),
    stateFile: join(dir, "carp_service_status.state"),
    maintenanceFile: join(dir, "carp_service_status.maintenance"),
    socket: join(dir, "carp_service_status.sock"),
    hookTimeoutMs: 5000,
    killGraceMs: 300,
    logLevel: "warn",
    // Tests read the daemon's and check's logs as pino JSON lines (spawnDaemon().logs()).
    logFormat: "json",
  };
  const configFile = join(dir, "carp_service_status.toml");
  const sandbox: Sandbox = {
    dir,
    hooksDir,
    configFile,
    config: parseConfig({ ...base, ...extra }),
    addHook(name, from, mode = 0o755) {
      const path = join(hooksDir, name);
      if ("fixture" in from) copyFileSync(join(SCRIPTS, from.fixture), path);
      else writeFileSync(path, from.content);
      setMode(path, mode);
      return path;
    },
    demotion() {
      const file = join(bin, "demotion");
      return existsSync(file) ? Number(readFileSync(file, "utf8").trim()) : 0;
    },
    setDemotion(value) {
      writeFileSync(join(bin, "demotion"), `${value}\n`);
    },
    syslog() {
      const file = join(bin, "syslog");
      return existsSync(file) ? readFileSync(file, "utf8").split("\n").filter(Boolean) : [];
    },
    sysctlCalls() {
      const file = join(bin, "sysctl.calls");
      return existsSync(file) ? readFileSync(file, "utf8").split("\n").filter(Boolean) : [];
    },
    writeConfig(more = {}) {
      const keys = { ...base, ...extra, ...more };
      writeFileSync(
        configFile,
        `${Object.entries(keys)
          .map(([k, v]) => `${k} = ${tomlValue(v)}`)
          .join("\n")}\n`,
      );
      return configFile;
    },
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
  sandbox.writeConfig();
  return sandbox;
}

/** Runs the CLI as a real process (`prefix`: a wrapper such as setpriv before it). */
export async function runCli(args: string[], options: { env?: Record<string, string>; prefix?: string[] } = {}) {
  const proc = Bun.spawn([...(options.prefix ?? []), process.execPath, CLI, ...args], {
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, ...options.env },
  });
  const [stdout, stderr, exitCode] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { stdout, stderr, exitCode };
}

/** The switch files of the fake sysctl/logger (sysctl.no-carp, sysctl.eperm, logger.fail, sysctl.delay). */
export function setFakeSwitch(sandbox: Sandbox, name: string, content = ""): void {
  writeFileSync(join(sandbox.dir, "bin", name), content);
}

/** A daemon process started from the CLI, with its stderr (pino JSON lines) collected. */
export interface DaemonProcess {
  proc: Bun.Subprocess<"ignore", "pipe", "pipe">;
  /** Parsed log lines so far. */
  logs(): Array<Record<string, unknown>>;
  /** All of stderr so far (log lines and CLI errors). */
  stderr(): string;
  /** Waits until a log line matches. */
  waitForLog(match: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** GET /status or POST /evaluate over the socket. */
  // biome-ignore lint/suspicious/noExplicitAny: tests read a route's reply and an error reply alike
  call(route: "status" | "evaluate"): Promise<any>;
  /** SIGTERM and wait for the exit status. */
  stop(): Promise<number>;
}

export async function waitFor<T>(probe: () => T | Promise<T>, what: string, timeoutMs = 5000): Promise<NonNullable<T>> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value as NonNullable<T>;
    } catch {
      // Not yet.
    }
    if (performance.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await Bun.sleep(20);
  }
}

/** Starts `daemon --config` on the sandbox; resolves once it has started (or has exited). */
export async function spawnDaemon(
  sandbox: Sandbox,
  options: {
    waitForSocket?: boolean;
    args?: string[];
    /** `ulimit -n` for it (bash sets it, then execs the daemon: the same pid). */
    fdLimit?: number;
    env?: Record<string, string>;
    /** A command the daemon runs under (e.g. faketime, setpriv). */
    prefix?: string[];
  } = {},
): Promise<DaemonProcess> {
  const argv = [...(options.prefix ?? []), process.execPath, CLI, "daemon", "--config", sandbox.configFile, ...(options.args ?? [])];
  const command = options.fdLimit === undefined ? argv : ["bash", "-c", `ulimit -n ${options.fdLimit} && exec "$@"`, "bash", ...argv];
  const proc = Bun.spawn(command, {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, ...options.env },
  });
  let text = "";
  void (async () => {
    for await (const chunk of proc.stderr) text += new TextDecoder().decode(chunk);
  })();
  const logs = () =>
    text
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  const socket = sandbox.config.socket as string;
  const daemon: DaemonProcess = {
    proc,
    logs,
    stderr: () => text,
    waitForLog: (match, timeoutMs) => waitFor(() => logs().find(match), "a log line", timeoutMs),
    async call(route) {
      const method = route === "evaluate" ? "POST" : "GET";
      const response = await fetch(`http://localhost/${route}`, { method, unix: socket });
      return response.json();
    },
    async stop() {
      proc.kill("SIGTERM");
      return proc.exited;
    },
  };
  if (options.waitForSocket ?? true) {
    await waitFor(() => proc.exitCode !== null || daemon.call("status"), "the daemon's socket");
  }
  return daemon;
}

/** Alive and not a zombie waiting for a reaper (a container's init may not reap). */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

/**
 * Holds `lockFile` with flock(1), as the stock script does, for `seconds`; resolves once the lock is
 * held (flock's command has started), not after a guess at how long that takes.
 */
export async function holdLock(lockFile: string, seconds: number, options: { detached?: boolean } = {}): Promise<Bun.Subprocess> {
  const held = `${lockFile}.held-by-test`;
  rmSync(held, { force: true });
  const holder = Bun.spawn(["flock", lockFile, "sh", "-c", `: > "$0"; exec sleep ${seconds}`, held], { detached: options.detached });
  await waitFor(() => existsSync(held), "flock(1) to hold the lock");
  return holder;
}
