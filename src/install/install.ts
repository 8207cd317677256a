/**
 * install under a root directory ("/" on the node, a scratch tree in tests), in three stages:
 * observe what is on disk (observe.ts), plan the actions (pure: a function of that observation),
 * apply them through the journal (apply.ts), reporting every step. The manifest records what was
 * written, for uninstall (uninstall.ts).
 */
import { CarpError } from "../common/errors.ts";
import { renderSampleConfig } from "../config/sample.ts";
import { type Action, type Faults, runSteps } from "./apply.ts";
import { at, type FileState, fsFailure, octal, type Reporter, type Source, sha256File, sha256Text } from "./file-ops.ts";
import { ancestors, INSTALLED_FILES, installedFile, LAYOUT, MODES, type TrackedFile } from "./layout.ts";
import type { Step } from "./manifest.ts";
import { observeRoot, type RootObservation } from "./observe.ts";
import { type PluginOwner, packageNote, planDisown, pluginOwner } from "./plugin.ts";
import { pluginTree } from "./plugin-files.ts";
import { planLeftovers, recoveryNote } from "./recovery.ts";
import { renderConfigdActions, renderMonitorHook, renderRcScript, renderShim, renderSyshook } from "./templates.ts";
import { renderUpdateHook } from "./update-hook.ts";

export type { Faults, Reporter };

export interface InstallOptions {
  /** Directory standing for "/" on the node. */
  root: string;
  /** The executable to install (the running compiled one; a stand-in file in tests). */
  executable: string;
  /** Keep the stock carp_service_status aside and put the shim in its place. */
  replaceStock: boolean;
}

/** A file install wants in place. */
export interface DesiredFile {
  path: TrackedFile;
  source: Source;
  sha256: string;
  mode: number;
}

export type InstallObservation = RootObservation;

/** One line of an install: a change (a journal step, with its report line), a record, or a line to report. */
export type InstallAction = Action;

/** What an install did. */
export interface InstallResult {
  /** Steps that changed something: directories, files, modes, the manifest. */
  changes: number;
  /** The executable was written: a running daemon runs the old one until restarted. */
  executableChanged: boolean;
  /** Whose the GUI plugin's files are: install's (in place now), or the package's (left alone). */
  plugin: PluginOwner["kind"];
}

/** The texts install writes (the executable is copied; the plugin's files are embedded). */
const CONTENTS: Record<string, () => string> = {
  [LAYOUT.rcScript]: renderRcScript,
  [LAYOUT.configdActions]: renderConfigdActions,
  [LAYOUT.sampleConfig]: () => renderSampleConfig("freebsd"),
  [LAYOUT.syshook]: renderSyshook,
  [LAYOUT.monitorHook]: renderMonitorHook,
  [LAYOUT.updateHook]: renderUpdateHook,
};

function textOf(path: TrackedFile): string {
  const render = CONTENTS[path];
  if (render) return render();
  const file = pluginTree().files.find((f) => f.path === path);
  if (file) return file.text;
  throw new Error(`No content for "${path}": a row of INSTALLED_FILES needs its text in install.ts`);
}

/** Every file of the layout's table with its content and mode, in its order (planInstall picks those it wants). */
export function desiredFiles(executable: string): DesiredFile[] {
  let executableSha256: string;
  try {
    executableSha256 = sha256File(executable);
  } catch (error) {
    throw fsFailure(error, { action: "read the executable", path: executable, command: "install" });
  }
  return INSTALLED_FILES.map(({ path, mode }): DesiredFile => {
    if (path === LAYOUT.binary) return { path, source: { kind: "file", path: executable }, sha256: executableSha256, mode };
    const text = textOf(path);
    return { path, source: { kind: "text", text }, sha256: sha256Text(text), mode };
  });
}

/**
 * Whether install puts a file in place: the plugin's unless its package has them; the firmware
 * update hook with --replace-stock, and afterwards while our shim is in place or the hook is ours.
 */
