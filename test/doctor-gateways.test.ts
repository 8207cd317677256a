/** doctor's gateway findings as a pure function of the config and one read of the gateway status. */
import { describe, expect, test } from "bun:test";
import { parseConfig } from "../src/config/config.ts";
import { gatewayFindings } from "../src/doctor/gateways-check.ts";
import { type GatewayRead, parseGatewayStatus } from "../src/engine/gateway-status.ts";

const COMMAND = "/usr/local/opnsense/scripts/routes/gateway_status.php";

/** A read of gateways "NAME STATUS" (loss and delay "~" with a third word "unmonitored"). */
function read(lines: string[]): GatewayRead {
  const entries = lines.map((line) => {
    const [name, status, unmonitored] = line.split(" ") as [string, string, string?];
    const numbers = unmonitored
      ? { loss: "~", delay: "~", stddev: "~", monitor: "~" }
      : { loss: "0.0 %", delay: "1.0 ms", stddev: "0.1 ms", monitor: "192.0.2.1" };
    return [name, { name, address: "192.0.2.1", status, ...numbers, status_translated: status === "none" ? "Online" : "Offline" }];
  });
  return { command: COMMAND, durationMs: 140, reports: parseGatewayStatus(JSON.stringify(Object.fromEntries(entries))) };
}

function findings(gateways: Record<string, Record<string, unknown>>, lines: string[]) {
  return gatewayFindings(parseConfig({ gateways }, { platform: "freebsd" }), read(lines));
}

describe("gateways", () => {
  test("every listed gateway there and watched: one ok line with each one's status", () => {
    expect(findings({ WAN_GW: {}, WAN2_GW: { failOn: ["down", "loss"] } }, ["WAN_GW none", "WAN2_GW down", "LAN_GW none"])).toEqual([
      {
        check: "gateways",
        status: "ok",
        detail: `2 gateways read from "${COMMAND}" in 140 ms: WAN_GW none (Online), WAN2_GW down (Offline)`,
        fix: null,
      },
    ]);
  });

  test("a name that is no gateway here is a problem (its check fails at every run), with the nearest name no other check has", () => {
    const [f] = findings({ WAN_DHCP: {}, WAN_GW: {} }, ["WAN_GW none", "WAN_DHCP6 none"]);
    expect(f).toEqual({
      check: "gateways",
      status: "problem",
      detail: `[gateways."WAN_DHCP"]: "WAN_DHCP" is no gateway of this node, or one disabled in System > Gateways; did you mean "WAN_DHCP6"? ("${COMMAND}" lists: WAN_DHCP6, WAN_GW); gateway:WAN_DHCP fails at every run`,
      fix: 'name a gateway of System > Gateways in [gateways."WAN_DHCP"]',
    });
  });

  test("a gateway without monitoring never reads down: a warning saying it fails only when marked down by hand", () => {
    const [f] = findings({ WAN_GW: {} }, ["WAN_GW none unmonitored"]);
    expect(f).toMatchObject({
      status: "warn",
      detail:
        '[gateways."WAN_GW"]: "WAN_GW" has no monitoring (loss and delay "~"), so its status never turns "down"; it fails only while marked down by hand ("force_down")',
      fix: 'in System > Gateways > Configuration, edit the gateway: untick "Disable Gateway Monitoring" (and set a monitor IP)',
    });
  });

  test("and a failOn it can never match says the check never fails", () => {
    const [f] = findings({ WAN_GW: { failOn: ["down", "loss", "delay+loss"] } }, ["WAN_GW none unmonitored"]);
    expect(f!.status).toBe("warn");
    expect(f!.detail).toEndWith('failOn = ["down", "loss", "delay+loss"] can never match: gateway:WAN_GW never fails');
  });

  test("a gateway down with no data (dpinger not running) is watched, not unmonitored; disabled checks are not looked at", () => {
    const down = read(["WAN_GW down"]);
    const report = down.reports.get("WAN_GW")!;
    const withoutData = { ...down, reports: new Map([["WAN_GW", { ...report, loss: "~", delay: "~" }]]) };
    const config = parseConfig({ gateways: { WAN_GW: {}, OLD_GW: { enabled: false } } }, { platform: "freebsd" });
    expect(gatewayFindings(config, withoutData)).toEqual([
      { check: "gateways", status: "ok", detail: `1 gateway read from "${COMMAND}" in 140 ms: WAN_GW down (Offline)`, fix: null },
    ]);
  });
});
