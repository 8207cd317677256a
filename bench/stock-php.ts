/**
 * The real stock OPNsense script (opnsense/core `src/sbin/carp_service_status`, PHP) run on this
 * Linux machine, for the bench and for the test that holds this harness to the stock behaviour.
 *
 * How it runs (the third-party README's recipe): Debian's php-cli, with an include path holding
 * core's util.inc and IPv6.inc and an empty config.inc (the real one parses /conf/config.xml; the
 * script uses nothing it defines). Its paths are fixed, so a scratch tree stands in for them
 * through bind mounts in a private mount namespace (stock-namespace.sh): the hooks directory, the
 * lock file's /var/run, /sbin with the repository's fake FreeBSD sysctl, and /dev/log, where
 * syslog(3) sends its records (the stock script logs with PHP's syslog(), not logger(1)).
 *
 * One process inside that namespace (command-runner.ts) spawns and times every command of a
 * comparison, ours included, so both pay the same and neither pays for the namespace. The fake
 * sysctl keeps its "kernel" beside itself in ROOT/sbin, which is /sbin inside: ours, configured
 * with ROOT/sbin/sysctl, and the stock script's /sbin/sysctl share one demotion value.
 */
import { dlopen, FFIType, ptr } from "bun:ffi";
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { REPO } from "./report-files.ts";

/** What runs the stock script: a php-cli and an unpacked opnsense/core tree. */
export interface StockPhp {
  php: string;
  /** The opnsense/core tree (its src/sbin/carp_service_status and src/etc/inc). */
  core: string;
}

/** One command for command-runner.ts. */
export interface RunRequest {
  argv: string[];
  /** Keep stdout and stderr (else they go to /dev/null, as in a timed run). */
  capture?: boolean;
  /** Variables set on top of the runner's environment. */
  env?: Record<string, string>;
}

