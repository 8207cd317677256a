/** The gateway checks' settings: `[gateways."NAME"]`, the status command and its deadline; what is refused and what is warned about. */
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CarpError } from "../src/common/errors.ts";
import { parseConfig } from "../src/config/config.ts";
import { DEFAULT_GATEWAY_STATUS_COMMAND } from "../src/config/gateways.ts";
import { formatWarning } from "../src/config/notices.ts";
import { parseToml } from "../src/config/toml.ts";
import { valueWarnings } from "../src/config/warnings.ts";
import { thresholdsOf } from "../src/engine/hook-settings.ts";
import { runCli } from "./helpers.ts";

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

function parse(toml: string) {
  return parseConfig(parseToml(toml, "c.toml"), { platform: "freebsd" });
}

function configError(toml: string): string {
  try {
    parse(toml);
  } catch (error) {
    expect(error).toBeInstanceOf(CarpError);
    expect((error as CarpError).code).toBe("config");
    return (error as Error).message;
  }
  throw new Error("expected a config error");
}

describe("the gateways table", () => {
  test("none by default; the command is OPNsense's gateway_status.php with 10 s to answer", () => {
    const config = parse("");
    expect(config.gateways).toEqual({});
    expect(config.gatewayStatusCommand).toBe("/usr/local/opnsense/scripts/routes/gateway_status.php");
    expect(DEFAULT_GATEWAY_STATUS_COMMAND).toBe(config.gatewayStatusCommand);
    expect(config.gatewayStatusTimeoutMs).toBe(10_000);
  });

  test("a table alone fails on down and force_down; fall, rise and enabled are its own when set", () => {
    const config = parse(
      '[gateways."WAN_GW"]\n\n[gateways.WAN2_GW]\nfailOn = ["down", "loss", "delay+loss"]\nfall = 3\nrise = 2\nenabled = false\n',
    );
    expect(config.gateways).toEqual({
      WAN_GW: { failOn: ["down", "force_down"] },
      WAN2_GW: { failOn: ["down", "loss", "delay+loss"], fall: 3, rise: 2, enabled: false },
    });
  });

  test("each gateway's fall and rise count for its check gateway:NAME; the top-level ones when it has none", () => {
    const config = parse('fall = 4\nrise = 5\n[gateways.WAN_GW]\nfall = 2\n[gateways.WAN2_GW]\n[hooks."WAN_GW"]\nfall = 9\nrise = 9\n');
    expect(thresholdsOf(config, "gateway:WAN_GW")).toEqual({ fall: 2, rise: 5 });
    expect(thresholdsOf(config, "gateway:WAN2_GW")).toEqual({ fall: 4, rise: 5 });
    // A hook of the same name is another check.
    expect(thresholdsOf(config, "WAN_GW")).toEqual({ fall: 9, rise: 9 });
  });

  for (const [what, toml, message] of [
    [
      "a name OPNsense never gives a gateway",
      '[gateways."WAN GW"]\n',
      '"WAN GW" is not a gateway name: up to 64 letters, digits, "_" and "-", as System > Gateways names them (e.g. WAN_GW)\n  → at gateways["WAN GW"]',
    ],
    ["a comma, which would split the syslog line's list", '[gateways."A,B"]\n', '"A,B" is not a gateway name'],
    [
      "an empty failOn",
      "[gateways.WAN_GW]\nfailOn = []\n",
      "must list at least one status; to stop checking a gateway set enabled = false\n  → at gateways.WAN_GW.failOn",
    ],
    [
      "a status OPNsense does not report",
      '[gateways.WAN_GW]\nfailOn = ["offline"]\n',
      'Invalid option: expected one of "down"|"force_down"|"loss"|"delay"|"delay+loss"\n  → at gateways.WAN_GW.failOn[0]',
    ],
    ["online, which is no failure", '[gateways.WAN_GW]\nfailOn = ["none"]\n', "Invalid option"],
    ["a status listed twice", '[gateways.WAN_GW]\nfailOn = ["down", "loss", "down"]\n', 'lists "down" twice'],
    [
      "a status not in a list",
      '[gateways.WAN_GW]\nfailOn = "down"\n',
      'must be a list of statuses: "down", "force_down", "loss", "delay", "delay+loss"',
    ],
    ["a misspelt key", '[gateways.WAN_GW]\nfailon = ["down"]\n', 'Unknown key "failon"; did you mean "failOn"?\n  → at gateways.WAN_GW'],
    ["a hook's key", "[gateways.WAN_GW]\ntimeoutMs = 3000\n", 'Unknown key "timeoutMs"'],
    [
      "a top-level key below the table's header",
      "[gateways.WAN_GW]\ngatewayStatusTimeoutMs = 3000\n",
      'Unknown key "gatewayStatusTimeoutMs" in this table: it is a top-level key',
    ],
    [
      "a relative command",
      'gatewayStatusCommand = "gateway_status.php"\n',
      'must be an absolute path, e.g. "/usr/local/opnsense/scripts/routes/gateway_status.php"',
    ],
    ["a deadline under 100 ms", "gatewayStatusTimeoutMs = 50\n", "gatewayStatusTimeoutMs"],
    [
      "a hook table named like a gateway check",
      '[hooks."gateway:WAN_GW"]\nfall = 2\n',
      '"gateway:WAN_GW" cannot name a hook: names starting with "gateway:" are gateway checks, set in [gateways."WAN_GW"]\n  → at hooks["gateway:WAN_GW"]',
    ],
  ] as const) {
    test(`refuses ${what}`, () => {
      expect(configError(toml)).toContain(message);
    });
  }

  test("config prints the gateways as TOML tables that read back the same", async () => {
    const file = configFile('sysctl = "simulated"\n[gateways.WAN_GW]\n[gateways.WAN2_GW]\nfailOn = ["down", "delay+loss"]\nrise = 3\n');
    const first = await runCli(["config", "--config", file]);
    expect(first.exitCode).toBe(0);
    expect(first.stdout).toContain(
      '\n[gateways."WAN_GW"]\nfailOn = ["down", "force_down"]\n\n[gateways."WAN2_GW"]\nrise = 3\nfailOn = ["down", "delay+loss"]\n',
    );
    expect(first.stdout).toContain(
      '\ngatewayStatusCommand = "/usr/local/opnsense/scripts/routes/gateway_status.php"\ngatewayStatusTimeoutMs = 10000\n',
    );
    const again = await runCli(["config", "--config", configFile(first.stdout)]);
    expect(again.stdout).toBe(first.stdout);
  });
});

