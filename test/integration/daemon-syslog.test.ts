/**
 * The daemon as rc.d runs it (`daemon --syslog`): its own lines go to syslog with the ident
 * carp-service-status and the priority of their level, as key=value text; the stock lines keep their
 * ident and bytes; nothing goes to stderr, so daemon(8) -S has no JSON to wrap.
 */
import { afterEach, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { type DaemonProcess, makeSandbox, runCli, type Sandbox, spawnDaemon, waitFor } from "../helpers.ts";

let sandbox: Sandbox;
let daemon: DaemonProcess | null = null;
afterEach(async () => {
  if (daemon && daemon.proc.exitCode === null) await daemon.stop();
  sandbox.cleanup();
});

test("a demotion and a promotion as syslog records: the stock lines unchanged, ours saying which hook and why", async () => {
  sandbox = makeSandbox();
  const hook = sandbox.addHook("frr_ospf", { content: "#!/bin/sh\necho 'no Full neighbour on vtnet1'\nexit 2\n" });
  sandbox.writeConfig({ schedule: false, logLevel: "info", logFormat: "text" });
  daemon = await spawnDaemon(sandbox, { args: ["--syslog"] });
  await waitFor(() => sandbox.demotion() === 1048576, "the demotion");
  rmSync(hook);
  sandbox.addHook("frr_ospf", { fixture: "pass" });
  await runCli(["trigger", "--config", sandbox.configFile]);
  expect(await daemon.stop()).toBe(0);

  const lines = sandbox.syslog();
  const stock = lines.filter((line) => line.startsWith("carp "));
  const ours = lines.filter((line) => line.startsWith("carp-service-status "));
  expect(stock).toEqual([
    "carp daemon.warning: carp demoted by 1048576 due to service disruption (services: frr_ospf)",
    "carp daemon.warning: carp promoted by 1048576 due to service recovery",
  ]);
  expect(ours).toEqual([
    `carp-service-status daemon.info: daemon started version=0.1.0 socket=${sandbox.config.socket} schedule=false hooksDir=${sandbox.hooksDir}`,
    "carp-service-status daemon.warning: demoted this node: frr_ospf (exit 2: no Full neighbour on vtnet1) demotionBefore=0 demotionAfter=1048576 failed=frr_ospf",
    'carp-service-status daemon.warning: hook "frr_ospf" new -> fail hook=frr_ospf to=fail exitCode=2 output="no Full neighbour on vtnet1\\n"',
    "carp-service-status daemon.warning: promoted this node: every check passes (1 passing: frr_ospf) demotionBefore=1048576 demotionAfter=0",
    'carp-service-status daemon.info: hook "frr_ospf" fail -> pass hook=frr_ospf from=fail to=pass exitCode=0 output=ok\\n',
    "carp-service-status daemon.info: stopping signal=SIGTERM",
    "carp-service-status daemon.info: stopped",
  ]);
  expect(lines).toHaveLength(stock.length + ours.length);
  expect(daemon.stderr()).toBe("");
});
