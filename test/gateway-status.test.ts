/** What gateway_status.php prints, read, and each listed gateway judged on it: pure, table-driven. */
import { describe, expect, test } from "bun:test";
import { DEFAULT_FAIL_ON } from "../src/config/gateways.ts";
import {
  describeReport,
  type GatewayRead,
  type GatewayReport,
  isUnmonitored,
  judgeGateway,
  parseGatewayStatus,
} from "../src/engine/gateway-status.ts";

/** One entry as gateway_status.php prints it (its field order, its number format). */
function entry(name: string, status: string, numbers: [string, string, string, string] = ["0.0 %", "12.1 ms", "0.4 ms", "192.0.2.1"]) {
  const [loss, delay, stddev, monitor] = numbers;
  const translated: Record<string, string> = {
    none: "Online",
    force_down: "Offline (forced)",
    down: "Offline",
    delay: "Latency",
    loss: "Packetloss",
    "delay+loss": "Latency, Packetloss",
  };
  return { name, address: "192.0.2.1", status, loss, delay, stddev, monitor, status_translated: translated[status] ?? "Pending" };
}

const NO_MONITORING: [string, string, string, string] = ["~", "~", "~", "~"];

function read(entries: ReturnType<typeof entry>[]): GatewayRead {
  const json = JSON.stringify(Object.fromEntries(entries.map((e) => [e.name, e])));
  return { command: "/usr/local/opnsense/scripts/routes/gateway_status.php", durationMs: 93, reports: parseGatewayStatus(`${json}\n`) };
}

describe("parseGatewayStatus", () => {
  test("reads every field of every gateway", () => {
    const reports = parseGatewayStatus(
      `${JSON.stringify({ WAN_GW: entry("WAN_GW", "down", ["100.0 %", "0.0 ms", "0.0 ms", "8.8.8.8"]) })}\n`,
    );
    expect([...reports.values()]).toEqual([
      {
        name: "WAN_GW",
        address: "192.0.2.1",
        status: "down",
        statusTranslated: "Offline",
        loss: "100.0 %",
        delay: "0.0 ms",
        stddev: "0.0 ms",
        monitor: "8.8.8.8",
      },
    ]);
  });

  test("PHP's [] for no gateways at all is an empty status, not an error", () => {
    expect(parseGatewayStatus("[]\n").size).toBe(0);
    expect(parseGatewayStatus("{}").size).toBe(0);
  });

  test('fields left out read as the script\'s "~"', () => {
    const [report] = parseGatewayStatus('{"GW":{"status":"none"}}').values();
    expect(report).toMatchObject({ name: "GW", status: "none", loss: "~", delay: "~", monitor: "~", statusTranslated: "" });
  });

  for (const [output, message] of [
    ["", "it printed nothing"],
    ["  \n", "it printed nothing"],
    ["PHP Warning:  Undefined index\n{}", "it did not print JSON"],
    ['{"WAN_GW": ', "it did not print JSON"],
    ['["WAN_GW"]', "it printed a list, not an object of gateways by name"],
    ["null", "it printed a null, not an object"],
    ['"none"', "it printed a string, not an object"],
    ['{"WAN_GW": "none"}', 'its entry for "WAN_GW" is not an object'],
    ['{"WAN_GW": {"name": "WAN_GW"}}', 'its entry for "WAN_GW" has no status'],
    ['{"WAN_GW": {"status": 0}}', 'its entry for "WAN_GW" has a status that is not text'],
    ['{"WAN_GW": {"status": "none", "loss": 0.5}}', 'its entry for "WAN_GW" has a loss that is not text'],
  ] as const) {
    test(`refuses ${JSON.stringify(output)}: ${message}`, () => {
      expect(() => parseGatewayStatus(output)).toThrow(message);
    });
  }

  test("says what it printed, control characters escaped", () => {
    expect(() => parseGatewayStatus("<b>\x1b[31mFatal</b>")).toThrow('"<b>\\x1b[31mFatal</b>"');
  });
});

