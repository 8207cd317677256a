/**
 * The configd actions as configd runs them: the real command lines of the rendered actions file
 * (and the shim, for the stock event), the real CLI, the fake FreeBSD sysctl and logger, and a
 * stand-in for configd's `script` and `script_output` action types (test/configd-stand-in.ts).
 * In no expected state may configd log an error or answer "Execute error".
 */
import { afterEach, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { logTargetOfBrokenConfig } from "../../src/cli/configd.ts";
import { SIMULATION_DIR } from "../../src/config/defaults.ts";
import { NODE_PATHS } from "../../src/install/layout.ts";
import { renderConfigdActions, renderShim } from "../../src/install/templates.ts";
import { REPLY_IDLE_TIMEOUT_MS } from "../../src/protocol/wire.ts";
import { parseActions, runConfigdAction } from "../configd-stand-in.ts";
import { CLI, type DaemonProcess, makeSandbox, type Sandbox, setFakeSwitch, spawnDaemon, waitFor } from "../helpers.ts";
import { tool } from "../tools.ts";

const NC = tool("nc", "netcat-openbsd");
const BIT = 1048576;
let sandbox: Sandbox;
let daemon: DaemonProcess | null = null;

afterEach(async () => {
  if (daemon && daemon.proc.exitCode === null) await daemon.stop();
  daemon = null;
  sandbox.cleanup();
});

/**
 * A sandbox whose "installed executable" is the CLI from source with the sandbox's config (the
 * installed texts name the executable and use the default config path), text logs at info level.
 */
function setup(hook: "pass" | "fail") {
  sandbox = makeSandbox();
  sandbox.addHook("svc", { fixture: hook });
  sandbox.writeConfig({ schedule: false, logLevel: "info", logFormat: "text" });
  const binary = join(sandbox.dir, "carp-service-status");
  writeFileSync(binary, `#!/bin/sh\nexec "${process.execPath}" "${CLI}" "$@" --config "${sandbox.configFile}"\n`);
  chmodSync(binary, 0o755);
  const actions = parseActions(renderConfigdActions({ ...NODE_PATHS, binary }));
  const shim = join(sandbox.dir, "carp_service_status");
  writeFileSync(shim, renderShim({ ...NODE_PATHS, binary, nc: NC ?? "/usr/bin/nc", socket: sandbox.config.socket as string }));
  chmodSync(shim, 0o755);
  return {
    binary,
    evaluate: () => runConfigdAction("script_output", actions.evaluate!.command),
    status: () => runConfigdAction("script_output", actions.status!.command),
    /** The stock event, `configctl interface update carp service_status`: type script, our shim. */
    stockEvent: () => runConfigdAction("script", shim),
  };
}

async function startDaemon(): Promise<void> {
  daemon = await spawnDaemon(sandbox);
}

describe("the stand-in catches what configd complains about", () => {
  test("stderr output and a non-zero exit, as the previous evaluate action produced with no daemon", async () => {
    const t = setup("fail");
    const previous = await runConfigdAction("script_output", `${t.binary} trigger || [ $? -eq 1 ]`);
    expect(previous.errors[0]).toContain('Script action stderr returned "carp-service-status: No daemon answers');
    const status = await runConfigdAction("script_output", `${t.binary} status --json`);
    expect(status).toMatchObject({ reply: "Execute error" });
  });
});

describe("configctl carp_service_status evaluate", () => {
  for (const hook of ["pass", "fail"] as const) {
    test(`with the daemon up and the service ${hook}ing: the table, no error`, async () => {
      const t = setup(hook);
      await startDaemon();
      const { reply, errors } = await t.evaluate();
      expect(errors).toEqual([]);
      expect(reply).toMatch(new RegExp(`svc\\s+${hook}`));
      expect(reply).toContain(hook === "fail" ? "demotion 1048576: no change (demoted by this tool)" : "demotion 0: no change");
    });

    test(`with no daemon and the service ${hook}ing: evaluates here, the note in syslog at info, no error`, async () => {
      const t = setup(hook);
      const { reply, errors } = await t.evaluate();
      expect(errors).toEqual([]);
      expect(reply).toMatch(new RegExp(`svc\\s+${hook}`));
      const ours = sandbox.syslog().filter((line) => line.startsWith("carp-service-status "));
      expect(ours[0]).toStartWith(
        `carp-service-status daemon.info: No daemon answers at "${sandbox.config.socket}" (ENOENT): evaluating here`,
      );
      if (hook === "fail") {
        expect(reply).toContain("demotion 0 -> 1048576: demoted");
        expect(sandbox.syslog()).toContain("carp daemon.warning: carp demoted by 1048576 due to service disruption (services: svc)");
        // The fixture writes a line to stdout, then one to stderr: two pipes, so under load either may arrive first.
        expect(ours[1]).toMatch(
          /^carp-service-status daemon\.warning: demoted this node: svc \(exit 1: (service down|details on stderr)\) demotionBefore=0 demotionAfter=1048576 failed=svc$/,
        );
      }
    });
  }

  test("a genuine failure (sysctl) is one syslog line at err and a plain answer, not an error of configd's", async () => {
    const t = setup("pass");
    setFakeSwitch(sandbox, "sysctl.no-carp");
    const { reply, errors } = await t.evaluate();
    expect(errors).toEqual([]);
    const failure =
      "evaluation failed: sysctl -n net.inet.carp.demotion failed: sysctl: unknown oid 'net.inet.carp.demotion' (is carp(4) loaded?)";
    expect(reply).toBe(`carp-service-status: ${failure} (logged to syslog)\n`);
    expect(sandbox.syslog().filter((line) => line.includes(".err:"))).toEqual([`carp-service-status daemon.err: ${failure}`]);
  });

  test("a failure in the daemon is answered as such, and logged once: by the daemon", async () => {
    const t = setup("pass");
    await startDaemon();
    setFakeSwitch(sandbox, "sysctl.no-carp");
    const { reply, errors } = await t.evaluate();
    expect(errors).toEqual([]);
    expect(reply).toStartWith("carp-service-status: The daemon could not evaluate: sysctl -n net.inet.carp.demotion failed");
    expect(sandbox.syslog().filter((line) => line.includes(".err:"))).toEqual([]);
  });
});

describe("a stopped daemon (SIGSTOP): the kernel still accepts for it, nothing answers", () => {
  /**
   * Stops the daemon once its start-up evaluation is over (stopped in the middle, it would hold the
   * lock), with the bit reset from outside, and runs `fn`.
   */
  async function whileStopped(fn: () => Promise<void>): Promise<void> {
    await waitFor(async () => {
      const status = await daemon!.call("status");
      return status.counters.evaluations === 1 && !status.running;
    }, "the daemon's start-up evaluation to end");
    expect(sandbox.demotion()).toBe(BIT);
    sandbox.setDemotion(0);
    daemon!.proc.kill("SIGSTOP");
    try {
      await fn();
    } finally {
      daemon!.proc.kill("SIGCONT");
    }
  }

  test("configctl evaluate gives up on it within seconds, evaluates here, demotes, and says why in syslog", async () => {
    const t = setup("fail");
    await startDaemon();
    await whileStopped(async () => {
      const started = performance.now();
      const { reply, errors } = await t.evaluate();
      expect(errors).toEqual([]);
      expect(reply).toContain("demotion 0 -> 1048576: demoted");
      expect(sandbox.demotion()).toBe(BIT);
      // The reply deadline, not an evaluation's worth of minutes.
      expect(performance.now() - started).toBeLessThan(REPLY_IDLE_TIMEOUT_MS * 4);
      const note = `The daemon at "${sandbox.config.socket}" sent nothing for ${REPLY_IDLE_TIMEOUT_MS} ms (stopped or hung?): evaluating here`;
      expect(sandbox.syslog()).toContain(`carp-service-status daemon.info: ${note}`);
    });
  }, 60_000);

  test.skipIf(!NC)(
    "the stock event through the shim gives up on it, falls back, demotes, and answers OK",
    async () => {
      const t = setup("fail");
      await startDaemon();
      await whileStopped(async () => {
        const started = performance.now();
        expect(await t.stockEvent()).toEqual({ reply: "OK", errors: [] });
        expect(sandbox.demotion()).toBe(BIT);
        // nc's idle timeout, then configd evaluate's own reply deadline, then the evaluation.
        expect(performance.now() - started).toBeLessThan(REPLY_IDLE_TIMEOUT_MS * 6);
      });
    },
    60_000,
  );
});

describe("a broken config", () => {
  /** What the built-in simulation's shared syslog holds that mentions this sandbox. */
  function defaultSimulationLines(): string[] {
    const file = join(SIMULATION_DIR, "messages");
    if (!existsSync(file)) return [];
    return readFileSync(file, "utf8")
      .split("\n")
      .filter((line) => line.includes(sandbox.dir));
  }

  test("is answered and logged at err through the logger the file names, not the built-in default's", async () => {
    const t = setup("pass");
    sandbox.writeConfig({ schedule: false, logLevel: "info", logFormat: "text", hookTimeoutMs: "soon" });
    const { reply, errors } = await t.evaluate();
    expect(errors).toEqual([]);
    expect(reply).toStartWith("carp-service-status: evaluation failed: ");
    expect(reply).toContain("hookTimeoutMs");
    expect(reply).toEndWith("(logged to syslog)\n");
    const err = sandbox.syslog().filter((line) => line.includes(".err:"));
    expect(err).toHaveLength(1);
    expect(err[0]).toContain("hookTimeoutMs");
    expect(defaultSimulationLines()).toEqual([]);
  });

  test("that is not even TOML, on a machine without CARP: answered, and logged nowhere rather than somewhere unchosen", async () => {
    const t = setup("pass");
    writeFileSync(sandbox.configFile, `logger = "${sandbox.config.logger}"\nthis is = = not toml\n`);
    const { reply, errors } = await t.evaluate();
    expect(errors).toEqual([]);
    expect(reply).toStartWith(`carp-service-status: evaluation failed: Cannot read config "${sandbox.configFile}"`);
    expect(reply).toEndWith("(not logged: the config names no logger)\n");
    expect(sandbox.syslog()).toEqual([]);
    expect(defaultSimulationLines()).toEqual([]);
  });

  test("the log target of a broken config: what the file names, else the system's logger on a node with CARP", () => {
    sandbox = makeSandbox();
    const file = join(sandbox.dir, "broken.toml");
    writeFileSync(file, 'logger = "/opt/bin/logger"\nhookTimeoutMs = "soon"\n');
    expect(logTargetOfBrokenConfig(file, "linux")).toMatchObject({ logger: "/opt/bin/logger" });
    writeFileSync(file, 'logger = "simulated"\nsimulationLog = "/srv/sim/messages"\nx = [\n');
    expect(logTargetOfBrokenConfig(file, "linux")).toBeNull();
    expect(logTargetOfBrokenConfig(file, "freebsd")).toMatchObject({ logger: "/usr/bin/logger" });
    writeFileSync(file, 'logger = "simulated"\nsimulationLog = "/srv/sim/messages"\nconcurrency = 0\n');
    expect(logTargetOfBrokenConfig(file, "linux")).toEqual({ logger: "simulated", simulationLog: "/srv/sim/messages" });
    writeFileSync(file, 'logger = "simulated"\nconcurrency = 0\n');
    expect(logTargetOfBrokenConfig(file, "linux")).toBeNull();
    writeFileSync(file, "concurrency = 0\n");
    expect(logTargetOfBrokenConfig(file, "freebsd")).toMatchObject({ logger: "/usr/bin/logger" });
    expect(logTargetOfBrokenConfig(file, "linux")).toBeNull();
  });
});

describe("configctl carp_service_status status", () => {
  test("with the daemon up: its status as JSON", async () => {
    const t = setup("pass");
    await startDaemon();
    const { reply, errors } = await t.status();
    expect(errors).toEqual([]);
    expect(JSON.parse(reply)).toMatchObject({ version: expect.any(String), hooksDir: sandbox.hooksDir });
  });

  test("with no daemon: a JSON object saying it is not running", async () => {
    const t = setup("pass");
    const { reply, errors } = await t.status();
    expect(errors).toEqual([]);
    expect(JSON.parse(reply)).toEqual({
      daemonRunning: false,
      socket: sandbox.config.socket,
      message: `No daemon answers at "${sandbox.config.socket}" (ENOENT); start it with: service carp_service_status start`,
      // From its file: the GUI's switch shows it without a daemon.
      maintenance: null,
    });
  });
});

describe.skipIf(!NC)("the stock event through the shim (type script)", () => {
  for (const up of [true, false]) {
    test(`answers OK with the daemon ${up ? "up" : "down"}, and the service failing demotes once`, async () => {
      const t = setup("fail");
      if (up) await startDaemon();
      expect(await t.stockEvent()).toEqual({ reply: "OK", errors: [] });
      expect(sandbox.demotion()).toBe(1048576);
    });
  }
});

describe("the GUI's maintenance switch (actions_carpservicestatus.conf: maintenance_on, maintenance_off)", () => {
  /** The plugin's action, its command pointed at the sandbox's executable, its parameter quoted as configd quotes it. */
  function pluginAction(binary: string, name: string, parameter?: string) {
    const file = join(
      import.meta.dir,
      "../../opnsense/sysutils/carp-service-status/src/opnsense/service/conf/actions.d/actions_carpservicestatus.conf",
    );
    const action = parseActions(readFileSync(file, "utf8"))[name]!;
    expect(action.type).toBe("script_output");
    const command = action.command.replace("/usr/local/bin/carp-service-status", binary);
    const quoted = parameter === undefined ? "" : ` '${parameter.replace(/'/g, `'"'"'`)}'`;
    return runConfigdAction("script_output", `${command}${quoted}`);
  }

  for (const up of [true, false]) {
    test(`on and off answer JSON for the page with the daemon ${up ? "up" : "down"}, and configd logs nothing`, async () => {
      const t = setup("pass");
      if (up) await startDaemon();
      const on = await pluginAction(t.binary, "maintenance_on", "it's the FRR upgrade");
      expect(on.errors).toEqual([]);
      expect(JSON.parse(on.reply)).toMatchObject({ ok: true, maintenance: { reason: "it's the FRR upgrade" }, message: "" });
      expect(JSON.parse(on.reply).output).toContain("demotion 0 -> 1048576: demoted");
      expect(sandbox.demotion()).toBe(BIT);
      const status = await t.status();
      expect(JSON.parse(status.reply).maintenance).toMatchObject({ reason: "it's the FRR upgrade" });
      const off = await pluginAction(t.binary, "maintenance_off");
      expect(off.errors).toEqual([]);
      expect(JSON.parse(off.reply)).toMatchObject({ ok: true, maintenance: null });
      expect(sandbox.demotion()).toBe(0);
    });
  }

  test("an empty reason (the page's field left empty) is none", async () => {
    const t = setup("pass");
    const on = await pluginAction(t.binary, "maintenance_on", "");
    expect(JSON.parse(on.reply)).toMatchObject({ ok: true, maintenance: { reason: null } });
  });
});
