/**
 * install under a root directory ("/" on the node, a scratch tree in tests), in three stages:
 * observe what is on disk, plan the actions (pure: a function of that observation), apply them,
 * reporting every step. The manifest records what was written, for uninstall (uninstall.ts).
 */
import { chmodSync, mkdirSync } from "node:fs";
import { CarpError } from "../common/errors.ts";
import { VERSION } from "../common/version.ts";
import { renderSampleConfig } from "../config/sample.ts";
import {
  at,
  checkRoot,
  copyPreserving,
  dirState,
  type FileState,
  fileState,
  fsFailure,
  octal,
  type Reporter,
  type Source,
  sha256File,
  sha256Text,
  writeAtomically,
} from "./file-ops.ts";
import { LAYOUT, MODES } from "./layout.ts";
import {
  ancestors,
  emptyManifest,
  formatManifest,
  type Manifest,
  OWNED_DIRS,
  readManifest,
  TRACKED_FILES,
  type TrackedFile,
} from "./manifest.ts";
import { renderConfigdActions, renderRcScript, renderShim, renderSyshook } from "./templates.ts";

export type { Reporter };

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

/** Everything install may touch under the root, as found. */
export interface InstallObservation {
  root: string;
  previous: Manifest | null;
  files: Record<TrackedFile, FileState>;
  /** Every directory in OWNED_DIRS. */
  dirs: Record<string, "directory" | "absent" | "other">;
  stock: FileState;
  kept: FileState;
  /** The real config: reported, never written. */
  config: FileState;
}

/** One step of an install. `tracked` files are recorded in the manifest; the shim is not. */
export type InstallAction =
  | { kind: "mkdir"; path: string }
  | { kind: "write"; path: string; source: Source; sha256: string; mode: number; verb: "Installed" | "Updated"; tracked: boolean }
  | { kind: "chmod"; path: string; sha256: string; mode: number; tracked: boolean }
  | { kind: "unchanged"; path: string; sha256: string; mode: number; tracked: boolean }
  | { kind: "leave"; path: string; reason: string }
  | { kind: "keep-stock"; sha256: string; mode: number; replacesOlder: boolean }
  | { kind: "note"; message: string };

/** What an install did. */
export interface InstallResult {
  /** Steps that changed something: directories, files, modes, the manifest. */
  changes: number;
  /** The executable was written: a running daemon runs the old one until restarted. */
  executableChanged: boolean;
}

/** The files install puts in place, with their contents and modes. */
export function desiredFiles(executable: string): DesiredFile[] {
  let executableSha256: string;
  try {
    executableSha256 = sha256File(executable);
  } catch (error) {
    throw fsFailure(error, { action: "read the executable", path: executable, command: "install" });
  }
  const text = (path: TrackedFile, content: string, mode: number): DesiredFile => ({
    path,
    source: { kind: "text", text: content },
    sha256: sha256Text(content),
    mode,
  });
  return [
    { path: LAYOUT.binary, source: { kind: "file", path: executable }, sha256: executableSha256, mode: MODES.binary },
    text(LAYOUT.rcScript, renderRcScript(), MODES.rcScript),
    text(LAYOUT.configdActions, renderConfigdActions(), MODES.configdActions),
    text(LAYOUT.sampleConfig, renderSampleConfig("freebsd"), MODES.sampleConfig),
    text(LAYOUT.syshook, renderSyshook(), MODES.syshook),
  ];
}

/** Looks at everything install may touch under the root. */
export function observeInstall(root: string): InstallObservation {
  checkRoot(root, "install");
  const files = Object.fromEntries(TRACKED_FILES.map((path) => [path, fileState(at(root, path), "install")]));
  return {
    root,
    previous: readManifest(root, "install"),
    files: files as Record<TrackedFile, FileState>,
    dirs: Object.fromEntries(OWNED_DIRS.map((dir) => [dir, dirState(at(root, dir))])),
    stock: fileState(at(root, LAYOUT.stockScript), "install", { detectShim: true }),
    kept: fileState(at(root, LAYOUT.keptStock), "install"),
    config: fileState(at(root, LAYOUT.config), "install"),
  };
}

