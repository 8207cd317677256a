/**
 * A real daemon on a node where install replaced the stock script with our shim: a firmware update
 * puts the stock script back (and its update hook did not put the shim back). The daemon notices at
 * its next evaluation: one warning, the anomaly in `status`, and a metric; and once more when the
 * shim is back.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { stockBackMessage } from "../../src/daemon/stock-watch.ts";
import { install } from "../../src/install/install.ts";
import { LAYOUT } from "../../src/install/layout.ts";
import { makeSandbox, runCli, type Sandbox, spawnDaemon } from "../helpers.ts";
import { opnsenseRoot, removeScratch, STOCK, standInExecutable } from "../install-scenario.ts";

let sandbox: Sandbox | null = null;
afterEach(() => {
  sandbox?.cleanup();
  sandbox = null;
  removeScratch();
});

async function metric(socket: string, name: string): Promise<string | undefined> {
  const text = await (await fetch("http://localhost/metrics", { unix: socket })).text();
  return text.split("\n").find((line) => line.startsWith(`carp_service_status_${name} `));
}

describe("the daemon and the stock script", () => {
  test("notices the stock script back over the shim, says how to fix it, and notices the fix", async () => {
    sandbox = makeSandbox({ logLevel: "info" });
    sandbox.addHook("ok", { content: "#!/bin/sh\nexit 0\n" });
    const root = opnsenseRoot();
    const executable = standInExecutable();
    install({ root, executable, replaceStock: true }, () => {});
    const stockPath = join(root, LAYOUT.stockScript);
    const socket = sandbox.config.socket as string;

    const daemon = await spawnDaemon(sandbox, { args: ["--root", root] });
    try {
      const first = await daemon.call("evaluate");
      expect(first.action).toBe("none");
      expect((await daemon.call("status")).stockScript).toEqual({ state: "shim", path: stockPath });
      expect(await metric(socket, "stock_script_back")).toBe("carp_service_status_stock_script_back 0");

      writeFileSync(stockPath, STOCK); // a firmware update reinstalls core's script
      await daemon.call("evaluate");
      await daemon.call("evaluate");
      const warned = await daemon.waitForLog((line) => line.stockScript === stockPath);
      expect(warned).toMatchObject({ level: 40, msg: stockBackMessage(stockPath) });
      const status = await daemon.call("status");
      expect(status.anomalies).toEqual([stockBackMessage(stockPath)]);
      expect(await metric(socket, "stock_script_back")).toBe("carp_service_status_stock_script_back 1");
      const printed = await runCli(["status", "--config", sandbox.configFile]);
      expect(printed.stdout).toContain(`ANOMALY: ${stockBackMessage(stockPath)}`);
      // Checks all pass: the demotion line is not suppressed by an anomaly of the node.
      expect(printed.stdout).toContain("demotion 0");

      install({ root, executable, replaceStock: true }, () => {}); // what the update hook does
      await daemon.call("evaluate");
      await daemon.waitForLog((line) => line.stockScript === stockPath && line.level === 30);
      expect(
        daemon
          .logs()
          .filter((line) => line.stockScript === stockPath)
          .map((line) => line.msg),
      ).toEqual([stockBackMessage(stockPath), `our shim is back at "${stockPath}": the boot hook and plugins reach this daemon again`]);
      expect((await daemon.call("status")).anomalies).toEqual([]);
      expect(await metric(socket, "stock_script_back")).toBe("carp_service_status_stock_script_back 0");
    } finally {
      expect(await daemon.stop()).toBe(0);
    }
  });

  test("without --root the daemon watches / (here: nothing installed), and says nothing", async () => {
    sandbox = makeSandbox({ logLevel: "info" });
    const daemon = await spawnDaemon(sandbox);
    try {
      await daemon.call("evaluate");
      const status = await daemon.call("status");
      expect(status.stockScript).toBeUndefined();
      expect(daemon.logs().some((line) => "stockScript" in line)).toBe(false);
    } finally {
      await daemon.stop();
    }
  });
});
