import { afterEach, describe, expect, test } from "bun:test";
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CarpError } from "../src/common/errors.ts";
import { configKeys, loadConfig, parseConfig } from "../src/config/config.ts";
import { FIXTURES, makeSandbox, runCli } from "./helpers.ts";

/** FreeBSD's group lines: wheel (0), operator (5), nobody (65534). */
const GROUP_FILE = join(FIXTURES, "group");

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function configFile(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), "carp-config-"));
  dirs.push(dir);
  const file = join(dir, "c.toml");
  writeFileSync(file, text);
  return file;
}

function configError(input: unknown, groupFile = GROUP_FILE): string {
  try {
    parseConfig(input, { platform: "freebsd", groupFile });
  } catch (error) {
    expect(error).toBeInstanceOf(CarpError);
    expect((error as CarpError).code).toBe("config");
    return (error as Error).message;
  }
  throw new Error("expected a config error");
}

describe("defaults", () => {
  test("on FreeBSD they are the stock script's paths", () => {
    const config = parseConfig({}, { platform: "freebsd" });
    expect(config.hooksDir).toBe("/usr/local/etc/rc.carp_service_status.d");
    expect(config.sysctl).toBe("/sbin/sysctl");
    expect(config.logger).toBe("/usr/bin/logger");
    expect(config.lockFile).toBe("/var/run/carp_service_status.lock");
    expect(config.socket).toBe("/var/run/carp_service_status.sock");
    expect(config.schedule).toBe("*/10 * * * * *");
    expect(config.hookTimeoutMs).toBe(10000);
    expect(config.concurrency).toBe(8);
    expect(config.scriptSecurity).toBe(true);
  });

  test("without CARP they switch to a simulation and the repository's hooks, and say so", () => {
    const loaded = loadConfig({ file: configFile(""), platform: "linux" });
    expect(loaded.config.sysctl).toBe("simulated");
    expect(loaded.config.logger).toBe("simulated");
    expect(loaded.config.hooksDir.endsWith("/hooks")).toBe(true);
    expect(loaded.notices).toHaveLength(1);
    expect(loaded.notices[0]).toContain("No CARP on this machine (linux)");
  });

  test("explicit keys win over the simulation, and nothing is said", () => {
    const loaded = loadConfig({ file: configFile('sysctl = "/sbin/sysctl"\nlogger = "/usr/bin/logger"\n'), platform: "linux" });
    expect(loaded.config.sysctl).toBe("/sbin/sysctl");
    expect(loaded.notices).toEqual([]);
  });

  test("schedule and socket can be turned off", () => {
    const config = parseConfig({ schedule: false, socket: false }, { platform: "freebsd" });
    expect(config.schedule).toBe(false);
    expect(config.socket).toBe(false);
  });
});

describe("errors name the key", () => {
  test("an unknown key", () => {
    expect(configError({ hookDir: "/x" })).toContain("hookDir");
  });
  test("a wrong type", () => {
    const message = configError({ hookTimeoutMs: "10s" });
    expect(message).toContain("hookTimeoutMs");
  });
  test("an out-of-range number", () => {
    expect(configError({ concurrency: 0 })).toContain("concurrency");
  });
  test("an invalid cron pattern", () => {
    const message = configError({ schedule: "every ten seconds" });
    expect(message).toContain("schedule");
    expect(message).toContain("cron pattern");
  });
  test("a TOML syntax error names the file", () => {
    const file = configFile("hooksDir = = 1\n");
    expect(() => loadConfig({ file })).toThrow(`Cannot parse config "${file}" as TOML`);
  });
  test("a missing --config file", () => {
    expect(() => loadConfig({ file: "/nonexistent/carp.toml" })).toThrow('Cannot read config "/nonexistent/carp.toml"');
  });
});

