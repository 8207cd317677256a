/**
 * uninstall: removes what the manifest says install wrote and puts the stock script back, in the
 * same three stages as install (observe, a pure plan, apply with a line per step).
 */
import { readdirSync, readFileSync, rmdirSync, unlinkSync } from "node:fs";
import { CarpError } from "../common/errors.ts";
import { at, checkRoot, copyPreserving, type FileState, fileState, fsFailure, type Reporter } from "./file-ops.ts";
import { LAYOUT } from "./layout.ts";
import { type Manifest, readManifest, type TrackedFile } from "./manifest.ts";

/** Where the rc.d script's daemon(8) supervisor writes its pid. */
const PIDFILE = "var/run/carp_service_status.pid";

/** Everything uninstall may touch under the root, as found. */
export interface UninstallObservation {
  root: string;
  manifest: Manifest | null;
  files: Partial<Record<TrackedFile, FileState>>;
  stock: FileState;
  kept: FileState;
  /** A live process named by the rc.d pidfile under the root, or null. */
  daemonPid: number | null;
}

/** One step of an uninstall. */
export type UninstallAction =
  | { kind: "restore-stock"; mode: number }
  | { kind: "drop-kept"; message: string }
  | { kind: "remove"; path: TrackedFile }
  | { kind: "leave"; path: string; reason: string }
  | { kind: "gone"; path: string }
  | { kind: "remove-manifest" }
  | { kind: "rmdir"; path: string }
  | { kind: "note"; message: string };

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
  checkRoot(root, "uninstall");
  const manifest = readManifest(root, "uninstall");
  const files: Partial<Record<TrackedFile, FileState>> = {};
  for (const path of Object.keys(manifest?.files ?? {}) as TrackedFile[]) files[path] = fileState(at(root, path), "uninstall");
  return {
    root,
    manifest,
    files,
    stock: fileState(at(root, LAYOUT.stockScript), "uninstall", { detectShim: true }),
    kept: fileState(at(root, LAYOUT.keptStock), "uninstall"),
    daemonPid: manifest ? livePid(at(root, PIDFILE)) : null,
  };
}

/** Plans uninstall: pure. Throws CarpError when going ahead would lose the stock script or orphan the daemon. */
export function planUninstall(observed: UninstallObservation): UninstallAction[] {
  const { root, manifest, stock, kept } = observed;
  if (!manifest) {
    return [
      { kind: "note", message: `Nothing to uninstall under "${root}": no manifest "${at(root, LAYOUT.manifest)}" (install writes it)` },
    ];
  }
  if (observed.daemonPid !== null) {
    // Without its rc.d script the daemon could no longer be stopped with service(8).
    throw new CarpError(
      "usage",
      `The daemon is running (pid ${observed.daemonPid} in "${at(root, PIDFILE)}"); stop it first: service carp_service_status stop`,
    );
  }
  const actions: UninstallAction[] = [];
  const stockPath = at(root, LAYOUT.stockScript);
  if (manifest.stock) {
    const ours = stock.kind === "absent" || (stock.kind === "file" && stock.shim);
    if (!ours) {
      const message = `Left "${stockPath}" as is: it is no longer our shim (a firmware update replaced it?), so the kept copy is not restored`;
      actions.push({ kind: "drop-kept", message });
    } else if (kept.kind === "file" && kept.sha256 === manifest.stock.sha256) {
      actions.push({ kind: "restore-stock", mode: manifest.stock.mode });
    } else {
      throw new CarpError(
        "system",
        `Cannot restore the stock script: its kept copy "${at(root, LAYOUT.keptStock)}" is ${kept.kind === "file" ? "changed" : "missing"}; ` +
          "nothing was removed. Reinstall it (opnsense-revert opnsense) and run uninstall again",
      );
    }
  } else if (stock.kind === "file" && stock.shim) {
    actions.push({ kind: "leave", path: LAYOUT.stockScript, reason: "it is our shim, but no stock copy was recorded to restore" });
  }

  for (const [path, record] of Object.entries(manifest.files) as [TrackedFile, { sha256: string }][]) {
    const state = observed.files[path] ?? { kind: "absent" };
    if (state.kind === "absent") actions.push({ kind: "gone", path });
    else if (state.kind === "file" && state.sha256 === record.sha256) actions.push({ kind: "remove", path });
    else actions.push({ kind: "leave", path, reason: "it changed since install" });
  }
  actions.push({ kind: "remove-manifest" });
  // Deepest first, so a parent is tried after its children.
  const deepestFirst = (a: string, b: string) => b.split("/").length - a.split("/").length || a.localeCompare(b);
  for (const dir of [...manifest.directories].sort(deepestFirst)) actions.push({ kind: "rmdir", path: dir });
  return actions;
}

function remove(path: string): void {
  try {
    unlinkSync(path);
  } catch (error) {
    throw fsFailure(error, { action: "remove", path, command: "uninstall" });
  }
}

/** Removes a directory that install created once it is empty; says why when it stays. */
function removeDirectory(path: string, report: Reporter): number {
  let entries: string[];
  try {
    entries = readdirSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return 0;
    throw fsFailure(error, { action: "read directory", path, command: "uninstall" });
  }
  if (entries.length > 0) {
    report(`Left directory "${path}" in place: not empty`);
    return 0;
  }
  try {
    rmdirSync(path);
  } catch (error) {
    throw fsFailure(error, { action: "remove directory", path, command: "uninstall" });
  }
  report(`Removed directory "${path}"`);
  return 1;
}

/** Performs planned uninstall actions in order under options.root, reporting each; returns the number of changes. */
export function applyUninstall(actions: UninstallAction[], options: { root: string; report: Reporter }): number {
  const { root, report } = options;
  const kept = at(root, LAYOUT.keptStock);
  const stock = at(root, LAYOUT.stockScript);
  let changes = 0;
  for (const action of actions) {
    const path = "path" in action ? at(root, action.path) : "";
    switch (action.kind) {
      case "restore-stock":
        // Stock first: the node is never left without a working carp_service_status.
        try {
          copyPreserving(kept, stock, { mode: action.mode });
        } catch (error) {
          throw fsFailure(error, { action: "restore the stock script", path: stock, command: "uninstall" });
        }
        remove(kept);
        changes++;
        report(`Restored the stock script "${stock}" from "${kept}"`);
        break;
      case "drop-kept":
        report(action.message);
        try {
          unlinkSync(kept);
          changes++;
          report(`Removed the kept stock copy "${kept}"`);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== "ENOENT")
            throw fsFailure(error, { action: "remove", path: kept, command: "uninstall" });
        }
        break;
      case "remove":
        remove(path);
        changes++;
        report(`Removed "${path}"`);
        break;
      case "leave":
        report(`Left "${path}" as is: ${action.reason}`);
        break;
      case "gone":
        report(`Already gone: "${path}"`);
        break;
      case "remove-manifest":
        remove(at(root, LAYOUT.manifest));
        changes++;
        report(`Removed manifest "${at(root, LAYOUT.manifest)}"`);
        break;
      case "rmdir":
        changes += removeDirectory(path, report);
        break;
      case "note":
        report(action.message);
        break;
    }
  }
  return changes;
}

/** Removes what install wrote under root and restores the stock script, reporting every step. */
export function uninstall(options: { root: string }, report: Reporter): number {
  const observed = observeUninstall(options.root);
  return applyUninstall(planUninstall(observed), { root: options.root, report });
}
