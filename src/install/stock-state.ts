/**
 * Whether the stock script is still our shim, where `install --replace-stock` put one: a firmware
 * update reinstalls core's script over it, and the update hook puts the shim back. When that hook is
 * missing or failed, the boot hook and plugins run the stock script, not the daemon; the daemon
 * watches for it (daemon/stock-watch.ts). Read-only, cheap enough for every evaluation: the two
 * files are read again only when their stat changes.
 */
import { type Stats, statSync } from "node:fs";
import { readBoundedFile } from "../common/read-file.ts";
import type { StockScriptObservation } from "../protocol/wire.ts";
import { at } from "./file-ops.ts";
import { LAYOUT } from "./layout.ts";
import { readManifest } from "./manifest.ts";
import { isShim } from "./templates.ts";

/** The shim and the stock script are a few KiB; anything far larger is neither. */
const SCRIPT_MAX_BYTES = 256 * 1024;

export type { StockScriptObservation };

function statKey(path: string): string {
  let stats: Stats;
  try {
    stats = statSync(path);
  } catch (error) {
    return `missing:${(error as NodeJS.ErrnoException).code ?? "?"}`;
  }
  return `${stats.dev}:${stats.ino}:${stats.size}:${stats.mtimeMs}:${stats.ctimeMs}`;
}

function replacedByInstall(root: string): boolean {
  try {
    const manifest = readManifest(root, "install");
    return manifest !== null && manifest.stock !== null;
  } catch {
    return false;
  }
}

function scriptIsShim(path: string): boolean {
  try {
    return isShim(readBoundedFile(path, { maxBytes: SCRIPT_MAX_BYTES, noFollow: true }));
  } catch {
    // Missing, unreadable or not a regular file: not the shim, so nothing reaches the daemon.
    return false;
  }
}

/**
 * Looks at the stock script under `root` ("/" on a node):
 * - `shim`: install replaced the stock script and the shim is in place;
 * - `stock-back`: install replaced it, and the file there now is not the shim (a firmware update);
 * - `not-replaced`: install did not replace it (no manifest, or installed without --replace-stock),
 *   or the manifest cannot be read: nothing to watch.
 */
export function observeStockScript(root: string): StockScriptObservation {
  const path = at(root, LAYOUT.stockScript);
  if (!replacedByInstall(root)) return { state: "not-replaced", path };
  return { state: scriptIsShim(path) ? "shim" : "stock-back", path };
}

/** observeStockScript, reading the two files again only when one of them changed (stat). */
export function stockScriptWatcher(root: string): () => StockScriptObservation {
  let key: string | null = null;
  let last: StockScriptObservation | null = null;
  return () => {
    const next = `${statKey(at(root, LAYOUT.manifest))}|${statKey(at(root, LAYOUT.stockScript))}`;
    if (last === null || next !== key) {
      key = next;
      last = observeStockScript(root);
    }
    return last;
  };
}