describe("judgeGateway", () => {
  const listed = ["WAN_GW", "WAN2_GW"];
  const judge = (r: GatewayRead, gateway: string, failOn: readonly string[] = DEFAULT_FAIL_ON) =>
    judgeGateway(r, { gateway, failOn, listed });

  // [status, failOn, result]: OPNsense's status and the check's failOn decide; pending fails whatever failOn says.
  const TABLE: Array<[string, readonly string[], "pass" | "fail"]> = [
    ["none", DEFAULT_FAIL_ON, "pass"],
    ["down", DEFAULT_FAIL_ON, "fail"],
    ["force_down", DEFAULT_FAIL_ON, "fail"],
    ["loss", DEFAULT_FAIL_ON, "pass"],
    ["delay", DEFAULT_FAIL_ON, "pass"],
    ["delay+loss", DEFAULT_FAIL_ON, "pass"],
    ["loss", ["down", "loss"], "fail"],
    ["delay+loss", ["down", "loss"], "pass"],
    ["delay+loss", ["delay+loss"], "fail"],
    ["delay", ["delay"], "fail"],
    ["down", ["loss"], "pass"],
    ["none", ["down", "force_down", "loss", "delay", "delay+loss"], "pass"],
    ["pending", DEFAULT_FAIL_ON, "fail"],
    ["", ["down", "force_down", "loss", "delay", "delay+loss"], "fail"],
    ["DOWN", DEFAULT_FAIL_ON, "fail"],
  ];
  for (const [status, failOn, expected] of TABLE) {
    test(`status ${JSON.stringify(status)} with failOn ${JSON.stringify(failOn)}: ${expected}`, () => {
      expect(judge(read([entry("WAN_GW", status)]), "WAN_GW", failOn).status).toBe(expected);
    });
  }

  test("a passing gateway: its status and numbers as output, no reason, the read's time", () => {
    expect(judge(read([entry("WAN_GW", "none")]), "WAN_GW")).toEqual({
      name: "gateway:WAN_GW",
      status: "pass",
      exitCode: null,
      signal: null,
      timedOut: false,
      durationMs: 93,
      output: "none (Online), loss 0.0 %, delay 12.1 ms, stddev 0.4 ms, monitor 192.0.2.1",
      outputDroppedBytes: 0,
      reason: null,
      warnings: [],
    });
  });

  test("a failing one says it is in failOn", () => {
    const result = judge(read([entry("WAN_GW", "down", ["100.0 %", "0.0 ms", "0.0 ms", "192.0.2.1"])]), "WAN_GW");
    expect(result).toMatchObject({
      status: "fail",
      reason: "in failOn",
      output: "down (Offline), loss 100.0 %, delay 0.0 ms, stddev 0.0 ms, monitor 192.0.2.1",
    });
  });

  test("a pending status fails, saying it is not known to be up", () => {
    expect(judge(read([entry("WAN_GW", "init")]), "WAN_GW")).toMatchObject({
      status: "fail",
      reason: 'pending: status "init" is not one OPNsense reports, so not known to be up',
      output: "init (Pending), loss 0.0 %, delay 12.1 ms, stddev 0.4 ms, monitor 192.0.2.1",
    });
  });

  test("a gateway missing from the status fails closed, with the nearest name that no other check has", () => {
    const r = read([entry("WAN_GW", "none"), entry("WAN_DHCP6", "none"), entry("OPT1_GW", "none")]);
    expect(judge(r, "WAN_DHCP")).toMatchObject({
      status: "fail",
      output: "",
      reason:
        'no gateway "WAN_DHCP" in the gateway status; did you mean "WAN_DHCP6"? (it lists OPT1_GW, WAN_DHCP6, WAN_GW); fix: name a gateway of System > Gateways in [gateways."WAN_DHCP"]',
    });
    // WAN_GW is listed already: suggesting it for WAN2_GW would point at another check.
    expect(judge(read([entry("WAN_GW", "none")]), "WAN2_GW").reason).toBe(
      'no gateway "WAN2_GW" in the gateway status (it lists WAN_GW); fix: name a gateway of System > Gateways in [gateways."WAN2_GW"]',
    );
    expect(judge(read([]), "WAN_GW").reason).toStartWith('no gateway "WAN_GW" in the gateway status (it lists no gateway)');
  });

  test('"__proto__" and "constructor" are names like any other', () => {
    const r = read([entry("constructor", "none")]);
    expect(judge(r, "constructor").status).toBe("pass");
    expect(judge(r, "__proto__").status).toBe("fail");
  });
});

describe("isUnmonitored", () => {
  const report = (status: string, numbers?: [string, string, string, string]): GatewayReport =>
    parseGatewayStatus(JSON.stringify({ GW: entry("GW", status, numbers) })).get("GW")!;

  test('"none" with "~" for loss and delay is a gateway dpinger does not watch', () => {
    expect(isUnmonitored(report("none", NO_MONITORING))).toBe(true);
    expect(describeReport(report("none", NO_MONITORING))).toBe("none (Online), loss ~, delay ~, stddev ~, monitor ~");
  });

  test("a watched gateway, or one down without data (dpinger not running), is monitored", () => {
    expect(isUnmonitored(report("none"))).toBe(false);
    expect(isUnmonitored(report("down", ["~", "~", "~", "192.0.2.1"]))).toBe(false);
    expect(isUnmonitored(report("force_down", NO_MONITORING))).toBe(false);
  });
});
