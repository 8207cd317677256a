/**
 * config.xml written through the real model, rendered by core's template_ctl.py, read by our
 * `config`: every value arrives as set, quotes, backslashes, line breaks and non-ASCII included;
 * and the one-time import turns that TOML back into the same config.xml values.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { configSchema } from "../../src/config/config.ts";
import { cliWrapper, configJson, modelTool, type Rendered, renderTemplate, writeConfigXml } from "./plugin-tools.ts";
import { scratchDir, testEnv } from "./testenv.ts";

const env = testEnv();
const scratches: (() => void)[] = [];
afterAll(() => {
  for (const remove of scratches) remove();
});

function scratch(prefix: string): string {
  const { dir, remove } = scratchDir(prefix);
  scratches.push(remove);
  return dir;
}

const TRICKY = `"quoted" \\back\\slash\\ é ü 中 😀`;

/** Every setting away from its default, strings with everything TOML must escape. */
const SETTINGS: Record<string, string> = {
  enabled: "1",
  hooksDir: `/usr/local/etc/hooks ${TRICKY}`,
  sysctl: "/usr/local/sbin/sysctl wrapper",
  logger: '/usr/local/bin/logger "x"',
  lockFile: `/var/run/lock ${TRICKY}`,
  lockTimeoutMs: "1234",
  socketEnabled: "1",
  socket: `/var/run/sock ${TRICKY}`,
  socketGroup: "root",
  scheduleEnabled: "1",
  schedule: "*/30 * * * * *",
  hookTimeoutMs: "2500",
  killGraceMs: "250",
  concurrency: "3",
  outputLimitBytes: "65536",
  scriptSecurity: "0",
  fall: "3",
  rise: "2",
  promoteDelayMs: "60000",
  stateFile: `/var/run/state ${TRICKY}`,
  maintenanceFile: `/var/db/maintenance ${TRICKY}`,
  metricsFile: `/var/tmp/node_exporter/carp ${TRICKY}.prom`,
  notifyDir: `/usr/local/etc/notify ${TRICKY}`,
  notifyTimeoutMs: "4000",
  logFormat: "json",
  logLevel: "debug",
  gatewayStatusCommand: `/usr/local/bin/gateway status ${TRICKY}`,
  gatewayStatusTimeoutMs: "2500",
};

const HOOK_ENV = [
  { name: "REQUESTS_CA_BUNDLE", value: `/usr/local/etc/ssl/cert ${TRICKY}.pem` },
  { name: "MULTI_LINE", value: "first line\nsecond\tline\r\nthird" },
  { name: "EMPTY", value: "" },
];

const GATEWAYS = [
  { name: "WAN_GW", enabled: "1", failOn: "down,force_down", fall: "", rise: "", description: "Uplink ISP A" },
  {
    name: "WAN2_GW",
    enabled: "1",
    failOn: "down,force_down,loss,delay+loss",
    fall: "3",
    rise: "2",
    description: 'backup [gateways."x"] = 1',
  },
  { name: "OLD-GW", enabled: "0", failOn: "delay", fall: "", rise: "5", description: "" },
];

const HOOKS = [
  {
    name: "frr_ospf",
    enabled: "1",
    fall: "5",
    rise: "4",
    timeoutMs: "3000",
    intervalMs: "60000",
    user: "nobody",
    description: "OSPF neighbours in state Full",
  },
  {
    name: `wan "gateway" \\ ü`,
    enabled: "0",
    fall: "",
    rise: "",
    timeoutMs: "",
    intervalMs: "",
    user: "",
    description: 'a comment that tries ] [hooks."x"] = 1',
  },
  { name: "unbound", enabled: "1", fall: "", rise: "7", timeoutMs: "", intervalMs: "", user: "", description: "" },
];

