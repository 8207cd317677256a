/**
 * uninstall: removes what the manifest says install wrote and puts the stock script back, in the
 * same three stages as install (observe, a pure plan, apply through the journal with a line per
 * step). The stock script comes back first, and the executable goes last: at every point the node
 * has a working carp_service_status, the stock one or the shim with the executable it calls.
 */
import { readFileSync } from "node:fs";
import { CarpError } from "../common/errors.ts";
import { type Action, type Faults, runSteps } from "./apply.ts";
import { at, type FileState, type Reporter } from "./file-ops.ts";
import { ancestors, installedFile, LAYOUT, pluginOnlyDirs, TRACKED_FILES } from "./layout.ts";
import { observeRoot, type RootObservation } from "./observe.ts";
import { packageNote, pluginOwner } from "./plugin.ts";
import { planLeftovers, recoveryNote } from "./recovery.ts";

/** Where the rc.d script's daemon(8) supervisor writes its pid. */
const PIDFILE = "var/run/carp_service_status.pid";

/** Everything uninstall may touch under the root, as found. */
export interface UninstallObservation extends RootObservation {
  /** A live process named by the rc.d pidfile under the root, or null. */
  daemonPid: number | null;
}

export type UninstallAction = Action;

function livePid(pidfile: string): number | null {
  let pid: number;
  try {
    pid = Number.parseInt(readFileSync(pidfile, "utf8").trim(), 10);
  } catch {
    return null;
  }
  if (!Number.isSafeInteger(pid) || pid <= 0) return null;
  try {
    process.kill(pid, 0);
    return pid;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM" ? pid : null; // EPERM: alive, someone else's
  }
}

/** Looks at everything uninstall may touch under the root. */
export function observeUninstall(root: string): UninstallObservation {
  const observed = observeRoot(root, "uninstall");
  return { ...observed, daemonPid: observed.manifest ? livePid(at(root, PIDFILE)) : null };
}

const REINSTALL_STOCK = "Reinstall it (opnsense-revert opnsense) and run uninstall again";

/** The stock script's path and the kept copy, as found. */
interface StockPaths {
  stock: FileState;
  kept: FileState;
  stockPath: string;
  keptPath: string;
}

function removeKept(line: string): Action {
  return { kind: "step", step: { op: "remove", path: LAYOUT.keptStock }, line };
}

function restore(paths: StockPaths, record: { sha256: string; mode: number; uid: number; gid: number }): Action[] {
  const line = `Restored the stock script "${paths.stockPath}" from "${paths.keptPath}"`;
  const { sha256, mode, uid, gid } = record;
  return [
    { kind: "step", step: { op: "restore-stock", sha256, mode, uid, gid }, line },
    removeKept(`Removed the kept stock copy "${paths.keptPath}"`),
  ];
}

/** No stock copy recorded: a kept copy found beside our shim (or the stock script) is still the stock script. */
function planUnrecordedStock(paths: StockPaths): Action[] {
  const { stock, kept, stockPath, keptPath } = paths;
  const ours = stock.kind === "absent" || (stock.kind === "file" && stock.shim);
  if (kept.kind === "file" && (ours || (stock.kind === "file" && kept.sha256 === stock.sha256))) {
    // A copy nobody recorded (an install killed before it could).
    const { sha256, mode, uid, gid } = kept;
    const found: Action = {
      kind: "adopt",
      step: { op: "keep-stock", sha256, mode, uid, gid },
      line: `Found the kept stock script "${keptPath}"`,
    };
    return ours
      ? [found, ...restore(paths, { sha256, mode, uid, gid })]
      : [found, removeKept(`Removed the kept stock copy "${keptPath}": the stock script is in place`)];
  }
  if (stock.kind === "file" && stock.shim) {
    // Removing the executable would leave the shim calling nothing: nothing would evaluate.
    throw new CarpError(
      "system",
      `Cannot restore the stock script: "${stockPath}" is our shim and no stock copy was kept ("${keptPath}" is missing); nothing was removed. ${REINSTALL_STOCK}`,
    );
  }
  return [];
}