/** Plans install: pure. Throws CarpError when it cannot go ahead, before anything is written. */
export function planInstall(observed: InstallObservation, desired: DesiredFile[], options: { replaceStock: boolean }): InstallAction[] {
  const { root, previous } = observed;
  const actions: InstallAction[] = [];
  const needed = new Set([...desired.map((file) => file.path), LAYOUT.manifest].flatMap(ancestors));
  // Parents before children.
  const byDepth = (a: string, b: string) => a.split("/").length - b.split("/").length || a.localeCompare(b);
  for (const dir of [...needed].sort(byDepth)) {
    const state = observed.dirs[dir];
    if (state === "other") throw new CarpError("system", `"${at(root, dir)}" is not a directory; move it away and run install again`);
    if (state === "absent") actions.push({ kind: "mkdir", path: dir });
  }

  for (const file of desired) {
    const state = observed.files[file.path];
    const { path, sha256, mode } = file;
    if (state.kind === "other") {
      throw new CarpError("system", `"${at(root, path)}" is a ${state.what}, not a file; move it away and run install again`);
    }
    if (state.kind === "absent") {
      actions.push({ kind: "write", path, source: file.source, sha256, mode, verb: "Installed", tracked: true });
    } else if (state.sha256 === sha256) {
      const kind = state.mode === mode ? "unchanged" : "chmod";
      actions.push({ kind, path, sha256, mode, tracked: true });
    } else if (path === LAYOUT.sampleConfig && previous?.files[LAYOUT.sampleConfig]?.sha256 !== state.sha256) {
      // Edited since we wrote it (or never ours): it belongs to the admin now.
      actions.push({ kind: "leave", path, reason: "it changed since install, so the new sample is not written" });
    } else {
      actions.push({ kind: "write", path, source: file.source, sha256, mode, verb: "Updated", tracked: true });
    }
  }

  actions.push(...planStock(observed, options.replaceStock));

  const config = at(root, LAYOUT.config);
  actions.push({
    kind: "note",
    message:
      observed.config.kind === "absent"
        ? `No config "${config}": the built-in defaults apply (the sample shows them)`
        : `Config "${config}" left as is`,
  });
  return actions;
}

function planStock(observed: InstallObservation, replaceStock: boolean): InstallAction[] {
  const { root, previous, stock, kept } = observed;
  const stockPath = at(root, LAYOUT.stockScript);
  const text = renderShim();
  const shim = { path: LAYOUT.stockScript, sha256: sha256Text(text), mode: MODES.shim, tracked: false };
  const writeShim = (verb: "Installed" | "Updated"): InstallAction => ({ kind: "write", ...shim, source: { kind: "text", text }, verb });
  const keptIntact = previous?.stock != null && kept.kind === "file" && kept.sha256 === previous.stock.sha256;

  if (!replaceStock) {
    const message =
      stock.kind === "file" && stock.shim
        ? `Shim "${stockPath}" left in place (installed with --replace-stock; uninstall restores the stock script)`
        : `Stock script "${stockPath}" not replaced (pass --replace-stock to route it through the daemon)`;
    return [{ kind: "note", message }];
  }
  if (stock.kind === "other") {
    throw new CarpError("system", `"${stockPath}" is a ${stock.what}, not the stock script; --replace-stock cannot keep it aside`);
  }
  if (stock.kind === "absent") {
    // Our shim was deleted by hand: put it back, the stock copy is still kept.
    if (keptIntact) return [writeShim("Installed")];
    throw new CarpError(
      "usage",
      `No stock script "${stockPath}" to replace; is "${root}" an OPNsense root? Run install without --replace-stock`,
    );
  }
  if (stock.shim) {
    // Ours already (this version or an older one): the kept copy is the stock script, never overwrite it.
    const actions: InstallAction[] = [];
    if (!keptIntact) {
      const message = `"${stockPath}" is our shim, but no intact stock copy is recorded in "${at(root, LAYOUT.keptStock)}": uninstall will leave the shim`;
      actions.push({ kind: "note", message });
    }
    if (stock.sha256 !== shim.sha256) actions.push(writeShim("Updated"));
    else actions.push({ kind: stock.mode === shim.mode ? "unchanged" : "chmod", ...shim });
    return actions;
  }
  // The stock script, or a firmware update's newer one: that is what uninstall must restore.
  const replacesOlder = previous?.stock != null && kept.kind !== "absent";
  return [{ kind: "keep-stock", sha256: stock.sha256, mode: stock.mode, replacesOlder }, writeShim("Installed")];
}

function trackFile(manifest: Manifest, action: { path: string; sha256: string; mode: number; tracked: boolean }): void {
  if (action.tracked) manifest.files[action.path as TrackedFile] = { sha256: action.sha256, mode: action.mode };
}

