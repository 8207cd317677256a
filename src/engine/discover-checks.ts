/**
 * The discover phase of an evaluation: the users hooks run as (looked up first: discovery vets
 * for them), the hooks directory (discover.ts), and which entries run and which are listed as not
 * run (refused, or disabled in the config).
 */
import type { Config } from "../config/config.ts";
import type { Account } from "../config/users.ts";
import type { ServiceResult } from "../protocol/wire.ts";
import { type DiscoveryFs, discoverHooks, type Hook, notRunResult } from "./discover.ts";
import type { EvaluationNotes } from "./evaluation-notes.ts";
import { isDisabled, resolveRunners, skippedByConfig, unmatchedHookWarnings } from "./hook-settings.ts";
import { HOOK_ENV } from "./run-hooks.ts";
import type { Runner } from "./script-security.ts";

/** What discovery found: the hooks to run, as whom, and the entries listed as not run. */
export interface Discovered {
  runners: ReadonlyMap<string, Account>;
  runnable: Hook[];
  notRun: ServiceResult[];
}

export interface DiscoverOptions {
  notes: EvaluationNotes;
  /** Whether script security applies (it does when running as root). */
  isRoot: boolean;
  /** Looks a check's `user` up (default: /etc/passwd and /etc/group). */
  findAccount?: (name: string) => Account | null;
  /** The file system calls of discovery and script security (default: through Bun's thread pool). */
  fs?: DiscoveryFs;
}

/** Lists the hooks directory and splits it into what runs and what does not; warnings go to `notes`. */
export async function discoverChecks(config: Config, { notes, isRoot, findAccount, fs }: DiscoverOptions): Promise<Discovered> {
  const searchPath = { ...HOOK_ENV, ...config.hookEnv }.PATH;
  // Only the hooks named in the config can have a user; looked up before discovery, which vets for them.
  const { runners, problems } = resolveRunners(config, { lookUp: findAccount, isRoot });
  const runnerOf = (name: string): Runner | string | null => problems.get(name) ?? runners.get(name) ?? null;
  const discovery = await discoverHooks(config.hooksDir, { enforceSecurity: config.scriptSecurity && isRoot, searchPath, runnerOf, fs });
  for (const warning of discovery.warnings) notes.warn(warning, { fields: { hooksDir: config.hooksDir } });
  const entryNames = [...discovery.hooks, ...discovery.notRun].map((entry) => entry.name);
  for (const warning of unmatchedHookWarnings(config, entryNames)) notes.warn(warning, { once: true });
  const notRun = [
    ...discovery.notRun.map((entry) => (isDisabled(config, entry.name) ? skippedByConfig(entry.name) : entry)),
    ...discovery.hooks.filter((hook) => isDisabled(config, hook.name)).map((hook) => skippedByConfig(hook.name)),
  ];
  return {
    runners,
    runnable: discovery.hooks.filter((hook) => !isDisabled(config, hook.name)),
    notRun: notRun.map(notRunResult),
  };
}
