/**
 * The stock script coming back over our shim (a firmware update whose update hook did not put the
 * shim back): what install/stock-state.ts sees on a real install, and what the daemon says
 * (daemon/stock-watch.ts). The daemon process is in test/integration/stock-watch.test.ts.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { stockBackMessage, stockScriptChange } from "../src/daemon/stock-watch.ts";
import { install } from "../src/install/install.ts";
import { LAYOUT } from "../src/install/layout.ts";
import { observeStockScript, stockScriptWatcher } from "../src/install/stock-state.ts";
import { uninstall } from "../src/install/uninstall.ts";
import { opnsenseRoot, removeScratch, STOCK, standInExecutable } from "./install-scenario.ts";

afterEach(removeScratch);

const quiet = () => {};
const PATH = "/usr/local/sbin/carp_service_status";
const shim = { state: "shim", path: PATH } as const;
const back = { state: "stock-back", path: PATH } as const;
const notReplaced = { state: "not-replaced", path: PATH } as const;

describe("what the daemon says about the stock script", () => {
  test("a warning when it comes back, naming the fix; at start too", () => {
    for (const before of [shim, null]) {
      expect(stockScriptChange(before, back)).toEqual({ level: "warn", message: stockBackMessage(PATH) });
    }
    expect(stockBackMessage(PATH)).toContain(`the stock script is back at "${PATH}"`);
    expect(stockBackMessage(PATH)).toEndWith("fix: carp-service-status install --replace-stock");
  });

  test("one line per change: nothing while it stays back, or while the shim stays", () => {
    expect(stockScriptChange(back, back)).toBeNull();
    expect(stockScriptChange(shim, shim)).toBeNull();
    expect(stockScriptChange(null, shim)).toBeNull();
  });

  test("the shim put back is said once, at info", () => {
    expect(stockScriptChange(back, shim)).toEqual({
      level: "info",
      message: `our shim is back at "${PATH}": the boot hook and plugins reach this daemon again`,
    });
  });

  test("a node where install did not replace the stock script has nothing to say", () => {
    expect(stockScriptChange(null, notReplaced)).toBeNull();
    expect(stockScriptChange(shim, notReplaced)).toBeNull();
  });

  test("a path with a newline is escaped, so it cannot forge a second log line", () => {
    expect(stockBackMessage("/x\ny")).toContain('"/x\\ny"');
  });
});

describe("the stock script under a root, after a real install", () => {
  test("not replaced, shim, back after a firmware update, shim again, not replaced after uninstall", () => {
    const root = opnsenseRoot();
    const executable = standInExecutable();
    const path = join(root, LAYOUT.stockScript);
    expect(observeStockScript(root)).toEqual({ state: "not-replaced", path });
    install({ root, executable, replaceStock: false }, quiet);
    expect(observeStockScript(root).state).toBe("not-replaced");
    install({ root, executable, replaceStock: true }, quiet);
    expect(observeStockScript(root)).toEqual({ state: "shim", path });
    writeFileSync(path, STOCK); // what a firmware update does
    expect(observeStockScript(root)).toEqual({ state: "stock-back", path });
    install({ root, executable, replaceStock: true }, quiet); // what the update hook does
    expect(observeStockScript(root).state).toBe("shim");
    uninstall({ root }, quiet);
    expect(observeStockScript(root).state).toBe("not-replaced");
  });

  test("a missing script where the shim was counts as not the shim", () => {
    const root = opnsenseRoot();
    install({ root, executable: standInExecutable(), replaceStock: true }, quiet);
    Bun.spawnSync(["rm", join(root, LAYOUT.stockScript)]);
    expect(observeStockScript(root).state).toBe("stock-back");
  });

  test("the watcher reads the files again when they change, and only then", () => {
    const root = opnsenseRoot();
    install({ root, executable: standInExecutable(), replaceStock: true }, quiet);
    const watch = stockScriptWatcher(root);
    const first = watch();
    expect(first.state).toBe("shim");
    expect(watch()).toBe(first); // unchanged files: the same observation, nothing read
    writeFileSync(join(root, LAYOUT.stockScript), STOCK);
    expect(watch().state).toBe("stock-back");
  });
});
