/**
 * What install and uninstall find under a root before they plan: the manifest (settled, when a
 * killed run left an operation pending), every file and directory of the layout, and what a
 * killed run leaves behind (temporary files, a staging directory).
 */
import { lstatSync } from "node:fs";
import { dirname, join } from "node:path";
import { at, type Command, checkRoot, dirState, type FileState, fileState, fsFailure, isMissing } from "./file-ops.ts";
import { ancestors, LAYOUT, OWNED_DIRS, STAGING, TRACKED_FILES, temporaryOf, WRITTEN_FILES } from "./layout.ts";
import { type Interrupted, type Manifest, readManifest, type Seen, settleManifest } from "./manifest.ts";

/** Something a killed run left: a temporary file, or a staging directory standing for `standsFor`. */
export type Leftover =
  | { kind: "temporary"; path: string; what: string }
  | { kind: "staging"; path: string; standsFor: string; what: string };

/** Everything install and uninstall may touch under the root, as found. */
export interface RootObservation extends Seen {
  root: string;
  /** The manifest as read, before settling: what is on disk. */
  found: Manifest | null;
  /** The manifest settled against the disk: what is in place. */
  manifest: Manifest | null;
  /** The operation a killed run left pending, or null. */
  interrupted: Interrupted | null;
  leftovers: Leftover[];
  /** The real config: reported by install, never written. */
  config: FileState;
}

function lstatKind(path: string, command: Command): "absent" | "directory" | "file" | "other" {
  try {
    const stat = lstatSync(path);
    return stat.isDirectory() ? "directory" : stat.isFile() ? "file" : "other";
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (isMissing(error) || code === "ENOTDIR") return "absent";
    throw fsFailure(error, { action: "inspect", path, command });
  }
}

/** The staging directory that stands for each directory on the manifest's path, top first. */
export function stagingCandidates(): { path: string; standsFor: string }[] {
  return ancestors(LAYOUT.manifest)
    .reverse()
    .map((dir) => ({ path: join(dirname(dir), STAGING), standsFor: dir }));
}

/** Temporary files and staging directories left by a killed run. */
export function findLeftovers(root: string, command: Command): Leftover[] {
  const leftovers: Leftover[] = [];
  for (const path of WRITTEN_FILES.map(temporaryOf)) {
    const kind = lstatKind(at(root, path), command);
    if (kind !== "absent") leftovers.push({ kind: "temporary", path, what: kind });
  }
  for (const candidate of stagingCandidates()) {
    const kind = lstatKind(at(root, candidate.path), command);
    if (kind !== "absent") leftovers.push({ kind: "staging", ...candidate, what: kind });
  }
  return leftovers;
}

/** Looks at everything install or uninstall may touch under the root, and settles the manifest. */
export function observeRoot(root: string, command: Command): RootObservation {
  checkRoot(root, command);
  const found = readManifest(root, command);
  const files: Record<string, FileState> = {};
  // The plugin's version file only says whether its package is installed (plugin.ts).
  for (const path of [...TRACKED_FILES, LAYOUT.stockScript, LAYOUT.keptStock, LAYOUT.pluginVersion]) {
    files[path] = fileState(at(root, path), command);
  }
  const dirs = Object.fromEntries(OWNED_DIRS.map((dir) => [dir, dirState(at(root, dir), command)]));
  const settled = found ? settleManifest(found, { files, dirs }) : { manifest: null, interrupted: null };
  return {
    root,
    found,
    manifest: settled.manifest,
    interrupted: settled.interrupted,
    files,
    dirs,
    leftovers: findLeftovers(root, command),
    config: fileState(at(root, LAYOUT.config), command),
  };
}
