/** The installed texts: the rc.d script, the configd actions and the shim, run by real shells. */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { listenSocket, type SocketServer } from "../src/daemon/socket-server.ts";
import { NODE_PATHS, type NodePaths } from "../src/install/layout.ts";
import {
  fillTemplate,
  isShim,
  renderConfigdActions,
  renderMonitorHook,
  renderRcScript,
  renderShim,
  renderSyshook,
  SHIM_MARKER,
} from "../src/install/templates.ts";
import { REPLY_IDLE_TIMEOUT_MS } from "../src/protocol/wire.ts";
import { waitFor } from "./helpers.ts";
import { tool } from "./tools.ts";

const SHELLCHECK = tool("shellcheck", "shellcheck");
const PYTHON = tool("python3", "python3");
// OpenBSD netcat, as in FreeBSD's base system (Debian: netcat-openbsd; .ci/run installs it).
const NC = tool("nc", "netcat-openbsd");
/** nc's -w in the installed scripts: the clients' reply idle deadline. */
const NC_WAIT_S = REPLY_IDLE_TIMEOUT_MS / 1000;
/** Enough of an evaluation for the socket server to send. */
const EVALUATION = { action: "none", services: [], demotionAfter: 0 };

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "carp-files-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function write(name: string, text: string, mode = 0o755): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  chmodSync(path, mode);
  return path;
}

/** A stand-in for the tool: records its arguments, prints a line on each stream, exits $FAKE_EXIT. */
function fakeBinary(): string {
  return write(
    "carp-service-status",
    `#!/bin/sh\necho "$*" >> "${dir}/calls"\necho "table of results"\necho "carp-service-status: boom" >&2\nexit "\${FAKE_EXIT:-0}"\n`,
  );
}

function calls(): string[] {
  try {
    return readFileSync(join(dir, "calls"), "utf8").split("\n").filter(Boolean);
  } catch {
    return [];
  }
}

async function sh(argv: string[], env: Record<string, string> = {}) {
  const proc = Bun.spawn(argv, { stdout: "pipe", stderr: "pipe", env: { PATH: "/usr/bin:/bin", ...env } });
  const [stdout, stderr, exitCode] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { stdout, stderr, exitCode };
}

function paths(extra: Partial<NodePaths>): NodePaths {
  return { ...NODE_PATHS, ...extra };
}

describe("templates", () => {
  test("every placeholder must have a value", () => {
    expect(fillTemplate("a %%X%% b", { X: "1" })).toBe("a 1 b");
    expect(() => fillTemplate("%%MISSING%%", {})).toThrow('Template placeholder "%%MISSING%%" has no value');
  });

  test("the texts refer to the node's absolute paths", () => {
    expect(renderRcScript()).toContain('program="/usr/local/bin/carp-service-status"');
    // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion in the rc.d script
    expect(renderRcScript()).toContain(': "${carp_service_status_config:=/usr/local/etc/carp_service_status.toml}"');
    expect(renderShim()).toContain(`| /usr/bin/nc -U -w ${NC_WAIT_S} /var/run/carp_service_status.sock 2>/dev/null)`);
    expect(renderShim()).toContain("\n/usr/local/bin/carp-service-status configd evaluate >/dev/null\n");
    expect(renderConfigdActions()).toContain("command:/usr/local/bin/carp-service-status configd evaluate\n");
    expect(renderSyshook()).toContain(`| /usr/bin/nc -U -w ${NC_WAIT_S} /var/run/carp_service_status.sock 2>/dev/null)`);
  });
});

