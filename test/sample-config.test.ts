import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { configSchema, parseConfig } from "../src/config/config.ts";
import { renderSampleConfig } from "../src/config/sample.ts";
import { formatTomlValue } from "../src/config/toml-print.ts";
import { FIXTURES } from "./helpers.ts";

const sample = renderSampleConfig("freebsd");

function uncomment(text: string): string {
  return text
    .split("\n")
    .filter((line) => /^# [A-Za-z]+ = /.test(line))
    .map((line) => line.slice(2))
    .join("\n");
}

describe("sample config", () => {
  test("uncommented, it parses and equals the defaults (plus the examples of keys without one)", () => {
    // The sample's socketGroup example, "wheel", is a FreeBSD group: look it up in FreeBSD's lines.
    const parsed = parseConfig(Bun.TOML.parse(uncomment(sample)), { platform: "freebsd", groupFile: join(FIXTURES, "group") });
    expect(parsed).toEqual({
      ...configSchema("freebsd").parse({}),
      socketGroup: "wheel",
      metricsFile: "/var/tmp/node_exporter/carp_service_status.prom",
      notifyDir: "/usr/local/etc/rc.carp_service_status.notify.d",
    });
  });

  test("shows every key of the schema once, below its description", () => {
    const lines = sample.split("\n");
    for (const [key, field] of Object.entries(configSchema("freebsd").shape)) {
      const at = lines.findIndex((line) => line.startsWith(`# ${key} = `));
      expect(at).toBeGreaterThan(0);
      expect(lines.filter((line) => line.startsWith(`# ${key} = `))).toHaveLength(1);
      expect(lines.slice(Math.max(0, at - 2), at)).toContain(`# ${field.description}`);
    }
  });

  test("has nothing uncommented, so the sample itself configures nothing", () => {
    expect(sample.split("\n").filter((line) => line !== "" && !line.startsWith("#"))).toEqual([]);
  });

  test("shows the FreeBSD paths", () => {
    expect(sample).toContain('# hooksDir = "/usr/local/etc/rc.carp_service_status.d"');
    expect(sample).toContain('# sysctl = "/sbin/sysctl"');
  });

  test("renders TOML values, and refuses what it cannot render", () => {
    expect(formatTomlValue('a "quoted" \\ path', "k")).toBe('"a \\"quoted\\" \\\\ path"');
    expect(formatTomlValue(false, "k")).toBe("false");
    expect(formatTomlValue(4096, "k")).toBe("4096");
    expect(formatTomlValue(["down", "force_down"], "k")).toBe('["down", "force_down"]');
    expect(() => formatTomlValue(null, "k")).toThrow('No TOML rendering for the value of "k"');
    expect(() => formatTomlValue([1.5], "k")).toThrow('No TOML rendering for the value of "k[0]"');
  });
});
