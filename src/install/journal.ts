/**
 * Writing the manifest as a journal (manifest.ts says what it holds): started durably before the
 * first change, rewritten after each step, and retired at the end of uninstall. When its directory
 * does not exist yet, it is built under STAGING with the journal inside and renamed into place, so
 * the journal and the directories install creates for it appear together; uninstall takes them
 * away the same way. What a killed run leaves (a temporary file, a staging directory) has a fixed
 * name and is removed by the next run (removeLeftover).
 */
import { readdirSync, renameSync, rmdirSync, unlinkSync } from "node:fs";
import { basename, dirname, join, relative } from "node:path";
import { syncDirectory, writeFileAtomicSync } from "../system/atomic-file.ts";
import { at, isMissing, makeDirectory, type Reporter, removeFile, writeDurably } from "./file-ops.ts";
import { ancestors, LAYOUT, MODES, STAGING, temporaryOf } from "./layout.ts";
import { formatManifest, type Manifest } from "./manifest.ts";
import type { Leftover } from "./observe.ts";

/** Writes the manifest durably over the one in place. */
export function writeManifest(root: string, manifest: Manifest): void {
  writeDurably(root, LAYOUT.manifest, { content: formatManifest(manifest), mode: MODES.manifest });
}

/** `path` (under `top`) as it is while `top` is staged. */
function staged(top: string, path: string): string {
  return join(dirname(top), STAGING, relative(top, path));
}

/**
 * The journal's first write. `missing` lists the manifest's directories that do not exist yet, top
 * first (they are in manifest.directories already): they are made under STAGING with the journal
 * in the deepest, then renamed into place in one step. On failure nothing is left in place.
 */
export function startJournal(root: string, manifest: Manifest, missing: string[]): void {
  const top = missing[0];
  if (top === undefined) {
    writeManifest(root, manifest);
    return;
  }
  const staging = at(root, join(dirname(top), STAGING));
  try {
    for (const dir of missing) makeDirectory(at(root, staged(top, dir)));
    writeFileAtomicSync(at(root, staged(top, LAYOUT.manifest)), formatManifest(manifest), {
      mode: MODES.manifest,
      durable: true,
      temporary: at(root, staged(top, temporaryOf(LAYOUT.manifest))),
    });
    renameSync(staging, at(root, top));
  } catch (error) {
    try {
      dismantle(root, { path: join(dirname(top), STAGING), standsFor: top });
    } catch {
      // What is left has a fixed name: the next run removes it.
    }
    throw error;
  }
  syncDirectory(at(root, dirname(top)));
}

/**
 * Takes a staging directory apart: the journal (and its temporary file) in its deepest directory,
 * then each directory, deepest first. Anything else in it is left, with the directories above it.
 * Returns the directories it stood for that are gone now, deepest first, and the one left, if any.
 */
export function dismantle(root: string, staging: { path: string; standsFor: string }): { removed: string[]; left: string | null } {
  const top = staging.standsFor;
  const chain = [LAYOUT.dataDir, ...ancestors(LAYOUT.dataDir)].filter((dir) => dir === top || dir.startsWith(`${top}/`));
  for (const file of [LAYOUT.manifest, temporaryOf(LAYOUT.manifest)]) {
    try {
      unlinkSync(at(root, staged(top, file)));
    } catch (error) {
      if (!isMissing(error) && (error as NodeJS.ErrnoException).code !== "ENOTDIR") throw error;
    }
  }
  const removed: string[] = [];
  for (const dir of chain) {
    try {
      rmdirSync(at(root, staged(top, dir)));
      removed.push(dir);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "ENOENT") removed.push(dir);
      else if (code === "ENOTEMPTY" || code === "EEXIST") return { removed, left: staged(top, dir) };
      else throw error;
    }
  }
  syncDirectory(at(root, dirname(top)));
  return { removed, left: null };
}

/**
 * The end of uninstall: removes the manifest and, with it, the directories install created for it
 * that hold nothing else. Those are renamed to STAGING first, so a kill leaves either the manifest
 * in place (uninstall runs again) or the staging directory (removed by the next run). Reports and
 * returns the number of changes.
 */
export function retireJournal(root: string, manifest: Manifest, report: Reporter): number {
  const path = at(root, LAYOUT.manifest);
  const chain = [LAYOUT.dataDir, ...ancestors(LAYOUT.dataDir)];
  let top: string | null = null;
  let inside = basename(LAYOUT.manifest);
  for (const dir of chain) {
    if (!manifest.directories.includes(dir)) break;
    const entries = readdirSync(at(root, dir));
    if (entries.length !== 1 || entries[0] !== inside) break;
    top = dir;
    inside = basename(dir);
  }
  let removed: string[] = [];
  if (top === null) {
    removeFile(path);
  } else {
    renameSync(at(root, top), at(root, join(dirname(top), STAGING)));
    syncDirectory(at(root, dirname(top)));
    removed = dismantle(root, { path: join(dirname(top), STAGING), standsFor: top }).removed;
  }
  report(`Removed manifest "${path}"`);
  for (const dir of chain) {
    if (removed.includes(dir)) report(`Removed directory "${at(root, dir)}"`);
    else if (manifest.directories.includes(dir)) report(`Left directory "${at(root, dir)}" in place: not empty`);
  }
  return 1 + removed.length;
}

/** Removes what a killed run left, reporting it. */
export function removeLeftover(root: string, leftover: Leftover, report: Reporter): void {
  const path = at(root, leftover.path);
  if (leftover.kind === "temporary") {
    removeFile(path);
    report(`Removed "${path}", a temporary file left by an interrupted run`);
    return;
  }
  const { left } = dismantle(root, leftover);
  if (left === null) report(`Removed "${path}", a directory left by an interrupted run`);
  else report(`Left "${at(root, left)}" in place: not empty (it was being built or taken apart by an interrupted run)`);
}