/** Putting the stock script back, or leaving the one in place. */
function planStock(observed: UninstallObservation): Action[] {
  const { root, manifest } = observed;
  const paths: StockPaths = {
    stock: observed.files[LAYOUT.stockScript] ?? { kind: "absent" },
    kept: observed.files[LAYOUT.keptStock] ?? { kind: "absent" },
    stockPath: at(root, LAYOUT.stockScript),
    keptPath: at(root, LAYOUT.keptStock),
  };
  const { stock, kept, stockPath, keptPath } = paths;
  const record = manifest?.stock ?? null;
  if (record === null) return planUnrecordedStock(paths);
  const { sha256, mode, uid = kept.kind === "file" ? kept.uid : 0, gid = kept.kind === "file" ? kept.gid : 0 } = record;
  if (stock.kind === "file" && stock.sha256 === sha256) {
    // Put back already (by an uninstall cut short), or never replaced (an install cut short).
    return kept.kind === "absent" ? [] : [removeKept(`Removed the kept stock copy "${keptPath}": the stock script is in place`)];
  }
  if (stock.kind === "file" && !stock.shim) {
    const message = `Left "${stockPath}" as is: it is no longer our shim (a firmware update replaced it?), so the kept copy is not restored`;
    return [{ kind: "note", message }, ...(kept.kind === "absent" ? [] : [removeKept(`Removed the kept stock copy "${keptPath}"`)])];
  }
  if (stock.kind === "other" || kept.kind !== "file" || kept.sha256 !== sha256) {
    const what =
      stock.kind === "other"
        ? `"${stockPath}" is a ${stock.what}`
        : `its kept copy "${keptPath}" is ${kept.kind === "file" ? "changed" : "missing"}`;
    throw new CarpError("system", `Cannot restore the stock script: ${what}; nothing was removed. ${REINSTALL_STOCK}`, { kind: "install" });
  }
  return restore(paths, { sha256, mode, uid, gid });
}

/** Plans uninstall: pure. Throws CarpError when going ahead would lose the stock script or orphan the daemon. */
export function planUninstall(observed: UninstallObservation): UninstallAction[] {
  const { root, manifest } = observed;
  const actions: Action[] = [...recoveryNote(observed), ...planLeftovers(observed)];
  if (manifest && observed.daemonPid !== null) {
    // Without its rc.d script the daemon could no longer be stopped with service(8).
    throw new CarpError(
      "usage",
      `The daemon is running (pid ${observed.daemonPid} in "${at(root, PIDFILE)}"); stop it first: service carp_service_status stop`,
    );
  }
  const stock = planStock(observed);
  actions.push(...stock);
  if (!manifest) {
    const message =
      stock.length > 0
        ? `No manifest "${at(root, LAYOUT.manifest)}": nothing else under "${root}" is known to be ours`
        : `Nothing to uninstall under "${root}": no manifest "${at(root, LAYOUT.manifest)}" (install writes it)`;
    return [...actions, { kind: "note", message }];
  }
  // The package's files are pkg's to remove, even those install wrote before pkg replaced them.
  const plugin = pluginOwner(observed);
  const packaged = plugin.kind === "package";
  if (packaged) actions.push(packageNote(plugin, "uninstall"));
  // The reverse of install's order: what calls the executable goes before it.
  for (const path of [...TRACKED_FILES].reverse()) {
    const record = manifest.files[path];
    if (!record || (packaged && installedFile(path)?.part === "plugin")) continue;
    const state = observed.files[path] ?? { kind: "absent" };
    const where = at(root, path);
    if (state.kind === "absent") actions.push({ kind: "note", message: `Already gone: "${where}"` });
    else if (state.kind === "file" && state.sha256 === record.sha256) {
      actions.push({ kind: "step", step: { op: "remove", path }, line: `Removed "${where}"` });
    } else actions.push({ kind: "note", message: `Left "${where}" as is: it changed since install` });
  }
  // Deepest first, so a parent is tried after its children; the manifest's own go with it (retireJournal).
  const journalDirs = new Set(ancestors(LAYOUT.manifest));
  const pluginDirs = packaged ? pluginOnlyDirs() : new Set<string>();
  const deepestFirst = (a: string, b: string) => b.split("/").length - a.split("/").length || a.localeCompare(b);
  for (const dir of [...manifest.directories].sort(deepestFirst)) {
    if (journalDirs.has(dir) || pluginDirs.has(dir)) continue;
    actions.push({ kind: "step", step: { op: "rmdir", path: dir }, line: `Removed directory "${at(root, dir)}"` });
  }
  return actions;
}

/** What an uninstall did. */
export interface UninstallResult {
  changes: number;
  /** Files of the GUI plugin were removed: OPNsense's menu and ACL caches still list its page. */
  pluginRemoved: boolean;
}

/** Performs planned uninstall actions in order under options.root, reporting each. */
export function applyUninstall(
  actions: UninstallAction[],
  options: { root: string; observed: UninstallObservation; report: Reporter; faults?: Faults },
): UninstallResult {
  const changes = runSteps(actions, { ...options, operation: "uninstall" });
  const pluginRemoved = actions.some((a) => a.kind === "step" && a.step.op === "remove" && installedFile(a.step.path)?.part === "plugin");
  return { changes, pluginRemoved };
}

/** Removes what install wrote under root and restores the stock script, reporting every step. */
export function uninstall(options: { root: string }, report: Reporter, faults?: Faults): UninstallResult {
  const observed = observeUninstall(options.root);
  return applyUninstall(planUninstall(observed), { root: options.root, observed, report, faults });
}