describe("caught before start", () => {
  const pathKeys: Array<[key: string, relative: string, example: string]> = [
    ["hooksDir", "hooks", "/usr/local/etc/rc.carp_service_status.d"],
    ["sysctl", "sbin/sysctl", "/sbin/sysctl"],
    ["logger", "./logger", "/usr/bin/logger"],
    ["lockFile", "carp.lock", "/var/run/carp_service_status.lock"],
    ["socket", "run/carp.sock", "/var/run/carp_service_status.sock"],
    ["simulationFile", "demotion", "/tmp/carp-service-status/demotion"],
    ["simulationLog", "../messages", "/tmp/carp-service-status/messages"],
  ];
  for (const [key, relative, example] of pathKeys) {
    test(`a relative ${key} is refused with an absolute example`, () => {
      const message = configError({ [key]: relative });
      expect(message).toContain(key);
      expect(message).toContain(`must be an absolute path, e.g. "${example}"`);
    });
  }

  test("an empty path is not absolute either", () => {
    expect(configError({ hooksDir: "" })).toContain("must be an absolute path");
  });

  test('"simulated" is a value of sysctl and logger, not a path elsewhere', () => {
    const config = parseConfig({ sysctl: "simulated", logger: "simulated" }, { platform: "freebsd" });
    expect(config.sysctl).toBe("simulated");
    expect(config.logger).toBe("simulated");
    expect(configError({ hooksDir: "simulated" })).toContain("hooksDir");
  });

  test("an unknown socketGroup name is refused, naming the key and the group", () => {
    const message = configError({ socketGroup: "carp-no-such-group" });
    expect(message).toContain("socketGroup");
    expect(message).toContain(`no group "carp-no-such-group" in "${GROUP_FILE}"`);
  });

  test("a socketGroup name in the group file is accepted", () => {
    expect(parseConfig({ socketGroup: "wheel" }, { platform: "freebsd", groupFile: GROUP_FILE }).socketGroup).toBe("wheel");
  });

  test("a numeric socketGroup is accepted as it is, listed or not", () => {
    for (const socketGroup of [65534, 4242, "4242"]) {
      expect(parseConfig({ socketGroup }, { platform: "freebsd", groupFile: GROUP_FILE }).socketGroup).toBe(socketGroup);
    }
  });

  test("an unreadable group file is an error naming socketGroup, not a crash", () => {
    const message = configError({ socketGroup: "wheel" }, "/nonexistent/group");
    expect(message).toContain("socketGroup");
    expect(message).toContain('cannot look up group "wheel" in "/nonexistent/group"');
  });

  test("a schedule that never fires (February 30) is refused with a valid example", () => {
    const message = configError({ schedule: "0 0 30 2 *" });
    expect(message).toContain("schedule");
    expect(message).toContain('"0 0 30 2 *" never fires');
    expect(message).toContain('e.g. "*/10 * * * * *"');
  });

  test("a schedule that fires rarely is fine (February 29)", () => {
    expect(parseConfig({ schedule: "0 0 29 2 *" }, { platform: "freebsd" }).schedule).toBe("0 0 29 2 *");
  });
});