describe("rc.d script", () => {
  test("is valid sh", async () => {
    const script = write("carp_service_status", renderRcScript());
    const { exitCode, stderr } = await sh(["/bin/sh", "-n", script]);
    expect(stderr).toBe("");
    expect(exitCode).toBe(0);
  });

  test.skipIf(!SHELLCHECK)("passes shellcheck, apart from rc.subr's idioms", async () => {
    const script = write("carp_service_status", renderRcScript());
    // SC1091: rc.subr is not there to follow; SC2034: rc.subr reads command, rcvar, procname & co.
    const { stdout, exitCode } = await sh([SHELLCHECK!, "-s", "sh", "-e", "SC1091,SC2034", script]);
    expect(stdout).toBe("");
    expect(exitCode).toBe(0);
  });

  test("declares what rcorder and OPNsense's rc.opnsense look for", async () => {
    const text = renderRcScript();
    for (const line of ["# PROVIDE: carp_service_status", "# REQUIRE: LOGIN", "# KEYWORD: shutdown"]) expect(text).toContain(`\n${line}\n`);
    // rc.opnsense evals the first line matching `name *=` and every line matching `rcvar *=`.
    const script = write("carp_service_status", text);
    const probe = `eval "$(grep "name[[:blank:]]*=" "$1" | head -n 1)"; eval "$(grep "rcvar[[:blank:]]*=" "$1")"; echo "$name $rcvar"`;
    const { stdout } = await sh(["/bin/sh", "-c", probe, "probe", script]);
    expect(stdout).toBe("carp_service_status carp_service_status_enable\n");
  });

  /**
   * Runs the script against a stand-in rc.subr whose run_rc_command runs the script's precmd, cmd
   * and postcmd hooks and prints what its default action would run; pgrep and pkill are fakes too.
   */
  async function runRc(command: string, env: Record<string, string> = {}) {
    const binary = fakeBinary();
    const subr = write(
      "rc.subr",
      [
        "rc_pid=$FAKE_RC_PID",
        "load_rc_config() { :; }",
        'wait_for_pids() { echo "wait_for_pids $*"; }',
        "run_rc_command() {",
        '  case " start stop status $extra_commands " in *" $1 "*) ;; *) echo "unknown $1"; return 1 ;; esac',
        '  eval "_cmd=\\$${1}_cmd _precmd=\\$${1}_precmd _postcmd=\\$${1}_postcmd"',
        '  if [ -n "$_precmd" ]; then $_precmd || { echo "precmd failed"; return 1; }; fi',
        '  if [ -n "$_cmd" ]; then $_cmd || return; else echo "$1: $command $command_args"; fi',
        '  if [ -n "$_postcmd" ]; then $_postcmd; fi',
        "}",
      ].join("\n"),
      0o644,
    );
    const bin = join(dir, "bin");
    mkdirSync(bin, { recursive: true });
    writeFileSync(join(bin, "pgrep"), '#!/bin/sh\necho "pgrep $*" >&2\necho 4343\n', { mode: 0o755 });
    writeFileSync(join(bin, "pkill"), '#!/bin/sh\necho "pkill $*"\n', { mode: 0o755 });
    const script = write("carp_service_status", renderRcScript(paths({ binary })).replace(". /etc/rc.subr", `. ${subr}`));
    return { binary, ...(await sh(["/bin/sh", script, command], { PATH: `${bin}:/usr/bin:/bin`, FAKE_RC_PID: "4242", ...env })) };
  }

  test("starts the daemon under daemon(8), without --config while the config file is absent", async () => {
    const { binary, stdout, exitCode } = await runRc("start", { carp_service_status_config: join(dir, "missing.toml") });
    expect(exitCode).toBe(0);
    expect(stdout).toBe(
      `start: /usr/sbin/daemon -c -f -r -P /var/run/carp_service_status.pid -S -T carp-service-status -t carp_service_status ${binary} daemon --syslog \n`,
    );
    expect(calls()).toEqual(["config"]);
  });

  test("passes --config when the config file exists, and validates it first", async () => {
    const config = write("c.toml", "", 0o644);
    const { binary, stdout } = await runRc("start", { carp_service_status_config: config });
    expect(stdout).toEndWith(`${binary} daemon --syslog --config ${config}\n`);
    expect(calls()).toEqual([`config --config ${config}`]);
  });

  test("does not start on an invalid config", async () => {
    const { stdout } = await runRc("start", { FAKE_EXIT: "2" });
    expect(stdout).toBe("precmd failed\n");
  });

  test("status checks the supervisor's pidfile, then asks the daemon", async () => {
    const { stdout } = await runRc("status");
    expect(stdout).toStartWith("status: /usr/sbin/daemon -c -f -r -P /var/run/carp_service_status.pid ");
    expect(stdout).toEndWith("\ntable of results\n");
    expect(renderRcScript()).toContain('\nprocname="/usr/sbin/daemon"\n');
    expect(calls()).toEqual(["status"]);
  });

  test("stop signals the supervisor and then waits for the tool itself", async () => {
    const { stdout, stderr } = await runRc("stop");
    expect(stderr).toBe("pgrep -P 4242\n");
    expect(stdout).toEndWith("\nwait_for_pids 4343\n");
  });

  test("reload sends SIGHUP to the tool, not to daemon(8)", async () => {
    const { stdout } = await runRc("reload");
    expect(stdout).toBe("Reloading carp_service_status config file.\npkill -HUP -P 4242\n");
    const notRunning = await runRc("reload", { FAKE_RC_PID: "" });
    expect(notRunning.stdout).toBe("carp_service_status is not running.\n");
  });
});

