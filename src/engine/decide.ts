/**
 * The decision, a pure function of the current demotion and the failed services. Our share is
 * the 2^20 bit; everything else in the value belongs to the kernel's own contributors.
 */
import { escapeText } from "../common/escape.ts";
import { DEMOTION_BIT, DEMOTION_OID } from "../config/defaults.ts";

export type Decision =
  | { action: "demote"; delta: number; message: string }
  | { action: "promote"; delta: number; message: string }
  | { action: "none" };

/** Whether our 2^20 bit is set in a demotion value. */
export function isDemoted(demotion: number): boolean {
  return (demotion & DEMOTION_BIT) !== 0;
}

/**
 * The syslog text of a demotion, exactly as the stock script writes it. Names are escaped: a
 * newline in a hook's name would otherwise split the line into two syslog records.
 */
export function demotionMessage(failed: readonly string[]): string {
  return `carp demoted by ${DEMOTION_BIT} due to service disruption (services: ${failed.map(escapeText).join(",")})`;
}

export const PROMOTION_MESSAGE = `carp promoted by ${DEMOTION_BIT} due to service recovery`;

/**
 * The syslog text of a demotion by the maintenance switch alone (no check failing): the stock
 * line's start, so what watches for "carp demoted by" sees it, and the reason given.
 */
export function maintenanceMessage(reason: string | null): string {
  return `carp demoted by ${DEMOTION_BIT} due to carp-service-status maintenance${reason ? ` (${escapeText(reason)})` : ""}`;
}

/**
 * Failures (or the maintenance switch on) and bit clear: add 2^20. No failure, no maintenance and
 * bit set: take it off, unless flap control says not yet (`mayPromote` false: a check failed this
 * run, or the hold-down lasts). Otherwise nothing. When checks fail, the line names them, as the
 * stock script's does, maintenance or not.
 */
export function decide(
  demotion: number,
  failed: readonly string[],
  { mayPromote = true, maintenance = null }: { mayPromote?: boolean; maintenance?: { reason: string | null } | null } = {},
): Decision {
  const demoted = isDemoted(demotion);
  if ((failed.length > 0 || maintenance !== null) && !demoted) {
    const message = failed.length > 0 ? demotionMessage(failed) : maintenanceMessage(maintenance!.reason);
    return { action: "demote", delta: DEMOTION_BIT, message };
  }
  if (failed.length === 0 && maintenance === null && demoted && mayPromote) {
    return { action: "promote", delta: -DEMOTION_BIT, message: PROMOTION_MESSAGE };
  }
  return { action: "none" };
}

/**
 * The one write that repairs a demotion value that cannot be right, or null when it can be: a
 * negative value back to 0, a stacked one (2^20 added more than once) without any of our copies.
 * Either way the next evaluation sets the bit again if a check fails.
 */
export function repairOf(demotion: number): string | null {
  if (demotion < 0) return `sysctl ${DEMOTION_OID}=${-demotion}`;
  const copies = Math.floor(demotion / DEMOTION_BIT);
  return copies >= 2 ? `sysctl ${DEMOTION_OID}=-${copies * DEMOTION_BIT}` : null;
}

/** What about a demotion value needs a human: our bit added twice, or taken off too often. */
export function findAnomalies(demotion: number): string[] {
  const repair = repairOf(demotion);
  if (repair === null) return [];
  const what =
    demotion < 0
      ? `Demotion ${demotion} is negative: 2^20 was taken off more often than it was added (another tool writing net.inet.carp.demotion?)`
      : `Demotion ${demotion} is 2^21 or more: 2^20 was added more than once (a tool writing without the lock file?)`;
  return [`${what}; clear it with ${repair} and the next evaluation sets the bit again if a service is down`];
}