function wanted(file: DesiredFile, observed: InstallObservation, context: { replaceStock: boolean; plugin: PluginOwner }): boolean {
  switch (installedFile(file.path)?.part) {
    case "plugin":
      return context.plugin.kind === "ours";
    case "replace-stock": {
      const stock = observed.files[LAYOUT.stockScript];
      const shim = stock?.kind === "file" && stock.shim;
      return context.replaceStock || shim || observed.manifest?.files[file.path] !== undefined;
    }
    default:
      return true;
  }
}

/** Whose the plugin's files are, judged against what install would write. */
function ownerOfPlugin(observed: InstallObservation, desired: DesiredFile[]): PluginOwner {
  return pluginOwner(observed, new Map(desired.map((file) => [file.path, file.sha256])));
}

/** Looks at everything install may touch under the root. */
export function observeInstall(root: string): InstallObservation {
  return observeRoot(root, "install");
}

function step(step: Step, line: string): InstallAction {
  return { kind: "step", step, line };
}

function adopt(step: Step, line: string): InstallAction {
  return { kind: "adopt", step, line };
}

function note(message: string): InstallAction {
  return { kind: "note", message };
}

function planDirectories(observed: InstallObservation, desired: DesiredFile[], replaceStock: boolean): InstallAction[] {
  const { root } = observed;
  const written = [...desired.map((file) => file.path), LAYOUT.manifest, ...(replaceStock ? [LAYOUT.keptStock] : [])];
  // Parents before children.
  const byDepth = (a: string, b: string) => a.split("/").length - b.split("/").length || a.localeCompare(b);
  const actions: InstallAction[] = [];
  for (const dir of [...new Set(written.flatMap(ancestors))].sort(byDepth)) {
    const state = observed.dirs[dir];
    if (state === "other")
      throw new CarpError("system", `"${at(root, dir)}" is not a directory; move it away and run install again`, { kind: "install" });
    if (state === "absent") actions.push(step({ op: "mkdir", path: dir }, `Created directory "${at(root, dir)}"`));
  }
  return actions;
}

function planFile(observed: InstallObservation, file: DesiredFile): InstallAction {
  const { root, manifest } = observed;
  const { path, sha256, mode } = file;
  const where = at(root, path);
  const state = observed.files[path] ?? { kind: "absent" };
  if (state.kind === "other")
    throw new CarpError("system", `"${where}" is a ${state.what}, not a file; move it away and run install again`, { kind: "install" });
  if (state.kind === "absent") return step({ op: "write", path, sha256, mode }, `Installed "${where}" (mode ${octal(mode)})`);
  if (state.sha256 === sha256) {
    return state.mode === mode
      ? adopt({ op: "write", path, sha256, mode }, `Unchanged "${where}"`)
      : step({ op: "chmod", path, sha256, mode }, `Set mode ${octal(mode)} on "${where}"`);
  }
  const keepEdits = installedFile(path)?.keepEdits === true;
  if (keepEdits && manifest?.files[path]?.sha256 !== state.sha256) {
    // Edited since we wrote it (or never ours): it belongs to the admin now.
    return note(`Left "${where}" as is: it changed since install, so the new one is not written`);
  }
  return step({ op: "write", path, sha256, mode }, `Updated "${where}" (mode ${octal(mode)})`);
}

/** Plans install: pure. Throws CarpError when it cannot go ahead, before anything is written. */
export function planInstall(observed: InstallObservation, desired: DesiredFile[], options: { replaceStock: boolean }): InstallAction[] {
  const actions: InstallAction[] = [...recoveryNote(observed), ...planLeftovers(observed)];
  const plugin = ownerOfPlugin(observed, desired);
  if (plugin.kind === "package") actions.push(packageNote(plugin, "install"), ...planDisown(observed));
  const files = desired.filter((file) => wanted(file, observed, { replaceStock: options.replaceStock, plugin }));
  actions.push(...planDirectories(observed, files, options.replaceStock));
  for (const file of files) actions.push(planFile(observed, file));
  actions.push(...planStock(observed, options.replaceStock));
  const config = at(observed.root, LAYOUT.config);
  actions.push(
    note(
      observed.config.kind === "absent"
        ? `No config "${config}": the built-in defaults apply (the sample shows them)`
        : `Config "${config}" left as is`,
    ),
  );
  return actions;
}