describe("carp-service-status config", () => {
  test("prints the effective config as TOML on stdout, and configuration OK on stderr", async () => {
    const file = configFile('hooksDir = "/tmp/h"\nconcurrency = 3\n');
    const { stdout, stderr, exitCode } = await runCli(["config", "--config", file]);
    expect(exitCode).toBe(0);
    expect(stdout).toContain('\nhooksDir = "/tmp/h"\n');
    expect(stdout).toContain("\nconcurrency = 3\n");
    expect(stdout).not.toContain("configuration OK");
    expect(stderr.trim().split("\n").at(-1)).toBe(`configuration OK ("${file}")`);
  });

  test("exits 2 naming the bad key", async () => {
    const file = configFile('hooksDir = "/tmp/h"\nconcurency = 3\n');
    const { stderr, stdout, exitCode } = await runCli(["config", "--config", file]);
    expect(exitCode).toBe(2);
    expect(stderr).toContain("concurency");
    expect(stdout).not.toContain("configuration OK");
  });

  const caught: Array<[what: string, toml: string, key: string, says: string]> = [
    ["a relative hooksDir", 'hooksDir = "hooks"\n', "hooksDir", "must be an absolute path"],
    ["a relative socket", 'socket = "carp.sock"\n', "socket", "must be an absolute path"],
    ["an unknown socketGroup", 'socketGroup = "carp-no-such-group"\n', "socketGroup", 'no group "carp-no-such-group"'],
    ["a schedule that never fires", 'schedule = "0 0 30 2 *"\n', "schedule", "never fires"],
  ];
  for (const [what, toml, key, says] of caught) {
    test(`exits 2 on ${what}, naming the key`, async () => {
      const { stderr, stdout, exitCode } = await runCli(["config", "--config", configFile(toml)]);
      expect(exitCode).toBe(2);
      expect(stderr).toContain(key);
      expect(stderr).toContain(says);
      expect(stdout).not.toContain("configuration OK");
    });
  }

  test("check with a bad config exits 2 too", async () => {
    const file = configFile('schedule = "61 * * * *"\n');
    const { stderr, exitCode } = await runCli(["check", "--config", file]);
    expect(exitCode).toBe(2);
    expect(stderr).toContain("schedule");
  });
});

describe("did you mean", () => {
  test("an unknown top-level key names the nearest key", () => {
    expect(configError({ hookDir: "/x" })).toContain('Unknown key "hookDir"; did you mean "hooksDir"?');
    expect(configError({ hook_timeout_ms: 5000 })).toContain('Unknown key "hook_timeout_ms"; did you mean "hookTimeoutMs"?');
    expect(configError({ promoteDelay: 5000 })).toContain('did you mean "promoteDelayMs"?');
  });

  test("an unknown key in a hook's table names the nearest key of that table", () => {
    const message = configError({ hooks: { frr_ospf: { timeoutMS: 3000, fal: 3 } } });
    expect(message).toContain('Unknown key "timeoutMS"; did you mean "timeoutMs"?');
    expect(message).toContain('Unknown key "fal"; did you mean "fall"?');
    expect(message).toContain("→ at hooks.frr_ospf");
  });

  test("a top-level key below a hook's header: it belongs to that table, move it up", () => {
    expect(configError({ hooks: { frr_ospf: { fall: 3, logLevel: "debug" } } })).toContain(
      'Unknown key "logLevel" in this table: it is a top-level key, and below a [table] header it belongs to that table; move it above the first [table]',
    );
  });

  test("a key near nothing is named without a guess", () => {
    const message = configError({ frobnicate: 1 });
    expect(message).toContain('Unknown key "frobnicate"');
    expect(message).not.toContain("did you mean");
  });

  test("exits 2 with the suggestion from the command line", async () => {
    const { stderr, exitCode } = await runCli(["config", "--config", configFile('hooksDir = "/tmp/h"\nconcurency = 3\n')]);
    expect(exitCode).toBe(2);
    expect(stderr).toContain('Unknown key "concurency"; did you mean "concurrency"?');
  });
});

