/**
 * Whose the plugin's files are (the GUI, os-carp-service-status): install's, which writes and
 * removes them like its other files, or the package's. When the package is installed through pkg,
 * install and uninstall leave its files alone: pkg owns them, upgrades them and removes them. Pure
 * functions of the observation.
 */
import type { Action } from "./apply.ts";
import { at, type Command } from "./file-ops.ts";
import { LAYOUT, PLUGIN_FILES, pluginOnlyDirs } from "./layout.ts";
import type { RootObservation } from "./observe.ts";

/** The package's name: plugins are `os-` and their PLUGIN_NAME. */
export const PLUGIN_PACKAGE = `os-${LAYOUT.pluginVersion.slice(LAYOUT.pluginVersion.lastIndexOf("/") + 1)}`;

export type PluginOwner = { kind: "ours" } | { kind: "package"; evidence: string };

/**
 * The package is installed when its version file is there (plugins.mk adds it to every plugin's
 * package, and install never writes it), or when a file of the plugin is there that install did
 * not write (not in its manifest) and that is not what install would write (`ours`, path ->
 * sha256; without it any such file counts).
 */
export function pluginOwner(observed: RootObservation, ours?: ReadonlyMap<string, string>): PluginOwner {
  const { root, manifest } = observed;
  const version = observed.files[LAYOUT.pluginVersion];
  if (version !== undefined && version.kind !== "absent") {
    return { kind: "package", evidence: `its version file "${at(root, LAYOUT.pluginVersion)}" is there` };
  }
  for (const { path } of PLUGIN_FILES) {
    const state = observed.files[path];
    if (state === undefined || state.kind === "absent" || manifest?.files[path] !== undefined) continue;
    if (state.kind === "file" && ours?.get(path) === state.sha256) continue;
    return { kind: "package", evidence: `"${at(root, path)}" is there and install did not write it` };
  }
  return { kind: "ours" };
}

/** The line install and uninstall report when the package has the plugin's files. */
export function packageNote(owner: PluginOwner & { kind: "package" }, command: Command): Action {
  const does = command === "install" ? "neither writes nor records them" : "leaves them to pkg";
  return {
    kind: "note",
    message: `The GUI plugin's files belong to the package ${PLUGIN_PACKAGE} (${owner.evidence}): ${command} ${does}`,
  };
}

/**
 * What install recorded of the plugin (files and the directories only they need), forgotten
 * without being touched: the package has them now, and uninstall must never remove them.
 */
export function planDisown(observed: RootObservation): Action[] {
  const { root, manifest } = observed;
  if (!manifest) return [];
  const actions: Action[] = [];
  for (const { path } of PLUGIN_FILES) {
    if (manifest.files[path] === undefined) continue;
    actions.push({ kind: "adopt", step: { op: "disown", path }, line: `Forgot "${at(root, path)}": the package's now` });
  }
  const dirs = pluginOnlyDirs();
  for (const dir of manifest.directories) {
    if (!dirs.has(dir)) continue;
    actions.push({ kind: "adopt", step: { op: "disown", path: dir }, line: `Forgot directory "${at(root, dir)}": the package's now` });
  }
  return actions;
}
