/**
 * Carries out a plan (install's or uninstall's) through the journal: what a killed run left is
 * removed first; then the journal is written with every step still to do, before the first change;
 * then each step is made durably and the journal rewritten without it. So at every moment the
 * manifest on disk lists everything of ours that may be in place, and a run cut short anywhere
 * (killed, power cut, disk full) is finished by install or undone by uninstall.
 */
import { closeSync, constants, fchmodSync, fsyncSync, openSync } from "node:fs";
import { CarpError } from "../common/errors.ts";
import { VERSION } from "../common/version.ts";
import {
  at,
  type Command,
  copyPreserving,
  fsFailure,
  makeDirectory,
  type Reporter,
  removeDirectory,
  removeFile,
  type Source,
  writeDurably,
} from "./file-ops.ts";
import { removeLeftover, retireJournal, startJournal, writeManifest } from "./journal.ts";
import { ancestors, LAYOUT } from "./layout.ts";
import { emptyManifest, formatManifest, type Manifest, recordStep, type Step } from "./manifest.ts";
import type { Leftover, RootObservation } from "./observe.ts";

/**
 * Called by a test at every point where a run can be cut short ("journal", "before write PATH",
 * "landed write PATH", "retire", ...); it throws or kills the process there. Never set in use.
 */
export type Faults = (point: string) => void;

/** A line of a plan: a change through the journal, a record of what is already in place, a line to report. */
export type Action =
  | { kind: "leftover"; leftover: Leftover }
  | { kind: "step"; step: Step; line: string }
  | { kind: "adopt"; step: Step; line: string }
  | { kind: "note"; message: string };

/** A step's name in fault points and messages: `write usr/local/bin/carp-service-status`. */
export function describeStep(step: Step): string {
  return "path" in step ? `${step.op} ${step.path}` : step.op;
}

interface RunOptions {
  root: string;
  observed: RootObservation;
  report: Reporter;
  faults?: Faults;
  operation: Command;
  /** Contents of the files a write step writes. */
  sources?: Map<string, Source>;
}

