import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CarpError } from "../src/common/errors.ts";
import { loadConfig, parseConfig } from "../src/config/config.ts";
import { FIXTURES, runCli } from "./helpers.ts";

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
  test("prints the effective config and configuration OK", async () => {
    const file = configFile('hooksDir = "/tmp/h"\nconcurrency = 3\n');
    const { stdout, exitCode } = await runCli(["config", "--config", file]);
    expect(exitCode).toBe(0);
    expect(stdout).toContain('hooksDir = "/tmp/h"');
    expect(stdout).toContain("concurrency = 3");
    expect(stdout.trim().endsWith("configuration OK")).toBe(true);
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
