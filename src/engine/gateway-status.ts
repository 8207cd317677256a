/**
 * What OPNsense's gateway_status.php prints, read and judged. Pure: the command's stdout in, each
 * listed gateway's check result out, so the rules have a table-driven test.
 *
 * The script prints one JSON object keyed by gateway name (`json_encode`, so `[]` when there is no
 * gateway), each entry with `name`, `address`, `status`, `status_translated`, `loss`, `delay`,
 * `stddev` and `monitor`; the numbers are text ("0.4 %", "12.1 ms"), `~` where dpinger has no data.
 *
 * | the gateway's entry                            | the check                                  |
 * | missing (not a gateway of this node, disabled) | fails: fail closed                         |
 * | a status in failOn                             | fails                                      |
 * | `none`, or a known status not in failOn        | passes                                     |
 * | any other status (OPNsense says "Pending")     | fails, whatever failOn says: not known up  |
 */
import { escapeControl } from "../common/escape.ts";
import { GATEWAY_STATUSES, gatewayCheckName, gatewayTable } from "../config/gateways.ts";
import { didYouMean } from "../config/suggest.ts";
import type { ServiceResult } from "../protocol/wire.ts";

/** One gateway as the command reports it; fields it left out read "~", as the script prints what it does not know. */
export interface GatewayReport {
  name: string;
  address: string;
  status: string;
  statusTranslated: string;
  loss: string;
  delay: string;
  stddev: string;
  monitor: string;
}

/** The text fields of an entry, as gateway_status.php names them. */
const TEXT_FIELDS = ["name", "address", "status", "status_translated", "loss", "delay", "stddev", "monitor"] as const;

/** At most this many names are listed when one is not found. */
const NAMES_SHOWN = 8;

/** What the output holds, or why it is not gateway_status.php's JSON (an Error with a message for people). */
export function parseGatewayStatus(stdout: string): Map<string, GatewayReport> {
  const text = stdout.trim();
  if (text === "") throw new Error("it printed nothing");
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new Error(`it did not print JSON (${(error as Error).message}): ${quoteStart(text)}`);
  }
  // PHP's json_encode prints an empty array for no gateways at all.
  if (Array.isArray(parsed) && parsed.length === 0) return new Map();
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new Error(
      `it printed ${Array.isArray(parsed) ? "a list" : `a ${parsed === null ? "null" : typeof parsed}`}, not an object of gateways by name: ${quoteStart(text)}`,
    );
  }
  const reports = new Map<string, GatewayReport>();
  for (const [name, entry] of Object.entries(parsed)) {
    if (typeof entry !== "object" || entry === null || Array.isArray(entry)) {
      throw new Error(`its entry for "${escapeControl(name)}" is not an object`);
    }
    const fields: Record<string, string> = {};
    for (const field of TEXT_FIELDS) {
      const value: unknown = (entry as Record<string, unknown>)[field];
      if (value === undefined) continue;
      if (typeof value !== "string") throw new Error(`its entry for "${escapeControl(name)}" has a ${field} that is not text`);
      fields[field] = value;
    }
    if (fields.status === undefined) throw new Error(`its entry for "${escapeControl(name)}" has no status`);
    reports.set(name, {
      name,
      address: fields.address ?? "~",
      status: fields.status,
      statusTranslated: fields.status_translated ?? "",
      loss: fields.loss ?? "~",
      delay: fields.delay ?? "~",
      stddev: fields.stddev ?? "~",
      monitor: fields.monitor ?? "~",
    });
  }
  return reports;
}

/** The first bytes of what was printed, quoted, for a message about it. */
function quoteStart(text: string): string {
  const line = text.length > 80 ? `${text.slice(0, 79)}…` : text;
  return `"${escapeControl(line)}"`;
}

/** Whether OPNsense reports this status (see GATEWAY_STATUSES); anything else it shows as "Pending". */
export function isKnownStatus(status: string): boolean {
  return (GATEWAY_STATUSES as readonly string[]).includes(status);
}

/**
 * A gateway without monitoring ("Disable Gateway Monitoring", or no monitor address): dpinger does
 * not watch it, so it reads "none" with "~" for loss and delay, and turns down only when marked so by hand.
 */
export function isUnmonitored(report: GatewayReport): boolean {
  return report.status === "none" && report.loss === "~" && report.delay === "~";
}

/** The status as the script says it: `down (Offline)`. */
export function describeStatus(report: GatewayReport): string {
  return report.statusTranslated === "" ? report.status : `${report.status} (${report.statusTranslated})`;
}

/** The check's output line: the status, then its numbers. */
export function describeReport(report: GatewayReport): string {
  return `${describeStatus(report)}, loss ${report.loss}, delay ${report.delay}, stddev ${report.stddev}, monitor ${report.monitor}`;
}

/** One listed gateway, as its check is judged. */
export interface GatewayCheck {
  gateway: string;
  /** The statuses that fail it (its table's failOn). */
  failOn: readonly string[];
  /** Every gateway the config lists: not suggested for one that is missing. */
  listed: readonly string[];
}

/** The read the checks are judged on: who printed it, how long it took, and what it held. */
export interface GatewayRead {
  command: string;
  durationMs: number;
  reports: ReadonlyMap<string, GatewayReport>;
}

/** Why a listed gateway is not in the output, with the names that are. */
function missingReason(read: GatewayRead, { gateway, listed }: GatewayCheck): string {
  const names = [...read.reports.keys()].sort();
  const near = didYouMean(
    gateway,
    names.filter((name) => !listed.includes(name)),
  );
  const shown =
    names.length === 0
      ? "it lists no gateway"
      : `it lists ${names.slice(0, NAMES_SHOWN).map(escapeControl).join(", ")}${names.length > NAMES_SHOWN ? ", ..." : ""}`;
  return `no gateway "${gateway}" in the gateway status${near} (${shown}); fix: name a gateway of System > Gateways in ${gatewayTable(gateway)}`;
}

/** One listed gateway's check result. Pure. */
export function judgeGateway(read: GatewayRead, check: GatewayCheck): ServiceResult {
  const { gateway, failOn } = check;
  const report = read.reports.get(gateway);
  const result = (status: "pass" | "fail", reason: string | null, output: string): ServiceResult => ({
    name: gatewayCheckName(gateway),
    status,
    exitCode: null,
    signal: null,
    timedOut: false,
    durationMs: read.durationMs,
    output,
    outputDroppedBytes: 0,
    reason,
    warnings: [],
  });
  if (report === undefined) return result("fail", missingReason(read, check), "");
  const output = describeReport(report);
  if (!isKnownStatus(report.status)) {
    return result("fail", `pending: status "${escapeControl(report.status)}" is not one OPNsense reports, so not known to be up`, output);
  }
  if (failOn.includes(report.status)) return result("fail", "in failOn", output);
  return result("pass", null, output);
}