/** What `config --json` must show for the spec above. */
function expectedConfig(): Record<string, unknown> {
  const numbers = Object.fromEntries(
    [
      "lockTimeoutMs",
      "hookTimeoutMs",
      "killGraceMs",
      "concurrency",
      "outputLimitBytes",
      "fall",
      "rise",
      "promoteDelayMs",
      "notifyTimeoutMs",
      "gatewayStatusTimeoutMs",
    ].map((key) => [key, Number(SETTINGS[key])]),
  );
  const strings = Object.fromEntries(
    [
      "hooksDir",
      "sysctl",
      "logger",
      "lockFile",
      "socket",
      "socketGroup",
      "schedule",
      "stateFile",
      "maintenanceFile",
      "metricsFile",
      "notifyDir",
      "logFormat",
      "logLevel",
      "gatewayStatusCommand",
    ].map((key) => [key, SETTINGS[key]]),
  );
  return {
    ...strings,
    ...numbers,
    scriptSecurity: false,
    hookEnv: Object.fromEntries(HOOK_ENV.map(({ name, value }) => [name, value])),
    hooks: {
      frr_ospf: { enabled: true, fall: 5, rise: 4, timeoutMs: 3000, intervalMs: 60000, user: "nobody" },
      'wan "gateway" \\ ü': { enabled: false },
      unbound: { enabled: true, rise: 7 },
    },
    gateways: {
      WAN_GW: { enabled: true, failOn: ["down", "force_down"] },
      WAN2_GW: { enabled: true, failOn: ["down", "force_down", "loss", "delay+loss"], fall: 3, rise: 2 },
      "OLD-GW": { enabled: false, failOn: ["delay"], rise: 5 },
    },
  };
}

