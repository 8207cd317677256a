/**
 * doctor's look at the hooks directory with the daemon's eyes (as root, with script security): every
 * hook it would refuse, and so count as failed, with the exact command that fixes it. A 0775 hook
 * or one in a 0775 directory is refused, so the first evaluation after installing would demote a
 * healthy node: this is where an admin learns it first.
 */
import { messageOf } from "../common/errors.ts";
import type { Config } from "../config/config.ts";
import { type Discovery, discoverHooks } from "../engine/discover.ts";
import { type Finding, finding } from "./finding.ts";

const CHECK = "hooks";

/** The command after "fix: " or "rename it: " in a reason (script-security.ts, discover.ts), or null. */
export function fixOf(reason: string): string | null {
  const match = /(?:fix|rename it): (.+)$/.exec(reason);
  return match ? match[1]! : null;
}

/** One finding per refused or unusable entry, or one saying all is well. Pure. */
export function hooksFindings(discovery: Discovery, options: { hooksDir: string; scriptSecurity: boolean }): Finding[] {
  const findings: Finding[] = discovery.warnings.map((warning) => finding(CHECK, "warn", warning));
  // Hooks refused for the same reason (their directory is writable) share one line and one fix.
  const byReason = Map.groupBy(
    discovery.notRun.filter((e) => e.status === "fail"),
    (entry) => entry.reason,
  );
  for (const [reason, entries] of byReason) {
    findings.push(finding(CHECK, "problem", `${entries.map((e) => e.name).join(", ")}: ${reason}`, fixOf(reason)));
  }
  if (!options.scriptSecurity) {
    findings.push(finding(CHECK, "warn", "scriptSecurity = false: hooks that anyone can change run as root", "set scriptSecurity = true"));
  }
  if (findings.length === 0) {
    const skipped = discovery.notRun.length;
    const note = skipped === 0 ? "" : `; skipped: ${discovery.notRun.map((e) => `${e.name} (${e.reason})`).join(", ")}`;
    const hooks = discovery.hooks.length === 1 ? "1 hook" : `${discovery.hooks.length} hooks`;
    findings.push(finding(CHECK, "ok", `${hooks} in "${options.hooksDir}", none refused${note}`));
  }
  return findings;
}

/** Lists the hooks directory as the daemon (root) would, script security applied as configured. */
export async function checkHooks(config: Config): Promise<Finding[]> {
  try {
    const discovery = await discoverHooks(config.hooksDir, { enforceSecurity: config.scriptSecurity });
    return hooksFindings(discovery, config);
  } catch (error) {
    return [finding(CHECK, "problem", messageOf(error))];
  }
}
