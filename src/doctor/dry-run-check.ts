/**
 * doctor's dry run: one evaluation as the daemon would start it (as root, script security as
 * configured), writing and logging nothing, and what it would do to this node, in words.
 */
import { messageOf } from "../common/errors.ts";
import { escapeControl } from "../common/escape.ts";
import type { Config } from "../config/config.ts";
import { describeFailure } from "../engine/change-line.ts";
import { evaluate } from "../engine/evaluate.ts";
import { countsAsFailed, type Evaluation } from "../protocol/wire.ts";
import { createEffects } from "../system/effects.ts";
import { createLog } from "../system/log.ts";
import { type Finding, finding } from "./finding.ts";

/** The dry run's name in doctor's table. */
export const DRY_RUN_CHECK = "dry run";
const CHECK = DRY_RUN_CHECK;

/** How the dry run's finding starts when starting the daemon now would demote this node (install refuses then). */
export const WOULD_DEMOTE = "starting now would DEMOTE this node";

function checks(n: number): string {
  return n === 1 ? "the 1 check passes" : `all ${n} checks pass`;
}

/** How the dry run says that no check would run: the node could never be demoted. */
export const NO_CHECKS = "no checks: nothing would demote this node";

/**
 * With no check to run there is no service to judge: say that, not "all 0 checks pass". A set
 * bit would still be taken off, and that is said too.
 */
function noChecksFinding(evaluation: Evaluation): Finding {
  const skipped = evaluation.services.length;
  const why = skipped === 0 ? `no hook in "${evaluation.hooksDir}"` : `every hook in "${evaluation.hooksDir}" is skipped (${skipped})`;
  const promote = evaluation.decision === "promote" ? "; our 2^20 is set, and starting now would take it off (PROMOTE)" : "";
  return finding(CHECK, "warn", `${NO_CHECKS} (${why})${promote}`, `put executable check scripts in "${evaluation.hooksDir}"`);
}

/** What starting now would do, and why. A demotion is a problem: installing would fail the cluster over. Pure. */
export function dryRunFinding(evaluation: Evaluation): Finding {
  // A system error it went on past (the gateway status): not every check was judged, so what it
  // would do is not the whole story, unless it would demote anyway.
  const errors = evaluation.errors ?? [];
  if (errors.length > 0 && evaluation.decision !== "demote") {
    return finding(CHECK, "problem", `cannot judge every check: ${errors.map((e) => escapeControl(e.message)).join("; ")}`);
  }
  // What counts as failed decides, as in the daemon: a check that passed once under rise = 3 still holds the node down.
  const failed = evaluation.services.filter(countsAsFailed).map(describeFailure);
  const maintenance = evaluation.maintenance ?? null;
  if (maintenance !== null && failed.length === 0) {
    // Turned on on purpose: said, not a problem that stops install.
    const reason = maintenance.reason === null ? "" : `: ${escapeControl(maintenance.reason)}`;
    const what = evaluation.decision === "demote" ? "starting now DEMOTES this node" : "this node stays demoted";
    return finding(
      CHECK,
      "warn",
      `maintenance is on (since ${maintenance.since}${reason}): ${what} until carp-service-status maintenance off`,
      "carp-service-status maintenance off, when the work is done",
    );
  }
  if (evaluation.services.every((s) => s.status === "skipped")) return noChecksFinding(evaluation);
  const ran = evaluation.services.filter((s) => s.status !== "skipped").length;
  switch (evaluation.decision) {
    case "demote":
      return finding(CHECK, "problem", `${WOULD_DEMOTE} because: ${failed.join(", ")}`, "fix the hooks named, then run doctor again");
    case "promote":
      return finding(CHECK, "info", `starting now would PROMOTE this node: ${checks(ran)} and our 2^20 is set`);
    case "none":
      if (failed.length > 0) {
        return finding(CHECK, "warn", `this node is demoted and stays so because: ${failed.join(", ")}`, "fix the hooks named");
      }
      if (evaluation.promotionHeld) {
        const seconds = Math.ceil(evaluation.promotionHeld.remainingMs / 1000);
        return finding(
          CHECK,
          "info",
          `starting now holds this node demoted ${seconds} s more (promoteDelayMs), then promotes it: ${checks(ran)}`,
        );
      }
      return finding(CHECK, "ok", `starting now changes nothing: ${checks(ran)}`);
  }
}

/** Runs the hooks once, decides, and writes nothing. */
export async function checkDryRun(config: Config): Promise<Finding> {
  try {
    // As root, as the daemon runs: script security applies even when doctor runs as another user.
    const deps = { ...createEffects(config), log: createLog("silent"), isRoot: true };
    // A fresh start, as the daemon's first run: each hook's state is what it shows now.
    return dryRunFinding(await evaluate(config, deps, { dryRun: true, freshStart: true }));
  } catch (error) {
    return finding(CHECK, "problem", `cannot evaluate: ${messageOf(error)}`);
  }
}
