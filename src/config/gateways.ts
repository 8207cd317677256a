/**
 * Gateway checks, as the configuration names them: `[gateways."WAN_GW"]` is the check
 * `gateway:WAN_GW`, judged on the status OPNsense's gateway_status.php prints for it. The names,
 * the statuses OPNsense reports and what `failOn` may list live here, free of zod, so the schema,
 * the engine and doctor agree.
 */
import { formatTomlString } from "./toml-print.ts";

/** OPNsense's own reader of dpinger's gateway status (`configctl interface gateways status` runs it). */
export const DEFAULT_GATEWAY_STATUS_COMMAND = "/usr/local/opnsense/scripts/routes/gateway_status.php";

/** What a gateway check's name starts with; no hook file may be named so (names stay unambiguous). */
export const GATEWAY_CHECK_PREFIX = "gateway:";

/**
 * The statuses gateway_status.php reports (dpinger.inc decides them): `none` is online; anything
 * else it labels "Pending". Ordered as OPNsense escalates: loss or latency over the low alarm
 * thresholds, then over the high ones (down), and down by hand (force_down).
 */
export const GATEWAY_STATUSES = ["none", "loss", "delay", "delay+loss", "down", "force_down"] as const;
export type GatewayStatus = (typeof GATEWAY_STATUSES)[number];

/** The statuses a gateway check may fail on: every one but online. */
export const FAIL_ON_STATUSES = ["down", "force_down", "loss", "delay", "delay+loss"] as const;
export type FailOnStatus = (typeof FAIL_ON_STATUSES)[number];

/** A gateway that is down, or marked down by hand ("Mark Gateway as Down"), fails; latency and loss alone do not. */
export const DEFAULT_FAIL_ON: readonly FailOnStatus[] = ["down", "force_down"];

/**
 * Gateway names as OPNsense allows them (System > Gateways: letters, digits, "_" and "-"; dynamic
 * gateways are named after their interface, e.g. WAN_DHCP6): never a comma, which separates the
 * names of the syslog line and of a gateway alarm.
 */
export const GATEWAY_NAME_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** The check's name for a gateway. */
export function gatewayCheckName(gateway: string): string {
  return `${GATEWAY_CHECK_PREFIX}${gateway}`;
}

/** The gateway a check's name stands for, or null when it is not a gateway check's name. */
export function gatewayOfCheck(name: string): string | null {
  return name.startsWith(GATEWAY_CHECK_PREFIX) ? name.slice(GATEWAY_CHECK_PREFIX.length) : null;
}

/** How a gateway's table is written in the file, as the docs and `config` write it: `[gateways."WAN_GW"]`. */
export function gatewayTable(gateway: string): string {
  return `[gateways.${formatTomlString(gateway)}]`;
}