describe("TOML syntax errors give line and column", () => {
  const cases: Array<[what: string, text: string, at: string]> = [
    ["a missing value", 'hooksDir = "/tmp/h"\n[hooks."x"]\nfall = \n', "at line 3, column 8"],
    ["a doubled =", "concurrency = = 3\n", "at line 1, column 15"],
    ["an unterminated string", 'hooksDir = "/tmp/h"\nschedule = "*/10 * * * * *\nfall = 3\n', "at line 2, column 27"],
    ["a key set twice", "fall = 3\nrise = 2\nfall = 4\n", "at line 3, column 1"],
    ["CRLF line ends", "fall = 3\r\nrise = =\r\n", "at line 2, column 8"],
  ];
  for (const [what, text, at] of cases) {
    test(what, () => {
      const file = configFile(text);
      expect(() => loadConfig({ file })).toThrow(`Cannot parse config "${file}" as TOML ${at}: `);
    });
  }

  test("from the command line: exit 2, the file, the line and the column", async () => {
    const file = configFile('hooksDir = "/tmp/h"\n[hooks."x"]\nfall = \n');
    const { stderr, exitCode } = await runCli(["config", "--config", file]);
    expect(exitCode).toBe(2);
    expect(stderr).toBe(`carp-service-status: Cannot parse config "${file}" as TOML at line 3, column 8: invalid value\n`);
  });

  test("the parser that locates errors loads only for a file that is not TOML", async () => {
    // A fresh process: the loaded modules show in require.cache (smol-toml is loaded with require()).
    const probe = `
      const { loadConfig } = await import(${JSON.stringify(join(import.meta.dir, "..", "src", "config", "config.ts"))});
      const loaded = () => Object.keys(require.cache).some((path) => path.includes("smol-toml"));
      loadConfig({ file: process.argv.at(-2) });
      const afterValid = loaded();
      try { loadConfig({ file: process.argv.at(-1) }); } catch {}
      console.log(JSON.stringify({ afterValid, afterInvalid: loaded() }));
    `;
    const valid = configFile('hooksDir = "/tmp/h"\n[hooks."x"]\nfall = 2\n');
    const invalid = configFile("fall = \n");
    const proc = Bun.spawn([process.execPath, "-e", probe, valid, invalid], { stdout: "pipe", stderr: "inherit" });
    const [stdout, exitCode] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
    expect(exitCode).toBe(0);
    expect(JSON.parse(stdout)).toEqual({ afterValid: false, afterInvalid: true });
  });
});

describe("string escapes", () => {
  test("read as TOML says under every Bun (Bun 1.3's own parser swaps \\t and \\f)", () => {
    const file = configFile('[hookEnv]\nA = "tab\\tform\\ffeed"\nB = "\\u0001 \\U0001F600 \\u00e9 \\\\ \\""\n');
    expect(loadConfig({ file, platform: "freebsd" }).config.hookEnv).toEqual({ A: "tab\tform\ffeed", B: '\u0001 \u{1F600} é \\ "' });
  });

  test("an error in a file read that way still has its line and column", () => {
    const file = configFile('[hookEnv]\nA = "\\t"\nB = \n');
    expect(() => loadConfig({ file })).toThrow(`Cannot parse config "${file}" as TOML at line 3, column 5: `);
  });
});

describe("cron errors name the field", () => {
  const cases: Array<[pattern: string, says: string]> = [
    ["*/10 * * 61 * *", 'The day of month, field 4 of 6, is "61": allowed 1-31'],
    ["61 * * * *", 'The minute, field 1 of 5, is "61": allowed 0-59'],
    ["0 0 25 * * *", 'The hour, field 3 of 6, is "25": allowed 0-23'],
    ["0 0 * 13 *", 'The month, field 4 of 5, is "13": allowed 1-12 or JAN-DEC'],
    ["0 0 * * 8", 'The day of week, field 5 of 5, is "8": allowed 0-7 (0 and 7 are Sunday)'],
    ["*/0 * * * * *", 'The second, field 1 of 6, is "*/0": allowed 0-59'],
    ["0 0 0 1 1 * 0", 'The year, field 7 of 7, is "0": allowed 1-9999'],
  ];
  for (const [pattern, says] of cases) {
    test(`"${pattern}"`, () => {
      const message = configError({ schedule: pattern });
      expect(message).toContain(says);
      expect(message).toContain("→ at schedule");
    });
  }

  test("the fields are listed, so a pattern with seconds left out reads right", () => {
    expect(configError({ schedule: "61 * * * *" })).toContain("fields: minute hour day-of-month month day-of-week");
    expect(configError({ schedule: "*/10 * * 61 * *" })).toContain("fields: second minute hour day-of-month month day-of-week");
  });

  test("a wrong number of fields says how many there are and how many there may be", () => {
    expect(configError({ schedule: "* * * *" })).toContain('"* * * *" has 4 fields; a cron pattern has 5 (minute hour');
  });

  test("an unknown nickname", () => {
    expect(configError({ schedule: "@dayly" })).toContain('"@dayly" is not a nickname croner knows');
  });
});

