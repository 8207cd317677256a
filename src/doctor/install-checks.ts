/**
 * doctor's look at what install puts on the node, under a root ("/" on the node): whether the stock
 * script is replaced by our shim (or an install was cut short), whether configd has our actions
 * (the file, and a configd started after it was written), and the CARP event hook. Read-only.
 */
import { readFileSync, type Stats, statSync } from "node:fs";
import { at } from "../install/file-ops.ts";
import { LAYOUT } from "../install/layout.ts";
import { readManifest } from "../install/manifest.ts";
import { isShim, renderConfigdActions, renderSyshook } from "../install/templates.ts";
import { type Finding, finding } from "./finding.ts";

/** Where configd records its pid (configd.conf pid_filename): its mtime is when configd started. */
export const CONFIGD_PIDFILE = "var/run/configd.pid";

function readText(path: string): string | null {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return null;
  }
}

function statOrNull(path: string): Stats | null {
  try {
    return statSync(path);
  } catch {
    return null;
  }
}

/** An install or uninstall cut short, as the manifest records it; null when none is (or it cannot be read). */
function interruptedOperation(root: string): "install" | "uninstall" | null {
  try {
    return readManifest(root, "install")?.pending?.operation ?? null;
  } catch {
    return null;
  }
}

/** The stock script in place, replaced by our shim, or missing; or an install cut short. */
export function checkStockScript(root: string): Finding {
  const path = at(root, LAYOUT.stockScript);
  const interrupted = interruptedOperation(root);
  if (interrupted !== null) {
    const other = interrupted === "install" ? "uninstall" : "install";
    return finding(
      "stock script",
      "warn",
      `"${at(root, LAYOUT.manifest)}" records an ${interrupted} that was cut short: some of its steps are done, some not`,
      `carp-service-status ${interrupted} (finishes it), or carp-service-status ${other} (undoes it)`,
    );
  }
  const text = readText(path);
  if (text === null) return finding("stock script", "warn", `"${path}" is missing: nothing answers the stock event (is this OPNsense?)`);
  if (isShim(text)) return finding("stock script", "ok", `"${path}" is our shim: the boot hook and plugins reach the daemon`);
  return finding(
    "stock script",
    "info",
    `"${path}" is the stock script: the boot hook and plugins run it, not us (it shares our lock, so both can run)`,
    "carp-service-status install --replace-stock",
  );
}

/** Our configd actions installed as this version writes them, and configd started since. */
export function checkConfigdActions(root: string): Finding {
  const path = at(root, LAYOUT.configdActions);
  const text = readText(path);
  if (text === null) {
    return finding(
      "configd actions",
      "warn",
      `"${path}" is missing: configctl carp_service_status is unknown`,
      "carp-service-status install",
    );
  }
  if (text !== renderConfigdActions()) {
    return finding("configd actions", "warn", `"${path}" differs from this version's`, "carp-service-status install");
  }
  const configd = statOrNull(at(root, CONFIGD_PIDFILE));
  const written = statOrNull(path)!;
  if (configd === null)
    return finding("configd actions", "info", `"${path}" installed; configd is not running (no "${at(root, CONFIGD_PIDFILE)}")`);
  if (configd.mtimeMs < written.mtimeMs) {
    return finding(
      "configd actions",
      "warn",
      `"${path}" installed after configd started: configd does not know them yet`,
      "service configd restart",
    );
  }
  return finding("configd actions", "ok", `"${path}" installed, and configd started after it was written`);
}

/** The rc.syshook.d/carp hook that triggers an evaluation on every CARP state change. */
export function checkSyshook(root: string): Finding {
  const path = at(root, LAYOUT.syshook);
  const text = readText(path);
  if (text === null) {
    return finding(
      "CARP event hook",
      "warn",
      `"${path}" is missing: a demotion reset by leaving maintenance mode waits for the next scheduled run`,
      "carp-service-status install",
    );
  }
  if (text !== renderSyshook())
    return finding("CARP event hook", "warn", `"${path}" differs from this version's`, "carp-service-status install");
  return finding("CARP event hook", "ok", `"${path}" installed: CARP state changes trigger an evaluation`);
}