/**
 * Performs planned install actions in order under options.root, reporting each, and writes the
 * manifest of what was done (options.previous is the manifest found before, or null).
 */
export function applyInstall(
  actions: InstallAction[],
  options: { root: string; previous: Manifest | null; report: Reporter },
): InstallResult {
  const { root, previous, report } = options;
  const manifest: Manifest = { ...structuredClone(previous ?? emptyManifest()), version: VERSION };
  let changes = 0;
  let executableChanged = false;
  try {
    for (const action of actions) {
      const path = "path" in action ? at(root, action.path) : "";
      switch (action.kind) {
        case "mkdir":
          try {
            mkdirSync(path);
            chmodSync(path, MODES.directory); // mkdir's mode is cut by the umask
          } catch (error) {
            throw fsFailure(error, { action: "create directory", path, command: "install" });
          }
          if (!manifest.directories.includes(action.path)) manifest.directories.push(action.path);
          changes++;
          report(`Created directory "${path}"`);
          break;
        case "write":
          try {
            writeAtomically(path, { source: action.source, mode: action.mode });
          } catch (error) {
            throw fsFailure(error, { action: "write", path, command: "install" });
          }
          trackFile(manifest, action);
          executableChanged ||= action.path === LAYOUT.binary;
          changes++;
          report(
            action.path === LAYOUT.stockScript
              ? `${action.verb} the shim "${path}" (mode ${octal(action.mode)}): the stock script's callers now trigger the daemon`
              : `${action.verb} "${path}" (mode ${octal(action.mode)})`,
          );
          break;
        case "chmod":
          try {
            chmodSync(path, action.mode);
          } catch (error) {
            throw fsFailure(error, { action: "change the mode of", path, command: "install" });
          }
          trackFile(manifest, action);
          changes++;
          report(`Set mode ${octal(action.mode)} on "${path}"`);
          break;
        case "unchanged":
          trackFile(manifest, action);
          report(`Unchanged "${path}"`);
          break;
        case "leave":
          report(`Left "${path}" as is: ${action.reason}`);
          break;
        case "keep-stock": {
          const from = at(root, LAYOUT.stockScript);
          const to = at(root, LAYOUT.keptStock);
          try {
            copyPreserving(from, to, { mode: action.mode });
          } catch (error) {
            throw fsFailure(error, { action: "keep the stock script aside as", path: to, command: "install" });
          }
          manifest.stock = { path: LAYOUT.stockScript, kept: LAYOUT.keptStock, sha256: action.sha256, mode: action.mode };
          changes++;
          const older = action.replacesOlder ? ", replacing the copy kept before (a firmware update had reinstalled the stock script)" : "";
          report(`Kept the stock script "${from}" as "${to}"${older}`);
          break;
        }
        case "note":
          report(action.message);
          break;
      }
    }
  } finally {
    // Also after a failure: whatever was written is recorded, so uninstall can still remove it.
    changes += writeManifest(manifest, { root, previous, report });
  }
  return { changes, executableChanged };
}

function writeManifest(manifest: Manifest, options: { root: string; previous: Manifest | null; report: Reporter }): number {
  const { root, previous, report } = options;
  const path = at(root, LAYOUT.manifest);
  const text = formatManifest(manifest);
  if (previous && formatManifest(previous) === text) {
    report(`Unchanged manifest "${path}"`);
    return 0;
  }
  const empty = manifest.directories.length === 0 && Object.keys(manifest.files).length === 0 && !manifest.stock;
  if (!previous && empty) return 0; // nothing was written: no manifest either
  try {
    writeAtomically(path, { source: { kind: "text", text }, mode: MODES.manifest });
  } catch (error) {
    // Without it uninstall finds nothing to remove and the kept stock script is forgotten: not done.
    const failure = fsFailure(error, { action: "write the manifest", path, command: "install" });
    throw new CarpError(
      "system",
      `${failure.message}; the files above are in place but not tracked, so uninstall would not find them: fix that and run install again`,
      { cause: error },
    );
  }
  report(`Wrote manifest "${path}"`);
  return 1;
}

/** Installs under options.root, reporting every step. */
export function install(options: InstallOptions, report: Reporter): InstallResult {
  const observed = observeInstall(options.root);
  const actions = planInstall(observed, desiredFiles(options.executable), { replaceStock: options.replaceStock });
  return applyInstall(actions, { root: options.root, previous: observed.previous, report });
}