export interface RunReply {
  /** From spawn to exit, as measured inside the runner. */
  ms: number;
  /** CPU time, user and system, of the command and the descendants it waited for. */
  cpuMs: number;
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** A record the stock script sent to /dev/log. */
export interface SyslogRecord {
  /** facility * 8 + severity: LOG_DAEMON|LOG_WARNING is 28. */
  priority: number;
  tag: string;
  message: string;
}

/** The stock script's place in an opnsense/core tree. */
export const STOCK_SCRIPT = "src/sbin/carp_service_status";
/** The stock script's fixed paths, as it sees them inside the namespace. */
export const STOCK_PATHS = {
  hooksDir: "/usr/local/etc/rc.carp_service_status.d",
  lockFile: "/var/run/carp_service_status.lock",
  sysctl: "/sbin/sysctl",
} as const;

const NAMESPACE_SCRIPT = join(REPO, "bench", "stock-namespace.sh");
const RUNNER = join(REPO, "bench", "command-runner.ts");
const FIXTURES = join(REPO, "test", "fixtures");
/** Where scripts/opnsense-testenv.sh unpacks core and writes env.json (as test/plugin/testenv.ts reads it). */
const TESTENV_DIR = process.env.OPNSENSE_TESTENV ?? join(REPO, ".opnsense-testenv");

/** Why the namespace cannot be made here, or null when it can. */
export function namespaceProblem(): string | null {
  if (process.platform !== "linux") return `bind mounts in a private mount namespace are a Linux recipe (this is ${process.platform})`;
  if (process.getuid?.() !== 0)
    return `the stand-ins for the stock script's fixed paths are bind mounts, which need root (uid ${process.getuid?.()})`;
  for (const tool of ["unshare", "mount"]) {
    if (Bun.which(tool) === null) return `${tool}(8) is missing (Debian package util-linux / mount)`;
  }
  if (!existsSync("/usr/local/etc")) return "/usr/local/etc does not exist, so there is nothing to mount the hooks directory's stand-in on";
  return null;
}

/**
 * Makes sure php-cli and the opnsense/core tree are here, installing and unpacking them with
 * scripts/opnsense-testenv.sh (apt-get when something is missing), and says why not otherwise.
 */
export function prepareStockPhp(): StockPhp | { problem: string } {
  const problem = namespaceProblem();
  if (problem !== null) return { problem };
  const setup = Bun.spawnSync(["bash", join(REPO, "scripts", "opnsense-testenv.sh")], { cwd: REPO, stdout: "pipe", stderr: "pipe" });
  if (setup.exitCode !== 0) {
    const said = setup.stderr.toString().trim().split("\n").at(-1) ?? "";
    return { problem: `scripts/opnsense-testenv.sh could not install php-cli or unpack opnsense/core (exit ${setup.exitCode}): ${said}` };
  }
  const env = JSON.parse(readFileSync(join(TESTENV_DIR, "env.json"), "utf8")) as { php: string; core: string };
  if (!existsSync(join(env.core, STOCK_SCRIPT)))
    return { problem: `${join(env.core, STOCK_SCRIPT)} is missing after scripts/opnsense-testenv.sh` };
  return { php: env.php, core: env.core };
}

/** The version of a php-cli, for the report. */
export function phpVersion(php: string): string {
  return Bun.spawnSync([php, "-r", "echo PHP_VERSION;"]).stdout.toString().trim();
}

// --- the syslog socket: Bun has no Unix datagram sockets (REFERENCE.md), so libc through bun:ffi.

const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
/** sizeof(struct sockaddr_un): sa_family_t, then sun_path[108]. */
const SOCKADDR_UN_BYTES = 110;

interface DatagramSocket {
  /** Every datagram queued so far (non-blocking). */
  receive(): string[];
  close(): void;
}

function bindDatagramSocket(path: string): DatagramSocket {
  const { symbols: libc } = dlopen("libc.so.6", {
    socket: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
    bind: { args: [FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
    recv: { args: [FFIType.i32, FFIType.ptr, FFIType.u64, FFIType.i32], returns: FFIType.i64_fast },
    close: { args: [FFIType.i32], returns: FFIType.i32 },
  });
  const pathBytes = Buffer.from(path);
  if (pathBytes.length >= SOCKADDR_UN_BYTES - 2) throw new Error(`Socket path "${path}" is too long for sockaddr_un`);
  const address = new Uint8Array(SOCKADDR_UN_BYTES);
  new DataView(address.buffer).setUint16(0, AF_UNIX, true);
  address.set(pathBytes, 2);
  const fd = libc.socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw new Error("socket(AF_UNIX, SOCK_DGRAM) failed");
  if (libc.bind(fd, ptr(address), 2 + pathBytes.length + 1) !== 0) {
    libc.close(fd);
    throw new Error(`Cannot bind a datagram socket at "${path}"`);
  }
  const buffer = new Uint8Array(8192);
  return {
    receive() {
      const datagrams: string[] = [];
      for (;;) {
        const length = Number(libc.recv(fd, ptr(buffer), buffer.length, 0));
        if (length < 0) return datagrams;
        datagrams.push(Buffer.from(buffer.subarray(0, length)).toString());
      }
    },
    close: () => libc.close(fd),
  };
}

/** `<PRI>Mmm dd hh:mm:ss TAG: MESSAGE`, as glibc's syslog(3) writes to /dev/log. */
export function parseSyslogRecord(datagram: string): SyslogRecord {
  const match = /^<(\d+)>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d ([^:[\s]+)(?:\[\d+\])?: (.*)$/s.exec(datagram);
  if (!match) throw new Error(`Not a syslog record: ${JSON.stringify(datagram)}`);
  return { priority: Number(match[1]), tag: match[2]!, message: match[3]! };
}

// --- the runner

/** Where the stock script runs, and the process that runs and times every command of a comparison. */
export interface StockBench {
  /** True when the runner is inside the namespace, so `stockArgv` runs the stock script. */
  readonly inNamespace: boolean;
  /** The stock script's argv (inside the namespace), or null without one. */
  readonly stockArgv: string[] | null;
  /** The fake FreeBSD sysctl and logger, and their state: /sbin inside the namespace. */
  readonly sbin: string;
  readonly sysctl: string;
  readonly logger: string;
  /** The stock lock file as seen from outside (/var/run/carp_service_status.lock inside). */
  readonly lockFile: string;
  /** Points the stock hooks directory (/usr/local/etc/rc.carp_service_status.d inside) at `dir`. */
  useHooks(dir: string): void;
  /** Runs argv to its end in the runner; `ms` is spawn to exit. */
  run(argv: string[], options?: { capture?: boolean; env?: Record<string, string> }): Promise<RunReply>;
  /** The records sent to /dev/log inside the namespace since the last call. */
  takeSyslog(): SyslogRecord[];
  close(): Promise<void>;
}

/** The scratch tree under `dir`: ROOT/{run,etc,sbin,dev,inc}. */
function makeTree(root: string, stock: StockPhp | null): void {
  for (const sub of ["run", "etc", "sbin", "dev", "inc", "hooks"]) mkdirSync(join(root, sub), { recursive: true, mode: 0o755 });
  symlinkSync(join(FIXTURES, "sysctl"), join(root, "sbin", "sysctl"));
  symlinkSync(join(FIXTURES, "logger"), join(root, "sbin", "logger"));
  symlinkSync(join(root, "hooks"), join(root, "etc", "rc.carp_service_status.d"));
  // Mount points for the host's devices, and the links every /dev has.
  for (const node of ["null", "zero", "full", "random", "urandom", "tty", "ptmx"]) writeFileSync(join(root, "dev", node), "");
  for (const dir of ["pts", "shm", "mqueue"]) mkdirSync(join(root, "dev", dir));
  for (const [name, target] of [
    ["fd", "/proc/self/fd"],
    ["stdin", "/proc/self/fd/0"],
    ["stdout", "/proc/self/fd/1"],
    ["stderr", "/proc/self/fd/2"],
  ] as const) {
    symlinkSync(target, join(root, "dev", name));
  }
  if (stock !== null) {
    for (const inc of ["util.inc", "IPv6.inc"]) copyFileSync(join(stock.core, "src", "etc", "inc", inc), join(root, "inc", inc));
    writeFileSync(join(root, "inc", "config.inc"), "<?php\n");
  }
}

/** Reads the runner's replies, one JSON line each. */
function lineReader(stream: ReadableStream<Uint8Array>): () => Promise<string> {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let buffered = "";
  return async () => {
    for (;;) {
      const newline = buffered.indexOf("\n");
      if (newline >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        return line;
      }
      const { value, done } = await reader.read();
      if (done) throw new Error("the command runner exited");
      buffered += decoder.decode(value, { stream: true });
    }
  };
}

/**
 * Makes the scratch tree in `dir` and starts the runner: inside the stock script's namespace when
 * `stock` is given (throws, with the mount script's error, when that fails), else outside it.
 */
export async function startStockBench(dir: string, stock: StockPhp | null): Promise<StockBench> {
  const root = join(dir, "stock-root");
  makeTree(root, stock);
  const syslog = stock !== null ? bindDatagramSocket(join(root, "dev", "log")) : null;
  const runnerArgv = [process.execPath, RUNNER];
  const argv =
    stock !== null ? ["unshare", "--mount", "--propagation", "private", "sh", NAMESPACE_SCRIPT, root, ...runnerArgv] : runnerArgv;
  const proc = Bun.spawn(argv, { stdin: "pipe", stdout: "pipe", stderr: "pipe" });
  const readLine = lineReader(proc.stdout);
  try {
    const first = await readLine();
    if (first !== JSON.stringify({ ready: true })) throw new Error(`unexpected first line ${JSON.stringify(first)}`);
  } catch (error) {
    proc.kill();
    await proc.exited;
    syslog?.close();
    const stderr = (await new Response(proc.stderr).text()).trim();
    throw new Error(`The command runner did not start (${argv.join(" ")}): ${stderr || (error as Error).message}`);
  }
  let queue: Promise<unknown> = Promise.resolve();
  const hooksLink = join(root, "etc", "rc.carp_service_status.d");
  return {
    inNamespace: stock !== null,
    stockArgv:
      stock === null
        ? null
        : [
            stock.php,
            "-d",
            `include_path=${join(root, "inc")}:${join(stock.core, "src", "opnsense", "mvc")}`,
            join(stock.core, STOCK_SCRIPT),
          ],
    sbin: join(root, "sbin"),
    sysctl: join(root, "sbin", "sysctl"),
    logger: join(root, "sbin", "logger"),
    lockFile: join(root, "run", "carp_service_status.lock"),
    useHooks(hooksDir) {
      // A new link renamed over the old one: the stock script never sees the directory missing.
      const next = `${hooksLink}.next`;
      rmSync(next, { force: true });
      symlinkSync(hooksDir, next);
      renameSync(next, hooksLink);
    },
    run(command, options = {}) {
      const request: RunRequest = { argv: command, capture: options.capture === true, env: options.env };
      const reply = queue.then(async () => {
        proc.stdin.write(`${JSON.stringify(request)}\n`);
        await proc.stdin.flush();
        const answer = JSON.parse(await readLine()) as RunReply | { error: string };
        if ("error" in answer) throw new Error(`Cannot run ${command.join(" ")}: ${answer.error}`);
        return answer;
      });
      queue = reply.catch(() => {});
      return reply;
    },
    takeSyslog: () => (syslog === null ? [] : syslog.receive().map(parseSyslogRecord)),
    async close() {
      await queue;
      proc.stdin.end();
      await proc.exited;
      syslog?.close();
    },
  };
}
