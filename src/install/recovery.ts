/**
 * What install and uninstall plan first after a run that was cut short: a line saying what the
 * manifest recorded of it, and the removal of what it left (temporary files, a staging directory).
 * Pure: functions of the observation.
 */
import { CarpError } from "../common/errors.ts";
import type { Action } from "./apply.ts";
import { at } from "./file-ops.ts";
import { LAYOUT } from "./layout.ts";
import type { RootObservation } from "./observe.ts";

/** The report line for an operation a killed run left pending, if any. */
export function recoveryNote(observed: RootObservation): Action[] {
  const { interrupted } = observed;
  if (!interrupted) return [];
  const { operation, landed, dropped } = interrupted;
  const total = landed.length + dropped.length;
  return [
    {
      kind: "note",
      message:
        `Found an interrupted ${operation} in "${at(observed.root, LAYOUT.manifest)}": ` +
        `of the ${total} steps it had left, ${landed.length} had landed (now recorded); the rest is planned again from what is on disk`,
    },
  ];
}

/** Removing what a killed run left. Something of another kind at one of those names is not ours to remove. */
export function planLeftovers(observed: RootObservation): Action[] {
  return observed.leftovers.map((leftover): Action => {
    const path = at(observed.root, leftover.path);
    if (leftover.kind === "temporary" && leftover.what === "directory") {
      throw new CarpError("system", `"${path}" is a directory, where install writes a temporary file; move it away and run again`, {
        kind: "install",
      });
    }
    if (leftover.kind === "staging" && leftover.what !== "directory") {
      throw new CarpError("system", `"${path}" is a ${leftover.what}, where install builds its directories; move it away and run again`, {
        kind: "install",
      });
    }
    return { kind: "leftover", leftover };
  });
}
