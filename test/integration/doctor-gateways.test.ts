/** doctor's gateway row against the fake gateway_status.php: it runs the command as an evaluation does, with the same deadline. */
import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runDoctor } from "../../src/doctor/doctor.ts";
import { addGatewayFixture, writeGatewayConfig } from "../gateway-fixture.ts";
import { makeSandbox, runCli, type Sandbox } from "../helpers.ts";

let sandbox: Sandbox;
let root: string;
afterEach(() => {
  sandbox.cleanup();
  rmSync(root, { recursive: true, force: true });
});

function setUp(lines: string[], gateways: Record<string, string[]>, extra: Record<string, unknown> = {}) {
  sandbox = makeSandbox();
  sandbox.addHook("svc", { fixture: "pass" });
  root = mkdtempSync(join(tmpdir(), "carp-doctor-root-"));
  const fixture = addGatewayFixture(sandbox, lines);
  writeGatewayConfig(sandbox, fixture, gateways, extra);
  return fixture;
}

async function rows(check: string) {
  return (await runDoctor({ root, configFile: sandbox.configFile })).filter((f) => f.check === check);
}

test("the gateways row comes after the hooks, and says what each listed gateway reads", async () => {
  setUp(["WAN_GW none", "WAN2_GW loss"], { WAN_GW: [], WAN2_GW: [] });
  const findings = await runDoctor({ root, configFile: sandbox.configFile });
  const checks = findings.map((f) => f.check);
  expect(checks.indexOf("gateways")).toBe(checks.indexOf("hooks") + 1);
  const [row] = findings.filter((f) => f.check === "gateways");
  expect(row!.status).toBe("ok");
  expect(row!.detail).toMatch(
    /^2 gateways read from ".+\/bin\/gateway-status" in \d+ ms: WAN_GW none \(Online\), WAN2_GW loss \(Packetloss\)$/,
  );
});

test("unknown names with did you mean, a gateway without monitoring, a failOn that can never match; the dry run would demote", async () => {
  setUp(["WAN_DHCP none", "OPT1_GW none ~ ~ ~ ~"], { WAN_DHCPP: [], OPT1_GW: ['failOn = ["down", "delay+loss"]'] });
  const { stdout, exitCode } = await runCli(["doctor", "--root", root, "--config", sandbox.configFile]);
  expect(exitCode).toBe(2);
  expect(stdout).toContain(
    'gateways         PROBLEM  [gateways."WAN_DHCPP"]: "WAN_DHCPP" is no gateway of this node, or one disabled in System > Gateways; did you mean "WAN_DHCP"?',
  );
  expect(stdout).toContain(
    'gateways         WARN     [gateways."OPT1_GW"]: "OPT1_GW" has no monitoring (loss and delay "~"), so its status never turns "down"; failOn = ["down", "delay+loss"] can never match: gateway:OPT1_GW never fails\n',
  );
  expect(stdout).toContain("dry run          PROBLEM  starting now would DEMOTE this node because: gateway:WAN_DHCPP (no gateway");
  // Its failOn keeps "down": the config itself has nothing to warn about.
  expect(stdout).toContain("\nconfig           ok ");
  expect(stdout).not.toContain("config           WARN");
});

test("a command that hangs is a problem within the same deadline: every evaluation would exit 3 and promote nothing", async () => {
  const fixture = setUp(["WAN_GW none"], { WAN_GW: [] }, { gatewayStatusTimeoutMs: 300 });
  fixture.setSwitch("hang", "");
  const started = performance.now();
  const [row] = await rows("gateways");
  expect(performance.now() - started).toBeLessThan(5000);
  expect(row).toEqual({
    check: "gateways",
    status: "problem",
    detail: `The gateway status command "${fixture.command}" did not finish within 300 ms (gatewayStatusTimeoutMs); it and all it started were killed; fix: run it by hand to see why it hangs, or raise gatewayStatusTimeoutMs. While it does, every evaluation exits 3, no gateway check is judged and nothing is promoted (a failing hook still demotes)`,
    fix: `make "${fixture.command}" print the gateway status (configctl interface gateways status shows it), or set gatewayStatusCommand`,
  });
  const [dryRun] = await rows("dry run");
  expect(dryRun!.status).toBe("problem");
  expect(dryRun!.detail).toContain("cannot judge every check: The gateway status could not be read, so gateway:WAN_GW keeps");
});

test("no row, and no run of the command, while no gateway is listed", async () => {
  const fixture = setUp(["WAN_GW none"], {});
  expect(await rows("gateways")).toEqual([]);
  expect(fixture.runs()).toBe(0);
});