function chmodDurably(path: string, mode: number): void {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    fchmodSync(fd, mode);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Makes one step; returns the line to report and whether anything changed. */
function perform(step: Step, line: string, options: RunOptions): { line: string; changed: boolean } {
  const { root } = options;
  const path = "path" in step ? at(root, step.path) : "";
  switch (step.op) {
    case "mkdir":
      makeDirectory(path);
      break;
    case "write": {
      const source = options.sources?.get(step.path);
      if (!source) throw new Error(`Nothing to write to "${path}"`);
      const content = source.kind === "text" ? source.text : { copyOf: source.path };
      writeDurably(root, step.path, { content, mode: step.mode });
      break;
    }
    case "chmod":
      chmodDurably(path, step.mode);
      break;
    case "keep-stock":
      copyPreserving(root, LAYOUT.stockScript, LAYOUT.keptStock, step);
      break;
    case "restore-stock":
      copyPreserving(root, LAYOUT.keptStock, LAYOUT.stockScript, step);
      break;
    case "remove":
      if (!removeFile(path)) return { line: `Already gone: "${path}"`, changed: false };
      break;
    case "rmdir": {
      const result = removeDirectory(path);
      if (result === "not empty") return { line: `Left directory "${path}" in place: not empty`, changed: false };
      if (result === "gone") return { line: `Already gone: "${path}"`, changed: false };
      break;
    }
    case "disown":
      // Only in the manifest: recorded when the journal starts (an "adopt" action).
      break;
  }
  return { line, changed: true };
}

function stoppedMessage(message: string, operation: Command): string {
  const other = operation === "install" ? "uninstall" : "install";
  return (
    `${message}; ${operation} stopped before it finished, and the manifest records how far it got: ` +
    `run "carp-service-status ${operation}" again to finish, or "carp-service-status ${other}" to undo it`
  );
}

function isEmpty(manifest: Manifest): boolean {
  return manifest.directories.length === 0 && Object.keys(manifest.files).length === 0 && manifest.stock === null;
}

/** The manifest's own directories: created together with the journal, not as steps of their own. */
const JOURNAL_DIRS = new Set(ancestors(LAYOUT.manifest));

function madeWithJournal(action: Action): boolean {
  return action.kind === "step" && action.step.op === "mkdir" && JOURNAL_DIRS.has(action.step.path);
}

/** The manifest the journal starts from: what is in place, what is adopted, the steps to do. */
function initialManifest(actions: Action[], observed: RootObservation, operation: Command): Manifest {
  let manifest: Manifest = { ...structuredClone(observed.manifest ?? emptyManifest()), version: VERSION, pending: null };
  for (const action of actions) {
    if (action.kind === "adopt" || (action.kind === "step" && madeWithJournal(action))) manifest = recordStep(manifest, action.step);
  }
  const steps = actions.flatMap((a) => (a.kind === "step" && !madeWithJournal(a) ? [a.step] : []));
  if (steps.length > 0) manifest.pending = { operation, steps };
  return manifest;
}

/** What a failed step could not do, for its message. */
const ACTION_OF: Record<Step["op"], string> = {
  mkdir: "create directory",
  rmdir: "remove directory",
  write: "write",
  chmod: "change the mode of",
  "keep-stock": "keep the stock script aside as",
  "restore-stock": "restore the stock script",
  remove: "remove",
  disown: "forget",
};

/**
 * Runs a plan: leftovers, then the journal, then each step; install ends by reporting the manifest,
 * uninstall by retiring it. Returns the number of changes.
 */
export function runSteps(actions: Action[], options: RunOptions): number {
  const { root, observed, report, operation, faults = () => {} } = options;
  const manifestPath = at(root, LAYOUT.manifest);
  let changes = 0;
  // What a killed run left goes first, with the lines about it: nothing else runs beside it.
  const cleanup = actions.findIndex((a) => a.kind !== "note" && a.kind !== "leftover");
  const first = cleanup < 0 ? actions.length : cleanup;
  for (const action of actions.slice(0, first)) {
    if (action.kind === "note") report(action.message);
    if (action.kind !== "leftover") continue;
    removeLeftover(root, action.leftover, report);
    changes++;
  }
  let manifest = initialManifest(actions, observed, operation);
  const writeNeeded =
    manifest.pending !== null || (observed.found ? formatManifest(observed.found) !== formatManifest(manifest) : !isEmpty(manifest));
  if (writeNeeded) {
    faults("journal");
    try {
      const missing = actions.flatMap((a) => (a.kind === "step" && madeWithJournal(a) && "path" in a.step ? [a.step.path] : []));
      startJournal(
        root,
        manifest,
        missing.sort((a, b) => a.length - b.length),
      );
    } catch (error) {
      const failure = fsFailure(error, { action: `write the ${operation} journal`, path: manifestPath, command: operation });
      throw new CarpError("system", `${failure.message}; nothing was changed`, { cause: error, kind: "install" });
    }
  }
  for (const action of actions.slice(first)) {
    if (action.kind === "note") report(action.message);
    if (action.kind === "adopt") report(action.line);
    if (action.kind !== "step") continue;
    if (madeWithJournal(action)) {
      report(action.line);
      changes++;
      continue;
    }
    const done = runStep(action, manifest, options);
    manifest = done.manifest;
    if (done.changed) changes++;
    faults(`recorded ${describeStep(action.step)}`);
  }
  return changes + finish(manifest, { ...options, faults, wrote: writeNeeded });
}

/** Makes a step, then records it in the journal; returns the manifest now on disk. */
function runStep(action: Action & { kind: "step" }, manifest: Manifest, options: RunOptions): { manifest: Manifest; changed: boolean } {
  const { root, report, operation, faults = () => {} } = options;
  const { step } = action;
  const name = describeStep(step);
  faults(`before ${name}`);
  let done: { line: string; changed: boolean };
  try {
    done = perform(step, action.line, options);
  } catch (error) {
    const path = "path" in step ? at(root, step.path) : at(root, step.op === "keep-stock" ? LAYOUT.keptStock : LAYOUT.stockScript);
    const failure = fsFailure(error, { action: ACTION_OF[step.op], path, command: operation });
    throw new CarpError("system", stoppedMessage(failure.message, operation), { cause: error, kind: "install" });
  }
  faults(`landed ${name}`);
  const next = recordStep(manifest, step);
  const rest = manifest.pending?.steps.slice(1) ?? [];
  next.pending = rest.length > 0 ? { operation, steps: rest } : null;
  try {
    writeManifest(root, next);
  } catch (error) {
    const failure = fsFailure(error, { action: "record the last step in", path: at(root, LAYOUT.manifest), command: operation });
    throw new CarpError("system", stoppedMessage(failure.message, operation), { cause: error, kind: "install" });
  }
  report(done.line);
  return { manifest: next, changed: done.changed };
}

function finish(manifest: Manifest, options: RunOptions & { faults: Faults; wrote: boolean }): number {
  const { root, report, observed, operation } = options;
  const path = at(root, LAYOUT.manifest);
  if (operation === "uninstall") {
    if (observed.found === null && !options.wrote) return 0;
    options.faults("retire");
    return retireJournal(root, manifest, report);
  }
  if (!options.wrote) {
    if (observed.found) report(`Unchanged manifest "${path}"`);
    return 0;
  }
  report(`Wrote manifest "${path}"`);
  return observed.found && formatManifest(observed.found) === formatManifest(manifest) ? 0 : 1;
}
