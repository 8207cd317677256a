/**
 * `doctor`: every pre-flight check in one list of findings, in the order an admin reads them.
 * Checks that need a valid config are skipped when it is not. Nothing is written (but the lock
 * file, created if missing, as any evaluation creates it).
 */
import { messageOf } from "../common/errors.ts";
import { DEMOTION_OID, hasCarp, SIMULATED } from "../config/defaults.ts";
import { createEffects, createOidReaderFor } from "../system/effects.ts";
import { type ConfigLoad, configFindings, loadConfigForDoctor } from "./config-check.ts";
import { checkDaemon, checkSocket } from "./daemon-checks.ts";
import { checkDryRun } from "./dry-run-check.ts";
import { type Finding, finding } from "./finding.ts";
import { checkGateways } from "./gateways-check.ts";
import { checkHooks, checkNotifyScripts } from "./hooks-check.ts";
import { checkConfigdActions, checkMonitorHook, checkPlugin, checkStockScript, checkSyshook } from "./install-checks.ts";
import { checkLockFile, demotionFinding, PREEMPT_OID, preemptFinding, sysctlFinding } from "./system-checks.ts";

export interface DoctorOptions {
  /** Where the installed files are looked for ("/" on the node). */
  root: string;
  /** `--config`; else the node's default config under root when it exists. */
  configFile?: string;
}

/** The checks that need a config, as skipped findings: what to fix first is the config. */
const NEEDS_CONFIG = ["sysctl", "lock file", "hooks", "preempt", "daemon", "socket", "demotion", "dry run"];

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(messageOf(error));
}

async function configChecks(load: Extract<ConfigLoad, { ok: true }>): Promise<{ before: Finding[]; after: Finding[] }> {
  const { config } = load.loaded;
  const simulated = config.sysctl === SIMULATED ? { file: config.simulationFile, onCarpNode: hasCarp() } : null;
  const { sysctl } = createEffects(config);
  const demotion = await sysctl.read().catch(asError);
  const preempt = await createOidReaderFor(config).readOid(PREEMPT_OID).catch(asError);
  const before = [
    sysctlFinding(demotion, simulated),
    await checkLockFile(config.lockFile),
    ...(await checkHooks(config)),
    ...(await checkNotifyScripts(config)),
    ...(await checkGateways(config)),
    preemptFinding(preempt, simulated),
  ];
  const after = [
    await checkDaemon(config.socket),
    await checkSocket(config.socket),
    demotion instanceof Error ? finding("demotion", "skipped", `${DEMOTION_OID} could not be read`) : demotionFinding(demotion),
    await checkDryRun(config),
  ];
  return { before, after };
}

/** Runs every check; the findings in the order of the table. */
export async function runDoctor(options: DoctorOptions): Promise<Finding[]> {
  const load = loadConfigForDoctor(options.root, options.configFile);
  const install = [
    checkStockScript(options.root),
    checkConfigdActions(options.root),
    checkSyshook(options.root),
    checkMonitorHook(options.root),
    checkPlugin(options.root),
  ];
  if (!load.ok) {
    const skipped = NEEDS_CONFIG.map((check) => finding(check, "skipped", "the config is not valid"));
    return [...configFindings(load), ...skipped.slice(0, 4), ...install, ...skipped.slice(4)];
  }
  const { before, after } = await configChecks(load);
  return [...configFindings(load), ...before, ...install, ...after];
}
