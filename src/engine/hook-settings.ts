/**
 * The config's per-hook table (`[hooks."NAME"]`) as one evaluation asks it: each hook's deadline,
 * fall and rise, interval and user, whether it is disabled, and the names that match no file.
 */
import { messageOf } from "../common/errors.ts";
import type { Config } from "../config/config.ts";
import { gatewayOfCheck } from "../config/gateways.ts";
import { unmatchedHookWarnings as unmatchedTables } from "../config/hook-names.ts";
import { formatWarning } from "../config/notices.ts";
import { formatTomlString } from "../config/toml-print.ts";
import { type Account, findAccount } from "../config/users.ts";
import type { NotRun } from "./discover.ts";

/** The table's entry for a hook, if any (never an inherited property: a hook may be called "constructor"). */
function entryOf(config: Config, name: string): Config["hooks"][string] | undefined {
  return Object.hasOwn(config.hooks, name) ? config.hooks[name] : undefined;
}

/** How long this hook may run. */
export function timeoutOf(config: Config, name: string): number {
  return entryOf(config, name)?.timeoutMs ?? config.hookTimeoutMs;
}

/** The table of a gateway check (`gateway:NAME` is `[gateways."NAME"]`), if any. */
function gatewayEntryOf(config: Config, name: string): Config["gateways"][string] | undefined {
  const gateway = gatewayOfCheck(name);
  return gateway !== null && Object.hasOwn(config.gateways, gateway) ? config.gateways[gateway] : undefined;
}

/** fall and rise of this check: its own (a hook's table, or a gateway's), else the top-level ones. */
export function thresholdsOf(config: Config, name: string): { fall: number; rise: number } {
  const entry = gatewayEntryOf(config, name) ?? entryOf(config, name);
  return { fall: entry?.fall ?? config.fall, rise: entry?.rise ?? config.rise };
}

/** `intervalMs`: the check runs at most this often (result-cache.ts); null when it runs at every evaluation. */
export function intervalOf(config: Config, name: string): number | null {
  return entryOf(config, name)?.intervalMs ?? null;
}

/** `user`: the check runs as this user (system/exec-as.ts); null for root, as the stock script runs it. */
export function userOf(config: Config, name: string): string | null {
  return entryOf(config, name)?.user ?? null;
}

/** `enabled = false`: listed as skipped, never run or counted, whatever its file is like. */
export function isDisabled(config: Config, name: string): boolean {
  return entryOf(config, name)?.enabled === false;
}

/** What a disabled hook is listed as. */
export function skippedByConfig(name: string): NotRun {
  return { name, status: "skipped", reason: `disabled in the config ([hooks.${formatTomlString(name)}] enabled = false)` };
}

/**
 * A warning for each name of the table that matches no entry of the hooks directory (the file may
 * come later), with the nearest entry's name when one is near: the same words as `config` and doctor.
 */
export function unmatchedHookWarnings(config: Config, entries: readonly string[]): string[] {
  return unmatchedTables(config, entries).map(formatWarning);
}

/**
 * The accounts of the hooks that run as a user (`user`), looked up at every evaluation so a
 * changed account applies; a user that no longer exists fails its hook (`problems`), and never
 * runs it as root. Not as root, a hook configured to run as the user we are already runs as it is.
 */
export function resolveRunners(
  config: Config,
  { lookUp = (name: string) => findAccount(name), isRoot }: { lookUp?: (name: string) => Account | null; isRoot: boolean },
): { runners: Map<string, Account>; problems: Map<string, string> } {
  const runners = new Map<string, Account>();
  const problems = new Map<string, string>();
  const accounts = new Map<string, Account | string>();
  for (const name of Object.keys(config.hooks)) {
    const user = userOf(config, name);
    if (user === null) continue;
    if (!accounts.has(user)) {
      try {
        accounts.set(user, lookUp(user) ?? "no such user in the password database any more; the check does not run as root instead");
      } catch (error) {
        accounts.set(user, `cannot look the user up: ${messageOf(error)}; the check does not run as root instead`);
      }
    }
    const account = accounts.get(user)!;
    if (typeof account === "string") problems.set(name, `cannot run as user "${user}": ${account}`);
    else if (isRoot || account.uid !== process.getuid?.()) runners.set(name, account);
  }
  return { runners, problems };
}
