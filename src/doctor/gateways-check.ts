/**
 * doctor's look at the gateway checks: the status command run as an evaluation runs it (the same
 * deadline, vetted as root), and every listed gateway held against what it prints. A name that is
 * no gateway of this node fails its check at every run, so it would demote a healthy node: a
 * problem, with the nearest name. A gateway without monitoring never reads "down" (only "force_down",
 * marked so by hand), and a failOn it can never match makes a check that never fails.
 * Nothing when no gateway is listed: the command is not run then either.
 */
import { messageOf } from "../common/errors.ts";
import type { Config } from "../config/config.ts";
import { gatewayCheckName, gatewayTable } from "../config/gateways.ts";
import { didYouMean } from "../config/suggest.ts";
import { describeStatus, type GatewayRead, isUnmonitored } from "../engine/gateway-status.ts";
import { enabledGateways, readGatewayStatus } from "../engine/gateways.ts";
import { HOOK_ENV } from "../engine/run-hooks.ts";
import { type Finding, finding } from "./finding.ts";

const CHECK = "gateways";

/** Where an admin turns a gateway's monitoring on. */
const MONITORING_FIX = 'in System > Gateways > Configuration, edit the gateway: untick "Disable Gateway Monitoring" (and set a monitor IP)';

/** The findings for a good read of the gateway status. Pure. */
export function gatewayFindings(config: Pick<Config, "gateways">, read: GatewayRead): Finding[] {
  const listed = Object.keys(config.gateways);
  const known = [...read.reports.keys()].sort();
  const findings: Finding[] = [];
  const fine: string[] = [];
  for (const gateway of enabledGateways(config)) {
    const { failOn } = config.gateways[gateway]!;
    const report = read.reports.get(gateway);
    const table = gatewayTable(gateway);
    if (report === undefined) {
      const near = didYouMean(
        gateway,
        known.filter((name) => !listed.includes(name)),
      );
      const gateways = known.length === 0 ? "none" : known.join(", ");
      findings.push(
        finding(
          CHECK,
          "problem",
          `${table}: "${gateway}" is no gateway of this node, or one disabled in System > Gateways${near} ("${read.command}" lists: ${gateways}); ${gatewayCheckName(gateway)} fails at every run`,
          `name a gateway of System > Gateways in ${table}`,
        ),
      );
      continue;
    }
    if (isUnmonitored(report)) {
      const never = failOn.includes("force_down")
        ? 'it fails only while marked down by hand ("force_down")'
        : `failOn = [${failOn.map((status) => `"${status}"`).join(", ")}] can never match: ${gatewayCheckName(gateway)} never fails`;
      findings.push(
        finding(
          CHECK,
          "warn",
          `${table}: "${gateway}" has no monitoring (loss and delay "~"), so its status never turns "down"; ${never}`,
          MONITORING_FIX,
        ),
      );
      continue;
    }
    fine.push(`${gateway} ${describeStatus(report)}`);
  }
  if (findings.length === 0) {
    findings.push(
      finding(
        CHECK,
        "ok",
        `${fine.length === 1 ? "1 gateway" : `${fine.length} gateways`} read from "${read.command}" in ${read.durationMs} ms: ${fine.join(", ")}`,
      ),
    );
  }
  return findings;
}

/** Reads the gateway status as the daemon (root) would; no finding when no gateway is checked. */
export async function checkGateways(config: Config): Promise<Finding[]> {
  if (enabledGateways(config).length === 0) return [];
  try {
    const read = await readGatewayStatus(config.gatewayStatusCommand, {
      timeoutMs: config.gatewayStatusTimeoutMs,
      killGraceMs: config.killGraceMs,
      env: HOOK_ENV,
      enforceSecurity: config.scriptSecurity,
      searchPath: HOOK_ENV.PATH,
    });
    return gatewayFindings(config, read);
  } catch (error) {
    return [
      finding(
        CHECK,
        "problem",
        `${messageOf(error)}. While it does, every evaluation exits 3, no gateway check is judged and nothing is promoted (a failing hook still demotes)`,
        `make "${config.gatewayStatusCommand}" print the gateway status (configctl interface gateways status shows it), or set gatewayStatusCommand`,
      ),
    ];
  }
}