describe("configd actions", () => {
  function sections(text: string): Record<string, Record<string, string>> {
    const result: Record<string, Record<string, string>> = {};
    let current: Record<string, string> | undefined;
    for (const line of text.split("\n")) {
      const section = /^\[(.+)\]$/.exec(line);
      if (section) result[section[1]!] = current = {};
      else if (current && line.includes(":") && !line.startsWith("#")) {
        const at = line.indexOf(":");
        current[line.slice(0, at)] = line.slice(at + 1);
      }
    }
    return result;
  }

  test("has evaluate and status, both `configd ACTION` of type script_output with a message", () => {
    const actions = sections(renderConfigdActions());
    expect(Object.keys(actions)).toEqual(["evaluate", "status"]);
    expect(actions.evaluate).toMatchObject({ command: "/usr/local/bin/carp-service-status configd evaluate", type: "script_output" });
    expect(actions.status).toMatchObject({ command: "/usr/local/bin/carp-service-status configd status", type: "script_output" });
    expect(actions.evaluate!.message).toBeTruthy();
    expect(actions.status!.message).toBeTruthy();
  });

  test.skipIf(!PYTHON)("parses with Python's configparser, as configd reads it", async () => {
    const file = write("actions.conf", renderConfigdActions(), 0o644);
    const code = `import configparser, json, sys\nc = configparser.ConfigParser()\nc.read(sys.argv[1])\nprint(json.dumps({s: dict(c.items(s)) for s in c.sections()}))`;
    const { stdout, exitCode } = await sh([PYTHON!, "-c", code, file]);
    expect(exitCode).toBe(0);
    expect(JSON.parse(stdout).evaluate.command).toBe("/usr/local/bin/carp-service-status configd evaluate");
  });
});

/** A stand-in daemon on a real socket (the socket server's own code) whose evaluate answers as told. */
async function standInDaemon(path: string, evaluate: () => Promise<unknown>) {
  const requests: string[] = [];
  const server = await listenSocket(path, {
    handlers: {
      evaluate: async () => {
        requests.push("evaluate");
        return (await evaluate()) as never;
      },
      status: () => ({}) as never,
      metrics: () => "",
      maintenance: () => ({}) as never,
    },
  });
  servers.push(server);
  return requests;
}

/**
 * A stand-in for a daemon that accepts a connection and then resets it at the request, or stays
 * silent (as a stopped one does: the kernel accepts for it).
 */
function brokenDaemon(path: string, behaviour: "reset" | "silent"): void {
  const listener = Bun.listen({
    unix: path,
    socket: {
      data(socket) {
        if (behaviour === "reset") socket.terminate();
      },
    },
  });
  servers.push({ close: () => listener.stop(true) });
}

const servers: Array<Pick<SocketServer, "close">> = [];
afterEach(() => {
  for (const server of servers.splice(0)) server.close();
});

