/**
 * The run phase of an evaluation: the gateway status is read once, beside the hooks
 * (gateways.ts), and the hooks run or their kept results stand (run-hooks.ts). Together they are
 * the checks the locked phase counts. A gateway status that cannot be read is a system error the
 * evaluation goes on past: the gateway checks are not observed (each keeps its counted state),
 * and nothing is promoted on that incomplete picture.
 */
import type { Config } from "../config/config.ts";
import type { Clock } from "../system/clock.ts";
import { compareNames } from "./discover.ts";
import type { Discovered } from "./discover-checks.ts";
import type { EvaluationNotes } from "./evaluation-notes.ts";
import { type HistoryMemory, type HistoryStore, keptResults } from "./flap-history.ts";
import { type GatewayChecks, readGatewayChecks } from "./gateways.ts";
import { intervalOf } from "./hook-settings.ts";
import type { Checked } from "./locked-decision.ts";
import { configHash } from "./result-cache.ts";
import { HOOK_ENV, type HookPlan, type HookRunDeps, runHooks } from "./run-hooks.ts";

export interface RunChecksOptions {
  clock: Clock;
  notes: EvaluationNotes;
  /** Whether script security applies to the gateway status command (as root). */
  isRoot: boolean;
  signal?: AbortSignal;
  /** Runs every check, also those whose `intervalMs` has not passed. */
  all: boolean;
  memory?: HistoryMemory;
  historyStore?: HistoryStore;
}

/** Says what the gateway read left to say: its warnings, or the system error of a read that failed. */
function sayGateways(gateways: GatewayChecks, notes: EvaluationNotes): void {
  for (const warning of gateways.warnings) notes.warn(warning);
  if (gateways.failure === null) return;
  const keeps = gateways.unread.length === 1 ? "keeps its" : "keep their";
  notes.error(
    gateways.failure.kind,
    `The gateway status could not be read, so ${gateways.unread.join(", ")} ${keeps} counted state and nothing is promoted: ${gateways.failure.message}`,
  );
}

/** Runs the hooks and reads the gateway status, both as of one clock reading. */
export async function runChecks(config: Config, deps: HookRunDeps, discovered: Discovered, options: RunChecksOptions): Promise<Checked> {
  const { clock, notes, signal } = options;
  if (clock.note) notes.once(clock.note);
  // What the checks see is the world as of now; a decision made by another run since must stand.
  const start = clock.read();
  const gatewayChecks = readGatewayChecks(config, {
    env: HOOK_ENV,
    enforceSecurity: config.scriptSecurity && options.isRoot,
    searchPath: HOOK_ENV.PATH,
    signal,
  });
  const anyInterval = discovered.runnable.some((hook) => intervalOf(config, hook.name) !== null);
  const plan: HookPlan = {
    runners: discovered.runners,
    // Read without the lock, before the hooks run: which checks are due is decided now.
    kept: anyInterval && !options.all ? keptResults(config, { now: start, memory: options.memory, store: options.historyStore }) : {},
    config: anyInterval ? configHash(config) : "",
    all: options.all,
    start,
  };
  const outcome = await runHooks(config, deps, { hooks: discovered.runnable, signal, plan, notes });
  const gateways = await gatewayChecks;
  // A read stopped by a shutdown is no failure of the command: the evaluation ends.
  signal?.throwIfAborted();
  sayGateways(gateways, notes);
  return {
    services: [...outcome.results, ...discovered.notRun, ...gateways.services].sort((a, b) => compareNames(a.name, b.name)),
    kept: outcome.kept,
    runs: anyInterval ? outcome.runs : undefined,
    unobserved: gateways.unread,
    observedAt: start.monotonicMs,
  };
}