describe("carp-service-status config warns about slips in a valid config", () => {
  function hooksDirWith(...names: string[]): string {
    const dir = mkdtempSync(join(tmpdir(), "carp-hooks-"));
    dirs.push(dir);
    for (const name of names) writeFileSync(join(dir, name), "#!/bin/sh\nexit 0\n", { mode: 0o755 });
    return dir;
  }

  test('a [hooks."X"] naming no file: the nearest hook\'s name', async () => {
    const hooksDir = hooksDirWith("frr_ospf", "unbound");
    const file = configFile(`hooksDir = "${hooksDir}"\n[hooks."frr-ospf"]\ntimeoutMs = 3000\n[hooks."later"]\nfall = 2\n`);
    const { stderr, exitCode } = await runCli(["config", "--config", file]);
    expect(exitCode).toBe(0);
    expect(stderr).toContain(`warning: [hooks."frr-ospf"] names no file in "${hooksDir}"; did you mean "frr_ospf"?\n`);
    expect(stderr).toContain(`warning: [hooks."later"] names no file in "${hooksDir}" (yet?): its settings apply to no hook\n`);
    expect(stderr).toEndWith(`configuration OK ("${file}")\n`);
  });

  test("check says the same of the table, with the same guess", async () => {
    const sandbox = makeSandbox();
    try {
      sandbox.addHook("frr_ospf", { fixture: "pass" });
      appendFileSync(sandbox.configFile, '[hooks."frr-ospf"]\ntimeoutMs = 3000\n');
      const { stdout, exitCode } = await runCli(["check", "--dry-run", "--config", sandbox.configFile]);
      expect(exitCode).toBe(0);
      expect(stdout).toContain(`warning: [hooks."frr-ospf"] names no file in "${sandbox.hooksDir}"; did you mean "frr_ospf"?\n`);
    } finally {
      sandbox.cleanup();
    }
  });

  test("a hooks directory that cannot be listed: no check would run", async () => {
    const { stderr, exitCode } = await runCli(["config", "--config", configFile('hooksDir = "/nonexistent/hooks.d"\n')]);
    expect(exitCode).toBe(0);
    expect(stderr).toContain('warning: hooksDir "/nonexistent/hooks.d" cannot be listed (ENOENT): no service check would run');
  });

  test("durations under a second: the unit is milliseconds", async () => {
    const hooksDir = hooksDirWith("frr_ospf");
    const file = configFile(
      `hooksDir = "${hooksDir}"\npromoteDelayMs = 30\nhookTimeoutMs = 500\nnotifyTimeoutMs = 999\n[hooks."frr_ospf"]\ntimeoutMs = 300\n`,
    );
    const { stderr, exitCode } = await runCli(["config", "--config", file]);
    expect(exitCode).toBe(0);
    expect(stderr).toContain("warning: promoteDelayMs = 30 is in milliseconds (0.03 s); for 30 s write promoteDelayMs = 30000\n");
    expect(stderr).toContain("warning: hookTimeoutMs = 500 is in milliseconds (0.5 s); for 500 s write hookTimeoutMs = 500000\n");
    expect(stderr).toContain("warning: notifyTimeoutMs = 999 is in milliseconds (0.999 s)");
    expect(stderr).toContain(
      'warning: [hooks."frr_ospf"] timeoutMs = 300 is in milliseconds (0.3 s); for 300 s write timeoutMs = 300000\n',
    );
  });

  test("nothing to say about sensible values: only configuration OK (and the simulation's notice)", async () => {
    const hooksDir = hooksDirWith("frr_ospf");
    const file = configFile(
      `hooksDir = "${hooksDir}"\nsysctl = "/sbin/sysctl"\nlogger = "/usr/bin/logger"\npromoteDelayMs = 0\nhookTimeoutMs = 1000\n[hooks."frr_ospf"]\ntimeoutMs = 3000\n`,
    );
    const { stderr, exitCode } = await runCli(["config", "--config", file]);
    expect(exitCode).toBe(0);
    expect(stderr).toBe(`configuration OK ("${file}")\n`);
  });
});

