/**
 * status --watch in a real terminal: tmux runs it against a real daemon, a hook changes, the
 * redrawn screen is read back with capture-pane, the window is resized, and Ctrl-C ends it with
 * the terminal restored (main screen back, cursor visible) and exit status 0.
 */
import { afterEach, expect, test } from "bun:test";
import { rmSync, writeFileSync } from "node:fs";
import { CLI, type DaemonProcess, makeSandbox, runCli, type Sandbox, spawnDaemon, waitFor } from "../helpers.ts";
import { tool } from "../tools.ts";

const TMUX = tool("tmux", "tmux");
/** A tmux server of our own, so nothing of anyone else's sessions is touched. */
const SERVER = `carp-watch-test-${process.pid}`;

let sandbox: Sandbox | null = null;
let daemon: DaemonProcess | null = null;
afterEach(async () => {
  Bun.spawnSync([TMUX!, "-L", SERVER, "kill-server"], { stderr: "ignore" });
  if (daemon && daemon.proc.exitCode === null) await daemon.stop();
  sandbox?.cleanup();
  daemon = null;
  sandbox = null;
});

function tmux(...args: string[]): string {
  const result = Bun.spawnSync([TMUX!, "-L", SERVER, ...args], { stderr: "pipe" });
  if (result.exitCode !== 0) throw new Error(`tmux ${args.join(" ")}: ${result.stderr.toString()}`);
  return result.stdout.toString();
}

const screen = () => tmux("capture-pane", "-p", "-t", "watch");

test.skipIf(!TMUX)(
  "redraws a hook's change in place, fits a resized window, and exits 0 on Ctrl-C with the terminal restored",
  async () => {
    sandbox = makeSandbox();
    const hook = sandbox.addHook("frr_ospf", { content: "#!/bin/sh\necho 'neighbour 192.0.2.2 Full'\n" });
    sandbox.writeConfig({ schedule: "0 0 1 1 *", logLevel: "warn" });
    daemon = await spawnDaemon(sandbox);
    await waitFor(async () => (await daemon!.call("status")).counters.evaluations === 1, "the first evaluation");

    const command = `${process.execPath} ${CLI} status --watch --config ${sandbox.configFile}; echo "watch exited $?"; sleep 60`;
    tmux("new-session", "-d", "-s", "watch", "-x", "120", "-y", "20", command);
    const first = await waitFor(() => (/frr_ospf\s+pass/.test(screen()) ? screen() : null), "the first frame");
    expect(first).toMatch(/^carp-service-status \S+ · pid \d+ · up /);
    expect(first).toContain("demotion 0: nothing demotes this node");
    expect(first).toContain("neighbour 192.0.2.2 Full");
    expect(first).toMatch(/next run in \d+/);

    rmSync(hook);
    sandbox.addHook("frr_ospf", { content: "#!/bin/sh\necho 'no OSPF neighbour in state Full' >&2\nexit 2\n" });
    await daemon.call("evaluate");
    const changed = await waitFor(() => (/frr_ospf\s+fail\s+2/.test(screen()) ? screen() : null), "the redrawn frame", 4000);
    expect(changed).toContain("demotion 1048576: our bit (2^20: a service check failed)");
    expect(changed).toContain("no OSPF neighbour in state Full");
    // Redrawn in place: the hook appears once, not once per frame.
    expect(changed.match(/frr_ospf/g)).toHaveLength(1);

    tmux("resize-window", "-t", "watch", "-x", "50", "-y", "12");
    const narrow = await waitFor(() => (screen().includes("…") ? screen() : null), "the frame at the new width", 3000);
    expect(Math.max(...narrow.split("\n").map((line) => [...line].length))).toBeLessThanOrEqual(50);
    expect(narrow).toContain("q or Ctrl-C: quit");

    tmux("send-keys", "-t", "watch", "C-c");
    const after = await waitFor(() => (screen().includes("watch exited") ? screen() : null), "the exit", 3000);
    expect(after).toContain("watch exited 0");
    // The alternate screen is gone and the cursor is back.
    expect(after).not.toContain("q or Ctrl-C: quit");
    expect(tmux("display-message", "-p", "-t", "watch", "#{alternate_on} #{cursor_flag}").trim()).toBe("0 1");
  },
);

test.skipIf(!TMUX)(
  "shows a hold-down counting down, the bit held by it rather than a failed check, and its end",
  async () => {
    sandbox = makeSandbox();
    const broken = `${sandbox.dir}/broken`;
    writeFileSync(broken, "");
    sandbox.addHook("frr_ospf", {
      content: `#!/bin/sh\nif [ -e ${broken} ]; then echo 'no OSPF neighbour in state Full'; exit 2; fi\necho Full\n`,
    });
    sandbox.writeConfig({ schedule: "0 0 1 1 *", logLevel: "warn", promoteDelayMs: 6000 });
    daemon = await spawnDaemon(sandbox);
    await waitFor(async () => (await daemon!.call("status")).counters.evaluations === 1, "the first evaluation");

    const command = `${process.execPath} ${CLI} status --watch --config ${sandbox.configFile}; echo "watch exited $?"; sleep 60`;
    tmux("new-session", "-d", "-s", "watch", "-x", "120", "-y", "20", command);
    await waitFor(() => (/frr_ospf\s+fail/.test(screen()) ? screen() : null), "the failing frame");
    rmSync(broken);
    await daemon.call("evaluate");
    const held = await waitFor(() => (screen().includes("promotion held:") ? screen() : null), "the held frame", 4000);
    expect(held).toContain("demotion 1048576: our bit (2^20: held by the hold-down; every check passes)");
    expect(held).not.toContain("a service check failed");
    const left = (text: string) => Number(/promotion held: (\d+) s left \(every check passing since \d\d:\d\d:\d\d\)/.exec(text)?.[1]);
    const first = left(held);
    expect(first).toBeGreaterThan(0);
    expect(first).toBeLessThanOrEqual(6);
    // It counts down with the daemon's polls, then the daemon promotes on its own when it ends.
    await waitFor(() => left(screen()) < first, "the countdown", 4000);
    const promoted = await waitFor(
      () => (screen().includes("demotion 0: nothing demotes this node") ? screen() : null),
      "the promotion",
      10_000,
    );
    expect(promoted).not.toContain("promotion held:");
    expect(promoted).toMatch(/frr_ospf\s+pass/);
  },
  30_000,
);

test("without a terminal, or with --json, --watch is a usage error that says what to use", async () => {
  sandbox = makeSandbox();
  const piped = await runCli(["status", "--watch", "--config", sandbox.configFile]);
  expect(piped.exitCode).toBe(2);
  expect(piped.stderr).toContain("status --watch needs a terminal; in scripts use status --json");
  const both = await runCli(["status", "--watch", "--json", "--config", sandbox.configFile]);
  expect(both.exitCode).toBe(2);
  expect(both.stderr).toContain("--watch and --json do not go together");
});