describe("shim", () => {
  async function runShim(options: { daemon?: () => Promise<unknown>; broken?: "reset" | "silent" } = {}) {
    const socket = join(dir, "sock");
    const requests = options.daemon ? await standInDaemon(socket, options.daemon) : [];
    if (options.broken) brokenDaemon(socket, options.broken);
    const binary = fakeBinary();
    const shim = write("carp_service_status", renderShim(paths({ binary, nc: NC!, socket })));
    const started = performance.now();
    const result = await sh(["/bin/sh", shim]);
    return { requests, ...result, ms: performance.now() - started };
  }

  test("is valid sh and recognisable as ours", async () => {
    const shim = write("carp_service_status", renderShim());
    expect((await sh(["/bin/sh", "-n", shim])).exitCode).toBe(0);
    expect(isShim(renderShim())).toBe(true);
    expect(isShim("#!/usr/local/bin/php\n<?php\n")).toBe(false);
    expect(isShim(`#!/bin/sh\n# not ${SHIM_MARKER}\n`)).toBe(false);
  });

  test.skipIf(!SHELLCHECK)("passes shellcheck", async () => {
    const shim = write("carp_service_status", renderShim());
    const { stdout, exitCode } = await sh([SHELLCHECK!, "-s", "sh", shim]);
    expect(stdout).toBe("");
    expect(exitCode).toBe(0);
  });

  test.skipIf(!NC)("asks a running daemon through nc, starts no executable, prints nothing and exits 0", async () => {
    const { ms: _, ...result } = await runShim({ daemon: async () => EVALUATION });
    expect(result).toEqual({ requests: ["evaluate"], stdout: "", stderr: "", exitCode: 0 });
    expect(calls()).toEqual([]);
  });

  test.skipIf(!NC)(
    "waits for an evaluation longer than nc's idle timeout: the daemon's 102s keep it, no fallback",
    async () => {
      const { ms, ...result } = await runShim({
        daemon: async () => {
          await Bun.sleep(REPLY_IDLE_TIMEOUT_MS + 1500);
          return EVALUATION;
        },
      });
      expect(result).toEqual({ requests: ["evaluate"], stdout: "", stderr: "", exitCode: 0 });
      expect(ms).toBeGreaterThan(REPLY_IDLE_TIMEOUT_MS + 1500);
      expect(calls()).toEqual([]);
    },
    30_000,
  );

  for (const broken of ["reset", "silent"] as const) {
    test.skipIf(!NC)(
      `falls back to the executable when the daemon ${broken === "reset" ? "resets the connection" : "accepts and stays silent (stopped)"}`,
      async () => {
        const { ms, ...result } = await runShim({ broken });
        expect(result).toEqual({ requests: [], stdout: "", stderr: "carp-service-status: boom\n", exitCode: 0 });
        expect(calls()).toEqual(["configd evaluate"]);
        // Seconds: nc's idle timeout at most, not the evaluation's worth of waiting.
        expect(ms).toBeLessThan(REPLY_IDLE_TIMEOUT_MS * 3);
      },
      30_000,
    );
  }

  test.skipIf(!NC)("with no daemon to answer, falls back to the executable's configd evaluate, and exits 0", async () => {
    const result = await runShim();
    // The stand-in prints a line on each stream: stdout is discarded, stderr (a crash: configd
    // evaluate writes none) passed on.
    expect({ ...result, ms: 0 }).toEqual({ requests: [], stdout: "", stderr: "carp-service-status: boom\n", exitCode: 0, ms: 0 });
    expect(calls()).toEqual(["configd evaluate"]);
  });

  for (const [what, error] of [
    ["is shutting down (503)", Object.assign(new Error("stopping"), { name: "AbortError" })],
    ["cannot evaluate (500)", new Error("sysctl failed")],
  ] as const) {
    test.skipIf(!NC)(`falls back to the executable when the daemon ${what}`, async () => {
      const { ms: _, ...result } = await runShim({
        daemon: async () => {
          throw error;
        },
      });
      expect(result).toEqual({ requests: ["evaluate"], stdout: "", stderr: "carp-service-status: boom\n", exitCode: 0 });
      expect(calls()).toEqual(["configd evaluate"]);
    });
  }
});

