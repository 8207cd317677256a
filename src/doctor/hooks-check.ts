/**
 * doctor's look at the hooks directory with the daemon's eyes (as root, with script security): every
 * hook it would refuse, and so count as failed, with the exact command that fixes it. A 0775 hook
 * or one in a 0775 directory is refused, so the first evaluation after installing would demote a
 * healthy node: this is where an admin learns it first. The same holds for what runs a hook (its
 * `#!` interpreter) and for the notify scripts, which script security vets alike.
 */
import { stat } from "node:fs/promises";
import { messageOf } from "../common/errors.ts";
import { escapeText } from "../common/escape.ts";
import type { Config } from "../config/config.ts";
import { type Discovery, discoverHooks } from "../engine/discover.ts";
import { resolveRunners } from "../engine/hook-settings.ts";
import { HOOK_ENV } from "../engine/run-hooks.ts";
import { type Finding, finding } from "./finding.ts";

const CHECK = "hooks";
const NOTIFY_CHECK = "notify scripts";

/** The command after "fix: " or "rename it: " in a reason (script-security.ts, discover.ts), or null. */
export function fixOf(reason: string): string | null {
  const match = /(?:fix|rename it): (.+)$/.exec(reason);
  return match ? match[1]! : null;
}

/** One problem per reason refused or failed for: entries refused alike (their directory is writable) share one line and one fix. */
function refusals(check: string, discovery: Discovery): Finding[] {
  const byReason = Map.groupBy(
    discovery.notRun.filter((e) => e.status === "fail"),
    (entry) => entry.reason,
  );
  return [...byReason].map(([reason, entries]) =>
    finding(check, "problem", `${entries.map((e) => escapeText(e.name)).join(", ")}: ${reason}`, fixOf(reason)),
  );
}

/** One finding per refused or unusable entry, or one saying all is well. Pure. */
export function hooksFindings(discovery: Discovery, options: { hooksDir: string; scriptSecurity: boolean }): Finding[] {
  const findings: Finding[] = discovery.warnings.map((warning) => finding(CHECK, "warn", warning));
  findings.push(...refusals(CHECK, discovery));
  if (!options.scriptSecurity) {
    findings.push(finding(CHECK, "warn", "scriptSecurity = false: hooks that anyone can change run as root", "set scriptSecurity = true"));
  }
  if (findings.length === 0) {
    const skipped = discovery.notRun.length;
    const note = skipped === 0 ? "" : `; skipped: ${discovery.notRun.map((e) => `${escapeText(e.name)} (${e.reason})`).join(", ")}`;
    const hooks = discovery.hooks.length === 1 ? "1 hook" : `${discovery.hooks.length} hooks`;
    findings.push(finding(CHECK, "ok", `${hooks} in "${options.hooksDir}", none refused${note}`));
  }
  return findings;
}

/** Lists the hooks directory as the daemon (root) would, script security applied as configured. */
export async function checkHooks(config: Config): Promise<Finding[]> {
  try {
    const searchPath = { ...HOOK_ENV, ...config.hookEnv }.PATH;
    // Checks with a `user` are vetted for that user too, as the daemon (root) vets them.
    const { runners, problems } = resolveRunners(config, { isRoot: true });
    const runnerOf = (name: string) => problems.get(name) ?? runners.get(name) ?? null;
    const discovery = await discoverHooks(config.hooksDir, { enforceSecurity: config.scriptSecurity, searchPath, runnerOf });
    return hooksFindings(discovery, config);
  } catch (error) {
    return [finding(CHECK, "problem", messageOf(error))];
  }
}

/**
 * The notify scripts as the daemon would find them: each one refused is a problem (the daemon
 * logs it and does not run it at any change). Nothing without `notifyDir`. Pure.
 */
export function notifyFindings(discovery: Discovery, notifyDir: string): Finding[] {
  const findings = refusals(NOTIFY_CHECK, discovery);
  if (findings.length > 0) return findings;
  const scripts = discovery.hooks.length === 1 ? "1 script" : `${discovery.hooks.length} scripts`;
  return [finding(NOTIFY_CHECK, "ok", `${scripts} in "${notifyDir}", none refused`)];
}

/** Lists `notifyDir` as the daemon (root) would; no finding when it is not set. */
export async function checkNotifyScripts(config: Config): Promise<Finding[]> {
  const dir = config.notifyDir;
  if (dir === undefined) return [];
  try {
    if (!(await stat(dir)).isDirectory()) {
      return [
        finding(NOTIFY_CHECK, "problem", `Notify directory "${dir}" is not a directory`, "point notifyDir at a directory of scripts"),
      ];
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") return [finding(NOTIFY_CHECK, "problem", messageOf(error))];
    return [
      finding(
        NOTIFY_CHECK,
        "warn",
        `Notify directory "${dir}" does not exist: no notify script runs`,
        `mkdir -m 0755 "${dir}", or unset notifyDir`,
      ),
    ];
  }
  try {
    // Notify scripts run with the hooks' own PATH, without hookEnv (notify-events.ts).
    const discovery = await discoverHooks(dir, { enforceSecurity: config.scriptSecurity, searchPath: HOOK_ENV.PATH });
    return notifyFindings(discovery, dir);
  } catch (error) {
    return [finding(NOTIFY_CHECK, "problem", messageOf(error))];
  }
}