/** What planning the stock script's path needs, found once. */
interface StockContext {
  observed: InstallObservation;
  stock: FileState;
  kept: FileState;
  stockPath: string;
  keptPath: string;
  shimSha: string;
  /** A stock copy is recorded and the kept file still matches it. */
  keptIntact: boolean;
}

function writeShim(context: StockContext, verb: "Installed" | "Updated"): InstallAction {
  const line = `${verb} the shim "${context.stockPath}" (mode ${octal(MODES.shim)}): the stock script's callers now trigger the daemon`;
  return step({ op: "write", path: LAYOUT.stockScript, sha256: context.shimSha, mode: MODES.shim }, line);
}

function planStock(observed: InstallObservation, replaceStock: boolean): InstallAction[] {
  const { root, manifest } = observed;
  const kept = observed.files[LAYOUT.keptStock] ?? { kind: "absent" };
  const context: StockContext = {
    observed,
    stock: observed.files[LAYOUT.stockScript] ?? { kind: "absent" },
    kept,
    stockPath: at(root, LAYOUT.stockScript),
    keptPath: at(root, LAYOUT.keptStock),
    shimSha: sha256Text(renderShim()),
    keptIntact: manifest?.stock != null && kept.kind === "file" && kept.sha256 === manifest.stock.sha256,
  };
  const { stock, stockPath } = context;
  if (!replaceStock) {
    return [
      note(
        stock.kind === "file" && stock.shim
          ? `Shim "${stockPath}" left in place (installed with --replace-stock; uninstall restores the stock script)`
          : `Stock script "${stockPath}" not replaced (pass --replace-stock to route it through the daemon)`,
      ),
    ];
  }
  if (stock.kind === "other") {
    throw new CarpError("system", `"${stockPath}" is a ${stock.what}, not the stock script; --replace-stock cannot keep it aside`, {
      kind: "install",
    });
  }
  if (stock.kind === "absent") {
    // Our shim was deleted by hand: put it back, the stock copy is still kept.
    if (context.keptIntact) return [writeShim(context, "Installed")];
    throw new CarpError(
      "usage",
      `No stock script "${stockPath}" to replace; is "${root}" an OPNsense root? Run install without --replace-stock`,
    );
  }
  return stock.shim ? planShimInPlace(context, stock) : planStockInPlace(context, stock);
}

/** Our shim is in place already (this version's or an older one's): the kept copy is the stock script, never overwritten. */
function planShimInPlace(context: StockContext, shim: FileState & { kind: "file" }): InstallAction[] {
  const { observed, kept, keptPath, stockPath, shimSha } = context;
  const actions: InstallAction[] = [];
  if (!context.keptIntact && kept.kind === "file" && observed.manifest?.stock == null) {
    // A kept copy nobody recorded (an install killed before it could): it is the stock script.
    const { sha256, mode, uid, gid } = kept;
    actions.push(adopt({ op: "keep-stock", sha256, mode, uid, gid }, `Recorded "${keptPath}" as the kept stock script`));
  } else if (!context.keptIntact) {
    const what = kept.kind === "file" ? "changed since it was kept" : "missing";
    actions.push(note(`"${stockPath}" is our shim, but the stock copy "${keptPath}" is ${what}: uninstall will refuse`));
  }
  if (shim.sha256 !== shimSha) actions.push(writeShim(context, "Updated"));
  else if (shim.mode !== MODES.shim) {
    const chmod: Step = { op: "chmod", path: LAYOUT.stockScript, sha256: shimSha, mode: MODES.shim };
    actions.push(step(chmod, `Set mode ${octal(MODES.shim)} on "${stockPath}"`));
  } else actions.push(note(`Unchanged "${stockPath}"`));
  return actions;
}