describe("config.xml through the model, template_ctl.py and config", () => {
  let written: Awaited<ReturnType<typeof writeConfigXml>>;
  let rendered: Rendered;

  test("every value set in the model reaches the daemon unchanged", async () => {
    const dir = scratch("carp-template-");
    written = await writeConfigXml(env, dir, { settings: SETTINGS, hookEnv: HOOK_ENV, hooks: HOOKS, gateways: GATEWAYS });
    rendered = await renderTemplate(env, join(dir, "config.xml"), dir);

    const { exitCode, config, stderr } = await configJson(rendered.tomlFile);
    expect(stderr).toBe("");
    expect(exitCode).toBe(0);
    const { simulationFile: _file, simulationLog: _log, ...settings } = config!;
    expect(settings).toEqual(expectedConfig());
    expect(rendered.rcConf).toContain('carp_service_status_enable="YES"');
  });

  test("the file says it is generated, and a check's description stays a comment", () => {
    expect(rendered.toml.split("\n")[0]).toBe("# Generated by os-carp-service-status from config.xml: edits here are overwritten.");
    expect(rendered.toml).toContain('# a comment that tries ] [hooks."x"] = 1\n');
    expect(rendered.toml).toContain('\n# backup [gateways."x"] = 1\n[gateways."WAN2_GW"]\n');
  });

  test("the import turns the rendered TOML back into the same config.xml values", async () => {
    const dir = scratch("carp-import-");
    const imported = await modelTool(env, dir, ["import", rendered.tomlFile, cliWrapper(dir), rendered.rcConfFile]);
    expect(imported.ok).toBe(true);
    expect(imported.errors).toEqual([]);
    expect(imported.log.some((line) => line.startsWith(`import: settings of "${rendered.tomlFile}" moved into config.xml`))).toBe(true);

    // Descriptions live in config.xml only (the TOML has them as comments): the rest round-trips.
    const withoutDescriptions = (values: typeof written.values) => ({
      ...values,
      hooks: { hook: values.hooks.hook.map(({ description: _description, ...rest }) => rest) },
      gateways: { gateway: values.gateways.gateway.map(({ description: _description, ...rest }) => rest) },
    });
    expect(withoutDescriptions(imported.values)).toEqual(withoutDescriptions(written.values));
    expect(imported.values.hooks.hook.map((hook) => hook.description)).toEqual(["", "", ""]);
    expect(imported.values.gateways.gateway.map((gateway) => [gateway.name, gateway.failOn])).toEqual([
      ["WAN_GW", "down,force_down"],
      ["WAN2_GW", "down,force_down,loss,delay+loss"],
      ["OLD-GW", "delay"],
    ]);
  });

  test("a switched-off socket and schedule, a numeric group and a disabled service", async () => {
    const dir = scratch("carp-template-off-");
    await writeConfigXml(env, dir, { settings: { enabled: "0", socketEnabled: "0", scheduleEnabled: "0", socketGroup: "0" } });
    const off = await renderTemplate(env, join(dir, "config.xml"), dir);
    const { config } = await configJson(off.tomlFile);
    expect(config).toMatchObject({ socket: false, schedule: false, socketGroup: 0 });
    expect(off.rcConf).toContain('carp_service_status_enable="NO"');
    expect(off.rcConf).not.toContain("YES");
  });

  test("the model's defaults render to the schema's FreeBSD defaults", async () => {
    const dir = scratch("carp-template-defaults-");
    await writeConfigXml(env, dir, {});
    const defaults = await renderTemplate(env, join(dir, "config.xml"), dir);
    const { config } = await configJson(defaults.tomlFile);
    const { simulationFile: _file, simulationLog: _log, ...expected } = configSchema("freebsd").parse({});
    const { simulationFile: _f, simulationLog: _l, ...actual } = config!;
    expect(actual).toEqual(expected);
    expect(defaults.rcConf).toContain('carp_service_status_enable="NO"');
  });

  test("the import keeps the original beside it and leaves out what the model refuses, saying so", async () => {
    const dir = scratch("carp-import-refused-");
    const toml = join(dir, "carp_service_status.toml");
    const original =
      '# by hand\nsysctl = "/sbin/sysctl"\nlogger = "/usr/bin/logger"\nfall = 2\n[hooks.".hidden"]\nrise = 2\n[hooks."frr"]\nrise = 3\n';
    await Bun.write(toml, original);
    const imported = await modelTool(env, dir, ["import", toml, cliWrapper(dir)]);
    expect(imported.values.fall).toBe("2");
    expect(imported.values.hooks.hook.map((hook) => [hook.name, hook.rise])).toEqual([["frr", "3"]]);
    expect(imported.log.find((line) => line.includes('"hooks.hook.') || line.includes(".hidden"))).toContain(
      "left out: Enter the file name of a check",
    );
    expect(await Bun.file(`${toml}.pre-plugin`).text()).toBe(original);
  });

  test("the import keeps the service enabled and reads the config file rc.conf.d names", async () => {
    const dir = scratch("carp-import-rc-");
    const other = join(dir, "elsewhere.toml");
    await Bun.write(other, "concurrency = 5\n");
    const rcConf = join(dir, "carp_service_status");
    await Bun.write(rcConf, `carp_service_status_enable="YES"\ncarp_service_status_config="${other}"\n`);
    const imported = await modelTool(env, dir, ["import", join(dir, "carp_service_status.toml"), cliWrapper(dir), rcConf]);
    expect(imported.values.enabled).toBe("1");
    expect(imported.values.concurrency).toBe("5");
    expect(await Bun.file(join(dir, "carp_service_status.toml.pre-plugin")).text()).toBe("concurrency = 5\n");
  });

  test("a TOML that carp-service-status refuses is not imported, and the log says why", async () => {
    const dir = scratch("carp-import-bad-");
    const toml = join(dir, "carp_service_status.toml");
    await Bun.write(toml, "hookDir = 1\n");
    const imported = await modelTool(env, dir, ["import", toml, cliWrapper(dir)]);
    expect(imported.values.hooksDir).toBe("/usr/local/etc/rc.carp_service_status.d");
    expect(imported.log.join("\n")).toContain(`"${toml}" was not imported, carp-service-status does not accept it:`);
    expect(imported.log.join("\n")).toContain('Unknown key "hookDir"; did you mean "hooksDir"?');
  });
});