describe("carp-service-status config prints TOML that reads back", () => {
  /** Every kind of value: tables, quotes, backslashes, newlines, a tab, non-ASCII, odd hook names. */
  const ODD = [
    'hooksDir = "/tmp/carp hooks/ünïcødé \\\\ \\"q\\""',
    "schedule = false",
    "socket = false",
    "socketGroup = 4242",
    'metricsFile = "/var/tmp/node_exporter/carp.prom"',
    "promoteDelayMs = 30000",
    "scriptSecurity = false",
    'logLevel = "debug"',
    "[hookEnv]",
    'REQUESTS_CA_BUNDLE = "/usr/local/etc/ssl/cert.pem"',
    'MOTD = "line one\\nline \\"two\\"\\tand a tab \\\\ déjà vu ✓"',
    '[hooks."frr_ospf"]',
    "fall = 3",
    "rise = 2",
    "timeoutMs = 3000",
    '[hooks."we\\"ird name.sh"]',
    "enabled = false",
    '[hooks."back\\\\slash"]',
    '[hooks."ünbound"]',
    "timeoutMs = 2000",
    '[hooks."a.b"]',
    "rise = 5",
  ].join("\n");

  test("config --config F > G; config --config G prints the same, and configuration OK", async () => {
    const f = configFile(`${ODD}\n`);
    const first = await runCli(["config", "--config", f]);
    expect(first.stderr).toEndWith(`configuration OK ("${f}")\n`);
    expect(first.exitCode).toBe(0);
    const g = configFile(first.stdout);
    const second = await runCli(["config", "--config", g]);
    expect(second.stderr).toEndWith(`configuration OK ("${g}")\n`);
    expect(second.exitCode).toBe(0);
    expect(second.stdout).toBe(first.stdout);
    // And G holds what F says, every key included.
    expect(loadConfig({ file: g }).config).toEqual(loadConfig({ file: f }).config);
  });

  test("tables are TOML tables under their headers, not JSON", async () => {
    const { stdout } = await runCli(["config", "--config", configFile(`${ODD}\n`)]);
    expect(stdout).toContain('\n[hooks."frr_ospf"]\nfall = 3\nrise = 2\ntimeoutMs = 3000\n');
    expect(stdout).toContain('\n[hooks."we\\"ird name.sh"]\nenabled = false\n');
    expect(stdout).toContain('\n[hooks."back\\\\slash"]\n');
    expect(stdout).toContain('\n[hookEnv]\nREQUESTS_CA_BUNDLE = "/usr/local/etc/ssl/cert.pem"\n');
    expect(stdout).toContain('MOTD = "line one\\nline \\"two\\"\tand a tab \\\\ déjà vu ✓"\n');
    expect(stdout).toContain("\nsocketGroup = 4242\n");
    expect(stdout).toContain("# unset (no default): notifyDir\n");
    expect(stdout).not.toContain('{"');
  });

  test("with nothing set, empty tables show inline, every key once", async () => {
    const { stdout } = await runCli(["config", "--config", configFile("")]);
    expect(stdout).toContain("\nhookEnv = {}\n");
    expect(stdout).toContain("\nhooks = {}\n");
    const keys = stdout
      .split("\n")
      .filter((line) => /^[A-Za-z]+ = /.test(line))
      .map((line) => line.split(" ")[0]);
    expect(keys).toEqual(configKeys().filter((key) => !["socketGroup", "metricsFile", "notifyDir"].includes(key)));
  });
});