/** The stock script is in place, or a firmware update's newer one: that is what uninstall must restore. */
function planStockInPlace(context: StockContext, stock: FileState & { kind: "file" }): InstallAction[] {
  const record = context.observed.manifest?.stock;
  const { sha256, mode, uid, gid } = stock;
  if (context.keptIntact && record?.sha256 === sha256) return [writeShim(context, "Installed")]; // kept by a run cut short
  const older = record != null && context.kept.kind !== "absent";
  const keptLine = `Kept the stock script "${context.stockPath}" as "${context.keptPath}"${
    older ? ", replacing the copy kept before (a firmware update had reinstalled the stock script)" : ""
  }`;
  return [step({ op: "keep-stock", sha256, mode, uid, gid }, keptLine), writeShim(context, "Installed")];
}

/**
 * Plans what the firmware update hook asks for (`install --after-firmware-update`): only the shim,
 * put back in place of a stock script that a firmware update reinstalled, with that newer stock
 * script kept for uninstall (planStock, as install --replace-stock does). Nothing when the shim is
 * in place, or when no stock script is kept aside (install ran without --replace-stock, or
 * uninstall has put it back). Pure.
 */
export function planAfterFirmwareUpdate(observed: InstallObservation): InstallAction[] {
  const actions: InstallAction[] = [...recoveryNote(observed), ...planLeftovers(observed)];
  const stock = observed.files[LAYOUT.stockScript] ?? { kind: "absent" };
  const stockPath = at(observed.root, LAYOUT.stockScript);
  if (!observed.manifest?.stock) {
    return [
      ...actions,
      note(`No stock script is kept aside (install ran without --replace-stock, or uninstall put it back): "${stockPath}" is left as is`),
    ];
  }
  if (stock.kind === "file" && stock.shim) return [...actions, note(`The shim "${stockPath}" is in place: nothing to put back`)];
  return [...actions, ...planStock(observed, true)];
}

/**
 * Performs planned install actions in order under options.root through the journal, reporting
 * each. options.faults is for tests: called at every point where a run can be cut short.
 */
export function applyInstall(
  actions: InstallAction[],
  options: { root: string; observed: InstallObservation; desired: DesiredFile[]; report: Reporter; faults?: Faults },
): InstallResult {
  const sources = new Map<string, Source>(options.desired.map((file) => [file.path, file.source]));
  sources.set(LAYOUT.stockScript, { kind: "text", text: renderShim() });
  const changes = runSteps(actions, { ...options, operation: "install", sources });
  const executableChanged = actions.some((a) => a.kind === "step" && a.step.op === "write" && a.step.path === LAYOUT.binary);
  return { changes, executableChanged, plugin: ownerOfPlugin(options.observed, options.desired).kind };
}

/** Installs under options.root, reporting every step. */
export function install(options: InstallOptions, report: Reporter, faults?: Faults): InstallResult {
  const observed = observeInstall(options.root);
  const desired = desiredFiles(options.executable);
  const actions = planInstall(observed, desired, { replaceStock: options.replaceStock });
  return applyInstall(actions, { root: options.root, observed, desired, report, faults });
}

/**
 * What the firmware update hook runs: puts the shim back after a firmware update reinstalled the
 * stock script, through the journal, reporting every step. Writes nothing else, and needs no
 * executable to copy. Returns the number of changes.
 */
export function reinstateShim(options: { root: string }, report: Reporter, faults?: Faults): number {
  const observed = observeInstall(options.root);
  const actions = planAfterFirmwareUpdate(observed);
  return applyInstall(actions, { root: options.root, observed, desired: [], report, faults }).changes;
}