describe("failOn that lets a worse status pass", () => {
  const warningsOf = (toml: string) => valueWarnings(parse(toml)).map(formatWarning);

  test('leaving out "down": past the high thresholds OPNsense reports down, not loss', () => {
    expect(warningsOf('[gateways.WAN_GW]\nfailOn = ["loss", "delay+loss"]\n')).toEqual([
      '[gateways."WAN_GW"] failOn = ["loss", "delay+loss"] leaves out "down": past its high loss or latency threshold a gateway reads "down", so the check passes while the gateway is down; add "down" to failOn',
    ]);
  });

  test('"loss" or "delay" without "delay+loss": both at once is a status of its own', () => {
    expect(warningsOf('[gateways.WAN_GW]\nfailOn = ["down", "delay"]\n')).toEqual([
      '[gateways."WAN_GW"] failOn = ["down", "delay"] leaves out "delay+loss": a gateway over both its latency and loss thresholds reads "delay+loss", not "delay", and passes; add "delay+loss" to failOn',
    ]);
  });

  test("the default, and every status, say nothing", () => {
    expect(warningsOf('[gateways.WAN_GW]\n[gateways.B]\nfailOn = ["down", "force_down", "loss", "delay", "delay+loss"]\n')).toEqual([]);
    expect(warningsOf('[gateways.WAN_GW]\nfailOn = ["force_down", "down"]\n')).toEqual([]);
  });
});
