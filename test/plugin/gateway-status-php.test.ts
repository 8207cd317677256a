/**
 * The fake gateway_status.php the tests use (test/fixtures/gateway-status) prints what the real one
 * prints: core's own scripts/routes/gateway_status.php, from the tarball, run by PHP over stand-ins
 * for dpinger's status and the gateways model (php/gateway-status/), gives the same bytes for the
 * same gateways. And our reader takes the real output as it comes, and knows every status the
 * script names.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { GATEWAY_STATUSES } from "../../src/config/gateways.ts";
import { isUnmonitored, judgeGateway, parseGatewayStatus } from "../../src/engine/gateway-status.ts";
import { PHP_DIR, REPO, run, scratchDir, testEnv } from "./testenv.ts";

const env = testEnv();
const SCRIPT = join(env.core, "src/opnsense/scripts/routes/gateway_status.php");
const scratch = scratchDir("carp-gateway-status-");
afterAll(() => scratch.remove());

interface Gateway {
  name: string;
  status: string;
  loss: string;
  delay: string;
  stddev: string;
  monitor: string;
}

/** Every status the script names, a pending one, and a gateway without monitoring. */
const GATEWAYS: Gateway[] = [
  { name: "WAN_GW", status: "none", loss: "0.0 %", delay: "12.1 ms", stddev: "0.4 ms", monitor: "192.0.2.1" },
  { name: "WAN2_GW", status: "down", loss: "100.0 %", delay: "0.0 ms", stddev: "0.0 ms", monitor: "198.51.100.1" },
  { name: "WAN_DHCP6", status: "force_down", loss: "0.0 %", delay: "9.5 ms", stddev: "0.2 ms", monitor: "2001:db8::1" },
  { name: "OPT1_GW", status: "loss", loss: "24.0 %", delay: "14.9 ms", stddev: "2.1 ms", monitor: "192.0.2.1" },
  { name: "OPT2_GW", status: "delay", loss: "0.0 %", delay: "612.4 ms", stddev: "80.2 ms", monitor: "192.0.2.1" },
  { name: "OPT3_GW", status: "delay+loss", loss: "31.0 %", delay: "703.3 ms", stddev: "95.0 ms", monitor: "192.0.2.1" },
  { name: "OPT4_GW", status: "init", loss: "~", delay: "~", stddev: "~", monitor: "192.0.2.1" },
  { name: "LAN_GW", status: "none", loss: "~", delay: "~", stddev: "~", monitor: "~" },
];

/** core's gateway_status.php over these gateways (all known to dpinger unless said otherwise). */
async function realScript(gateways: Array<Gateway & { dpinger?: boolean }>): Promise<string> {
  const spec = join(scratch.dir, "gateways.json");
  writeFileSync(spec, JSON.stringify(gateways.map((g) => ({ address: "192.0.2.1", dpinger: true, ...g }))));
  const stubs = join(PHP_DIR, "gateway-status");
  const result = await run([env.php, "-d", `include_path=${stubs}`, "-d", "display_errors=stderr", SCRIPT], {
    env: { CARP_GATEWAYS: spec },
  });
  expect(result.stderr).toBe("");
  expect(result.exitCode).toBe(0);
  return result.stdout;
}

/** The fake over the same gateways, as its "gateways" file describes them. */
async function fixture(gateways: Gateway[]): Promise<string> {
  const dir = join(scratch.dir, "fixture");
  mkdirSync(dir, { recursive: true });
  const command = join(dir, "gateway-status");
  rmSync(command, { force: true });
  symlinkSync(join(REPO, "test/fixtures/gateway-status"), command);
  const word = (value: string) => value.replaceAll(" ", "_");
  writeFileSync(
    join(dir, "gateways"),
    gateways.map((g) => `${g.name} ${g.status} ${word(g.loss)} ${word(g.delay)} ${word(g.stddev)} ${g.monitor}\n`).join(""),
  );
  const result = await run([command]);
  expect(result.exitCode).toBe(0);
  return result.stdout;
}

test("the fake prints byte for byte what core's gateway_status.php prints", async () => {
  const real = await realScript(GATEWAYS);
  expect(real.startsWith('{"WAN_GW":{"name":"WAN_GW","address":"192.0.2.1","status":"none","loss":"0.0 %"')).toBe(true);
  expect(await fixture(GATEWAYS)).toBe(real);
});

test("no gateways at all: both print PHP's []", async () => {
  expect(await realScript([])).toBe("[]\n");
  expect(await fixture([])).toBe("[]\n");
});

test("the real output read: every gateway, the pending one failing, the unmonitored one told apart", async () => {
  const real = await realScript([...GATEWAYS, { ...GATEWAYS[0]!, name: "GONE_GW", dpinger: false }]);
  const reports = parseGatewayStatus(real);
  expect([...reports.keys()]).toEqual([...GATEWAYS.map((g) => g.name), "GONE_GW"]);
  // A gateway dpinger knows nothing of: the script's other branch, no monitoring either.
  expect(reports.get("GONE_GW")).toMatchObject({ status: "none", statusTranslated: "Online", loss: "~", delay: "~", monitor: "~" });
  expect([...reports.values()].filter(isUnmonitored).map((r) => r.name)).toEqual(["LAN_GW", "GONE_GW"]);
  const read = { command: SCRIPT, durationMs: 1, reports };
  const judged = (gateway: string, failOn: string[]) => judgeGateway(read, { gateway, failOn, listed: [] }).status;
  expect(judged("OPT4_GW", ["down"])).toBe("fail");
  expect(reports.get("OPT4_GW")!.statusTranslated).toBe("Pending");
  expect(judged("OPT3_GW", ["delay+loss"])).toBe("fail");
  expect(judged("WAN_DHCP6", ["down", "force_down"])).toBe("fail");
  expect(judged("WAN_GW", ["down", "force_down", "loss", "delay", "delay+loss"])).toBe("pass");
});

test("the statuses we know are the ones the script names; anything else it calls Pending", () => {
  const source = readFileSync(SCRIPT, "utf8");
  const named = [...source.matchAll(/case '([^']+)':/g)].map((match) => match[1]!);
  expect(named.sort()).toEqual([...GATEWAY_STATUSES].sort());
  expect(source).toContain("gettext('Pending')");
});
