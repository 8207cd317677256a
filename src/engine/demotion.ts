/**
 * A demotion value taken apart for people: our 2^20 bit, and the rest, which belongs to the
 * kernel's own contributors (240 each on FreeBSD and OPNsense: a CARP interface down, errors sending
 * advertisements, a pfsync bulk update, CARP maintenance mode) or to a tunable or manual write.
 */
import { DEMOTION_BIT } from "../config/defaults.ts";
import { isDemoted, repairOf } from "./decide.ts";

/** What each of the kernel's contributors adds (net.inet.carp.ifdown_demotion_factor and its peers). */
export const KERNEL_FACTOR = 240;

export interface DemotionExplained {
  value: number;
  /** Our 2^20 bit is set, tested as every evaluation tests it (value & 2^20). */
  ours: boolean;
  /** Copies of 2^20 in the value (1 when demoted by us; 2 or more is stacked). */
  bits: number;
  /** The value without our share. */
  rest: number;
  /** One line: the value split into its parts, and what the parts usually mean. */
  summary: string;
  /** For an impossible value (2^20 added twice, or taken off too often): the one command that repairs it. */
  fix: string | null;
}

function kernelPart(rest: number): string {
  if (rest === 0) return "";
  const contributors = rest / KERNEL_FACTOR;
  if (Number.isInteger(contributors)) {
    return `${rest} = ${contributors} x ${KERNEL_FACTOR} from the kernel (a CARP interface down, send errors, pfsync bulk update or maintenance mode)`;
  }
  return `${rest} not from us (a net.inet.carp.demotion tunable or a manual write; the kernel adds multiples of ${KERNEL_FACTOR})`;
}

/**
 * Why our bit is set, as the summary says it: a check counts as failed (the default), the hold-down
 * keeps it although every check passes, what the run could not know withholds the promotion
 * (evaluation-report.ts: a lost flap history, a switch that cannot be told, an unread gateway
 * status), or the maintenance switch does.
 */
export type BitReason = "failed" | "held" | "withheld" | "withheld_switch" | "withheld_gateways" | "maintenance";

const BIT_REASONS: Record<BitReason, string> = {
  failed: "a service check failed",
  held: "held by the hold-down; every check passes",
  withheld: "kept; every check passes, but the flap history is lost",
  withheld_switch: "kept; every check passes, but whether maintenance is on cannot be told",
  withheld_gateways: "kept; every check judged passes, but the gateway status could not be read",
  maintenance: "held by carp-service-status maintenance",
};

/** Splits a demotion value into our bit and the rest, with a fix where the value cannot be right. */
export function explainDemotion(value: number, { why = "failed" }: { why?: BitReason } = {}): DemotionExplained {
  if (value < 0) {
    return {
      value,
      ours: isDemoted(value),
      bits: 0,
      rest: value,
      summary: `${value}: negative, so this node looks better than it is (2^20 taken off more often than added)`,
      fix: `${repairOf(value)} brings it back to 0; the next evaluation sets our bit again if a check fails`,
    };
  }
  const bits = Math.floor(value / DEMOTION_BIT);
  const rest = value - bits * DEMOTION_BIT;
  const kernel = kernelPart(rest);
  if (bits === 0) {
    return {
      value,
      ours: false,
      bits,
      rest,
      summary: rest === 0 ? "0: nothing demotes this node" : `${value}: not ours; ${kernel}`,
      fix: null,
    };
  }
  const ourPart = bits === 1 ? `our bit (2^20: ${BIT_REASONS[why]})` : `our 2^20 added ${bits} times (stacked)`;
  return {
    value,
    ours: isDemoted(value),
    bits,
    rest,
    summary: `${value}: ${ourPart}${kernel ? ` + ${kernel}` : ""}`,
    fix: bits === 1 ? null : `${repairOf(value)} takes every 2^20 off; the next evaluation sets it again if a check fails`,
  };
}