/** Processes running the script at `path` (its background parts included). */
function runningCopies(path: string): number {
  const found = Bun.spawnSync(["pgrep", "-f", "-c", path]);
  return Number(found.stdout.toString().trim());
}

/** The two event hooks: the same request, fallback and marks; what calls them passes different arguments. */
const EVENT_HOOKS = [
  // rc.syshook carp: SCRIPT VHID@IF TYPE, on every CARP state change.
  { label: "CARP event hook", render: renderSyshook, args: ["1@vtnet0", "MASTER"] },
  // rc.syshook monitor: SCRIPT GW[,GW...], on a gateway alarm (rc.routing_configure).
  { label: "monitor hook", render: renderMonitorHook, args: ["WAN_GW,WAN2_GW"] },
] as const;

for (const { label, render, args } of EVENT_HOOKS) {
  describe(label, () => {
    async function runSyshook(options: { daemon?: () => Promise<unknown>; broken?: "reset" | "silent" } = {}) {
      const socket = join(dir, "sock");
      const requests = options.daemon ? await standInDaemon(socket, options.daemon) : [];
      if (options.broken) brokenDaemon(socket, options.broken);
      const binary = fakeBinary();
      const hook = write("50-carp-service-status", render(paths({ binary, nc: NC!, socket })));
      const started = performance.now();
      // As rc.syshook runs it.
      const result = await sh([hook, ...args]);
      return { requests, ms: performance.now() - started, hook, ...result };
    }

    /** Whether the hook's background subshell (a fork of the script, same command line) still runs. */
    function backgroundRuns(hook: string): boolean {
      return readdirSync("/proc")
        .filter((entry) => /^\d+$/.test(entry))
        .some((pid) => {
          try {
            return readFileSync(`/proc/${pid}/cmdline`, "latin1").includes(hook);
          } catch {
            return false;
          }
        });
    }

    test("with no daemon, a burst of events starts one evaluation and one more after it, not one each", async () => {
      // Each evaluation runs until the test releases it, so the burst surely arrives while the first runs.
      const release = join(dir, "release");
      const binary = write(
        "slow-carp-service-status",
        `#!/bin/sh\necho "$*" >> "${dir}/calls"\nwhile [ ! -e "${release}" ]; do sleep 0.02; done\n`,
      );
      const mark = join(dir, "syshook");
      const hook = write(
        "50-carp-service-status",
        render(paths({ binary, nc: NC ?? "/usr/bin/nc", socket: join(dir, "no-socket"), syshookMark: mark })),
      );
      expect((await sh([hook, ...args])).exitCode).toBe(0);
      await waitFor(() => calls().length >= 1, "the first evaluation");
      for (let i = 0; i < 5; i++) expect((await sh([hook, ...args])).exitCode).toBe(0);
      // Their background parts have left their mark and gone: only the evaluating one runs the hook now.
      await waitFor(() => runningCopies(hook) === 1, "the later events to leave their mark");
      writeFileSync(release, "");
      await waitFor(() => !existsSync(`${mark}.busy`), "the evaluations to end", 6000);
      expect(calls()).toEqual(["configd evaluate", "configd evaluate"]);
    });

    test("is valid sh", async () => {
      const hook = write("50-carp-service-status", render());
      expect((await sh(["/bin/sh", "-n", hook])).exitCode).toBe(0);
    });

    test.skipIf(!SHELLCHECK)("passes shellcheck", async () => {
      const hook = write("50-carp-service-status", render());
      const { stdout, exitCode } = await sh([SHELLCHECK!, "-s", "sh", hook]);
      expect(stdout).toBe("");
      expect(exitCode).toBe(0);
    });

    test.skipIf(!NC)("asks the daemon to evaluate and returns at once, while the evaluation takes a second", async () => {
      const { promise: answered, resolve } = Promise.withResolvers<void>();
      const result = await runSyshook({
        daemon: async () => {
          await Bun.sleep(1000);
          resolve();
          return EVALUATION;
        },
      });
      expect({ stdout: result.stdout, stderr: result.stderr, exitCode: result.exitCode }).toEqual({ stdout: "", stderr: "", exitCode: 0 });
      expect(result.ms).toBeLessThan(500);
      await waitFor(() => result.requests.length === 1, "the daemon to be asked");
      await answered;
      expect(calls()).toEqual([]);
    });

    for (const broken of ["reset", "silent"] as const) {
      test.skipIf(!NC)(
        `when the daemon ${broken === "reset" ? "resets the connection" : "accepts and stays silent (stopped)"}, the executable evaluates here, in the background`,
        async () => {
          const result = await runSyshook({ broken });
          expect(result.exitCode).toBe(0);
          expect(result.ms).toBeLessThan(500);
          await waitFor(() => calls().length === 1, "the executable to be run", REPLY_IDLE_TIMEOUT_MS * 3);
          expect(calls()).toEqual(["configd evaluate"]);
        },
        30_000,
      );
    }

    test.skipIf(!NC)(
      "a daemon that answers 200 after its 102s is not second-guessed: no evaluation here",
      async () => {
        const { promise: answered, resolve } = Promise.withResolvers<void>();
        const result = await runSyshook({
          daemon: async () => {
            await Bun.sleep(REPLY_IDLE_TIMEOUT_MS + 1500);
            resolve();
            return EVALUATION;
          },
        });
        expect(result.ms).toBeLessThan(500);
        await answered;
        await waitFor(() => !backgroundRuns(result.hook), "the background request to end");
        expect(calls()).toEqual([]);
      },
      30_000,
    );

    test.skipIf(!NC)("with no daemon, the executable evaluates here, in the background", async () => {
      const result = await runSyshook();
      expect(result.exitCode).toBe(0);
      expect(result.ms).toBeLessThan(500);
      await waitFor(() => calls().length === 1, "the executable to be run");
      expect(calls()).toEqual(["configd evaluate"]);
    });
  });
}

