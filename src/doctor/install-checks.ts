/**
 * doctor's look at what install puts on the node, under a root ("/" on the node): whether the stock
 * script is replaced by our shim (or an install was cut short) and kept so after firmware updates,
 * whether configd has our actions and the GUI's (the files, and a configd started after they were
 * written), the CARP event hook, the gateway alarm hook, and the GUI plugin's files. Read-only.
 */
import { existsSync, readFileSync, type Stats, statSync } from "node:fs";
import { at } from "../install/file-ops.ts";
import { LAYOUT, PLUGIN_FILES } from "../install/layout.ts";
import { readManifest } from "../install/manifest.ts";
import { PLUGIN_PACKAGE } from "../install/plugin.ts";
import { pluginTree } from "../install/plugin-files.ts";
import { isShim, renderConfigdActions, renderMonitorHook, renderSyshook } from "../install/templates.ts";
import { renderUpdateHook } from "../install/update-hook.ts";
import { type Finding, finding } from "./finding.ts";

/** The GUI plugin's configd actions (configctl carpservicestatus ...). */
const PLUGIN_ACTIONS = PLUGIN_FILES.find((file) =>
  file.path.startsWith(`${LAYOUT.configdActions.slice(0, LAYOUT.configdActions.lastIndexOf("/"))}/`),
)?.path;

/** Where the runtime port puts its bundle (scripts/build.ts PORT_BUNDLE): installed through pkg, the GUI comes as a package too. */
export const PORT_BUNDLE_PATH = "usr/local/libexec/carp-service-status/cli.js";

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
  if (isShim(text)) {
    const hook = at(root, LAYOUT.updateHook);
    const hookText = readText(hook);
    if (hookText !== renderUpdateHook()) {
      return finding(
        "stock script",
        "warn",
        `"${path}" is our shim, but the firmware update hook "${hook}" is ${hookText === null ? "missing" : "not this version's"}: a firmware update puts the stock script back, and nothing would put the shim back`,
        "carp-service-status install --replace-stock",
      );
    }
    return finding(
      "stock script",
      "ok",
      `"${path}" is our shim, put back after firmware updates: the boot hook and plugins reach the daemon`,
    );
  }
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
  // The GUI's actions, when its files are there (install's or the package's): checkPlugin checks their content.
  const files = [path, ...(PLUGIN_ACTIONS !== undefined && existsSync(at(root, PLUGIN_ACTIONS)) ? [at(root, PLUGIN_ACTIONS)] : [])];
  const installed = files.map((file) => `"${file}"`).join(" and ");
  const configd = statOrNull(at(root, CONFIGD_PIDFILE));
  if (configd === null)
    return finding("configd actions", "info", `${installed} installed; configd is not running (no "${at(root, CONFIGD_PIDFILE)}")`);
  const late = files.find((file) => configd.mtimeMs < (statOrNull(file)?.mtimeMs ?? 0));
  if (late !== undefined) {
    return finding(
      "configd actions",
      "warn",
      `"${late}" installed after configd started: configd does not know its actions yet`,
      "service configd restart",
    );
  }
  return finding(
    "configd actions",
    "ok",
    `${installed} installed, and configd started after ${files.length > 1 ? "they were" : "it was"} written`,
  );
}

/**
 * The GUI plugin: the package's (pkg checks its files), or install's, every file present with this
 * version's content and mode; or not installed.
 */
export function checkPlugin(root: string): Finding {
  const version = at(root, LAYOUT.pluginVersion);
  if (existsSync(version)) {
    return finding(
      "GUI plugin",
      "ok",
      `the package ${PLUGIN_PACKAGE} is installed ("${version}"): pkg check -s ${PLUGIN_PACKAGE} verifies its files`,
    );
  }
  const { files } = pluginTree();
  const missing: string[] = [];
  const changed: string[] = [];
  for (const file of files) {
    const path = at(root, file.path);
    const stat = statOrNull(path);
    if (stat === null) missing.push(path);
    else if ((stat.mode & 0o7777) !== file.mode || readText(path) !== file.text) changed.push(path);
  }
  const listed = (paths: string[]) =>
    `${paths
      .slice(0, 3)
      .map((p) => `"${p}"`)
      .join(", ")}${paths.length > 3 ? ", ..." : ""}`;
  if (missing.length === files.length) {
    const viaPkg = existsSync(at(root, PORT_BUNDLE_PATH));
    return finding(
      "GUI plugin",
      "info",
      `not installed: no Services > CARP Service Status page and no dashboard widget (none of its ${files.length} files, e.g. "${at(root, files[0]!.path)}")`,
      viaPkg ? `pkg install ${PLUGIN_PACKAGE}` : "carp-service-status install",
    );
  }
  if (missing.length > 0 || changed.length > 0) {
    const what = [
      missing.length > 0 && `${missing.length} missing (${listed(missing)})`,
      changed.length > 0 && `${changed.length} not as this version installs them (${listed(changed)})`,
    ].filter(Boolean);
    return finding("GUI plugin", "warn", `of its ${files.length} files, ${what.join("; ")}`, "carp-service-status install");
  }
  return finding(
    "GUI plugin",
    "ok",
    `its ${files.length} files are in place as this version installs them: Services > CARP Service Status`,
  );
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

/** The rc.syshook.d/monitor hook that triggers an evaluation on every gateway alarm. */
export function checkMonitorHook(root: string): Finding {
  const path = at(root, LAYOUT.monitorHook);
  const text = readText(path);
  if (text === null) {
    return finding(
      "monitor hook",
      "warn",
      `"${path}" is missing: a gateway alarm waits for the next scheduled run to reach the gateway checks`,
      "carp-service-status install",
    );
  }
  if (text !== renderMonitorHook())
    return finding("monitor hook", "warn", `"${path}" differs from this version's`, "carp-service-status install");
  return finding("monitor hook", "ok", `"${path}" installed: gateway alarms trigger an evaluation`);
}