describe("both event hooks", () => {
  test("a CARP event and a gateway alarm during one evaluation here share the one after it: the same marks", async () => {
    const release = join(dir, "release");
    const binary = write(
      "slow-carp-service-status",
      `#!/bin/sh\necho "$*" >> "${dir}/calls"\nwhile [ ! -e "${release}" ]; do sleep 0.02; done\n`,
    );
    const nodePaths = paths({ binary, nc: NC ?? "/usr/bin/nc", socket: join(dir, "no-socket"), syshookMark: join(dir, "syshook") });
    const carp = write("carp-50-carp-service-status", renderSyshook(nodePaths));
    const monitor = write("monitor-50-carp-service-status", renderMonitorHook(nodePaths));
    expect((await sh([monitor, "WAN_GW"])).exitCode).toBe(0);
    await waitFor(() => calls().length >= 1, "the first evaluation");
    expect((await sh([carp, "1@vtnet0", "BACKUP"])).exitCode).toBe(0);
    expect((await sh([monitor, "WAN_GW,WAN2_GW"])).exitCode).toBe(0);
    await waitFor(() => runningCopies(carp) === 0 && runningCopies(monitor) === 1, "the later events to leave their mark");
    writeFileSync(release, "");
    await waitFor(() => !existsSync(join(dir, "syshook.busy")), "the evaluations to end", 6000);
    expect(calls()).toEqual(["configd evaluate", "configd evaluate"]);
  });

  test("differ only in what they say calls them", () => {
    const code = (text: string) => text.slice(text.indexOf("\n(\n"));
    expect(code(renderMonitorHook())).toBe(code(renderSyshook()));
    expect(renderMonitorHook()).toContain('runs "rc.syshook monitor\n# GW[,GW...]"');
    expect(renderMonitorHook()).not.toBe(renderSyshook());
  });
});
