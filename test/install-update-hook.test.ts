/**
 * Surviving firmware updates: install --replace-stock adds an rc.syshook.d/update hook; after a
 * simulated core update (the stock script reinstalled over the shim, as pkg does) the hook, run by
 * a real shell with the command line's install behind it, puts the shim back and keeps the new
 * stock script, which uninstall then restores byte for byte. Run again it changes nothing; with
 * our executable gone it does nothing; it passes shellcheck.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { chownSync, existsSync, readFileSync, renameSync, rmSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { install, observeInstall, planAfterFirmwareUpdate, reinstateShim } from "../src/install/install.ts";
import { LAYOUT, NODE_PATHS, type NodePaths } from "../src/install/layout.ts";
import { isShim } from "../src/install/templates.ts";
import { uninstall } from "../src/install/uninstall.ts";
import { renderUpdateHook } from "../src/install/update-hook.ts";
import { FIXTURES, REPO } from "./helpers.ts";
import { brokenStockScript, cloneTree, opnsenseRoot, put, removeScratch, scratch, standInExecutable } from "./install-scenario.ts";
import { tool } from "./tools.ts";
import { listTree, treeDiff } from "./tree-listing.ts";

afterAll(removeScratch);

/** Where roots go whose files run (the hook, the executable it calls): a tmpfs may be mounted noexec. */
const EXEC_BASE = tmpdir();

const SHELLCHECK = tool("shellcheck", "shellcheck");
const quiet = () => {};

/** The stock script a core update brings: newer bytes, pkg's mode and owner, a fixed time. */
const NEWER_STOCK = Buffer.from("#!/usr/local/bin/php\n<?php\n// stock carp_service_status of 26.7\n");
const NEWER_MODE = 0o555;

/** What pkg does to a file of core's it upgrades: a temporary file renamed over the old one. */
function coreUpdate(root: string): void {
  const temporary = put(root, "usr/local/sbin/.pkgtemp.carp_service_status", NEWER_STOCK, NEWER_MODE);
  chownSync(temporary, 0, 0);
  utimesSync(temporary, new Date("2026-07-01T00:00:00Z"), new Date("2026-07-01T00:00:00Z"));
  renameSync(temporary, join(root, LAYOUT.stockScript));
}

/**
 * An executable standing in for ours, as install copies it: the command line from the sources,
 * under this root. It records each call in CALLS beside the root, so a test sees whether it ran.
 */
function forwardingExecutable(root: string): string {
  const calls = `${root}.calls`;
  return standInExecutable(
    `#!/bin/sh\necho "$*" >>${calls}\nexec ${process.execPath} ${join(REPO, "src/cli.ts")} "$@" --root ${root}\n`,
    EXEC_BASE,
  );
}

function calls(root: string): string[] {
  return existsSync(`${root}.calls`) ? readFileSync(`${root}.calls`, "utf8").split("\n").filter(Boolean) : [];
}

/** The hook as install renders it, with the node's paths under the scratch root and a fake logger. */
function hookUnder(root: string): { hook: string; syslog: () => string[] } {
  const dir = scratch("carp-hook-", EXEC_BASE);
  symlinkSync(join(FIXTURES, "logger"), join(dir, "logger"));
  const paths: NodePaths = {
    ...NODE_PATHS,
    binary: join(root, LAYOUT.binary),
    stockScript: join(root, LAYOUT.stockScript),
    logger: join(dir, "logger"),
  };
  const hook = put(dir, "50-carp-service-status", renderUpdateHook(paths), 0o755);
  const syslog = () => (existsSync(join(dir, "syslog")) ? readFileSync(join(dir, "syslog"), "utf8").split("\n").filter(Boolean) : []);
  return { hook, syslog };
}

/** Runs the hook as rc.syshook does: executed itself, with no arguments and rc.syshook's PATH. */
async function runHook(hook: string) {
  const proc = Bun.spawn([hook], {
    stdout: "pipe",
    stderr: "pipe",
    env: { PATH: "/sbin:/bin:/usr/sbin:/usr/bin:/usr/local/bin:/usr/local/sbin", HOME: "/root" },
  });
  const [stdout, stderr, exitCode] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { stdout, stderr, exitCode };
}

function manifestOf(root: string) {
  return JSON.parse(readFileSync(join(root, LAYOUT.manifest), "utf8"));
}

describe("install --replace-stock and the firmware update hook", () => {
  test("install --replace-stock puts the hook in rc.syshook.d/update, tracked; plain install neither adds nor drops it", () => {
    const root = opnsenseRoot();
    const executable = standInExecutable();
    install({ root, executable, replaceStock: false }, quiet);
    expect(existsSync(join(root, LAYOUT.updateHook))).toBe(false);
    const lines: string[] = [];
    install({ root, executable, replaceStock: true }, (line) => lines.push(line));
    expect(lines).toContain(`Installed "${join(root, LAYOUT.updateHook)}" (mode 0755)`);
    expect(readFileSync(join(root, LAYOUT.updateHook), "utf8")).toBe(renderUpdateHook());
    expect(LAYOUT.updateHook).toStartWith("usr/local/etc/rc.syshook.d/update/");
    expect(manifestOf(root).files[LAYOUT.updateHook]).toEqual({
      sha256: new Bun.CryptoHasher("sha256").update(renderUpdateHook()).digest("hex"),
      mode: 0o755,
    });
    const before = listTree(root, { mtimes: true });
    install({ root, executable, replaceStock: false }, quiet);
    expect(listTree(root, { mtimes: true })).toEqual(before);
  });

  test("a plain install over a shim put in place by an earlier version adds the hook: the shim needs it", () => {
    const root = opnsenseRoot();
    const executable = standInExecutable();
    install({ root, executable, replaceStock: true }, quiet);
    // An install by a version without the hook: no hook, none in the manifest.
    rmSync(join(root, LAYOUT.updateHook));
    const manifest = manifestOf(root);
    delete manifest.files[LAYOUT.updateHook];
    writeFileSync(join(root, LAYOUT.manifest), JSON.stringify(manifest));
    install({ root, executable, replaceStock: false }, quiet);
    expect(readFileSync(join(root, LAYOUT.updateHook), "utf8")).toBe(renderUpdateHook());
  });

  test("uninstall removes the hook with the rest", () => {
    const root = opnsenseRoot();
    const before = listTree(root);
    install({ root, executable: standInExecutable(), replaceStock: true }, quiet);
    uninstall({ root }, quiet);
    expect(existsSync(join(root, LAYOUT.updateHook))).toBe(false);
    expect(treeDiff(before, listTree(root))).toEqual([]);
  });

  test.skipIf(!SHELLCHECK)("the hook passes shellcheck and is valid sh", async () => {
    expect(SHELLCHECK, "shellcheck (apt-get install shellcheck; .ci/run does)").not.toBeNull();
    const hook = put(scratch("carp-hook-"), "50-carp-service-status", renderUpdateHook(), 0o755);
    const lint = Bun.spawnSync([SHELLCHECK!, "-s", "sh", hook], { stdout: "pipe" });
    expect(lint.stdout.toString()).toBe("");
    expect(lint.exitCode).toBe(0);
    expect(Bun.spawnSync(["/bin/sh", "-n", hook]).exitCode).toBe(0);
  });
});

describe("after a simulated core update", () => {
  test("the hook puts the shim back, keeps the new stock script; run again it changes nothing; uninstall restores the newest stock script byte for byte", async () => {
    const root = opnsenseRoot(EXEC_BASE);
    // The node as it would be had the update come without us: what uninstall must give back.
    const expected = cloneTree(root);
    coreUpdate(expected);
    install({ root, executable: forwardingExecutable(root), replaceStock: true }, quiet);
    const { hook, syslog } = hookUnder(root);

    coreUpdate(root);
    expect(readFileSync(join(root, LAYOUT.stockScript))).toEqual(NEWER_STOCK);
    const first = await runHook(hook);
    expect(first.stderr).toBe("");
    expect(first.exitCode).toBe(0);
    expect(first.stdout).toContain(
      `Kept the stock script "${join(root, LAYOUT.stockScript)}" as "${join(root, LAYOUT.keptStock)}", replacing the copy kept before (a firmware update had reinstalled the stock script)`,
    );
    expect(isShim(readFileSync(join(root, LAYOUT.stockScript), "utf8"))).toBe(true);
    expect(brokenStockScript(root)).toBeNull();
    expect(readFileSync(join(root, LAYOUT.keptStock))).toEqual(NEWER_STOCK);
    expect(manifestOf(root)).toMatchObject({
      stock: { sha256: new Bun.CryptoHasher("sha256").update(NEWER_STOCK).digest("hex"), mode: NEWER_MODE, uid: 0, gid: 0 },
      pending: null,
    });
    expect(calls(root)).toEqual(["install --after-firmware-update"]);
    expect(syslog()).toEqual([
      `carp-service-status daemon.notice: the firmware update put the stock ${join(root, LAYOUT.stockScript)} back: the shim is in its place again, and the new stock script is kept for uninstall`,
    ]);

    const settled = listTree(root, { mtimes: true });
    for (let i = 0; i < 2; i++) {
      const again = await runHook(hook);
      expect(again).toEqual({ stdout: "", stderr: "", exitCode: 0 });
    }
    expect(listTree(root, { mtimes: true })).toEqual(settled);
    expect(calls(root)).toHaveLength(1);
    expect(syslog()).toHaveLength(1);

    uninstall({ root }, quiet);
    expect(treeDiff(listTree(expected), listTree(root))).toEqual([]);
  });

  test("two updates in a row: uninstall restores the second one's stock script", async () => {
    const root = opnsenseRoot(EXEC_BASE);
    install({ root, executable: forwardingExecutable(root), replaceStock: true }, quiet);
    const { hook } = hookUnder(root);
    coreUpdate(root);
    expect((await runHook(hook)).exitCode).toBe(0);
    const latest = Buffer.from("#!/usr/local/bin/php\n<?php\n// stock carp_service_status of 27.1\n");
    const temporary = put(root, "usr/local/sbin/.pkgtemp.carp_service_status", latest, 0o755);
    renameSync(temporary, join(root, LAYOUT.stockScript));
    expect((await runHook(hook)).exitCode).toBe(0);
    expect(isShim(readFileSync(join(root, LAYOUT.stockScript), "utf8"))).toBe(true);
    uninstall({ root }, quiet);
    expect(readFileSync(join(root, LAYOUT.stockScript))).toEqual(latest);
    expect(existsSync(join(root, LAYOUT.keptStock))).toBe(false);
  });

  test("with our executable gone the hook does nothing: the stock script stays", async () => {
    const root = opnsenseRoot(EXEC_BASE);
    install({ root, executable: forwardingExecutable(root), replaceStock: true }, quiet);
    const { hook, syslog } = hookUnder(root);
    rmSync(join(root, LAYOUT.binary));
    coreUpdate(root);
    const before = listTree(root, { mtimes: true });
    expect(await runHook(hook)).toEqual({ stdout: "", stderr: "", exitCode: 0 });
    expect(listTree(root, { mtimes: true })).toEqual(before);
    expect(calls(root)).toEqual([]);
    expect(syslog()).toEqual([]);
  });

  test("when the executable fails, the hook says so in syslog and exits 1, and the stock script keeps working", async () => {
    const root = opnsenseRoot(EXEC_BASE);
    install(
      { root, executable: standInExecutable("#!/bin/sh\necho 'cannot run here' >&2\nexit 3\n", EXEC_BASE), replaceStock: true },
      quiet,
    );
    const { hook, syslog } = hookUnder(root);
    coreUpdate(root);
    const result = await runHook(hook);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toBe("cannot run here\n");
    expect(readFileSync(join(root, LAYOUT.stockScript))).toEqual(NEWER_STOCK);
    expect(syslog()).toEqual([
      `carp-service-status daemon.err: the firmware update put the stock ${join(root, LAYOUT.stockScript)} back and the shim could not replace it again: the stock script runs, not the daemon; run carp-service-status install --replace-stock`,
    ]);
  });
});

describe("install --after-firmware-update", () => {
  test("without a kept stock script (installed without --replace-stock) it changes nothing and says why", () => {
    const root = opnsenseRoot();
    install({ root, executable: standInExecutable(), replaceStock: false }, quiet);
    const before = listTree(root, { mtimes: true });
    const lines: string[] = [];
    expect(reinstateShim({ root }, (line) => lines.push(line))).toBe(0);
    expect(lines).toEqual([
      `No stock script is kept aside (install ran without --replace-stock, or uninstall put it back): "${join(root, LAYOUT.stockScript)}" is left as is`,
      `Unchanged manifest "${join(root, LAYOUT.manifest)}"`,
    ]);
    expect(listTree(root, { mtimes: true })).toEqual(before);
  });

  test("writes nothing but the kept copy, the shim and the manifest", () => {
    const root = opnsenseRoot();
    install({ root, executable: standInExecutable(), replaceStock: true }, quiet);
    coreUpdate(root);
    // A file install would rewrite: the hook's run must leave it.
    writeFileSync(join(root, LAYOUT.rcScript), "#!/bin/sh\n# edited\n");
    const actions = planAfterFirmwareUpdate(observeInstall(root));
    expect(actions.flatMap((a) => (a.kind === "step" ? [a.step.op] : []))).toEqual(["keep-stock", "write"]);
    reinstateShim({ root }, quiet);
    expect(readFileSync(join(root, LAYOUT.rcScript), "utf8")).toBe("#!/bin/sh\n# edited\n");
  });

  test("from the command line it takes no other install option", async () => {
    const root = opnsenseRoot();
    const proc = Bun.spawn(
      [process.execPath, join(REPO, "src/cli.ts"), "install", "--after-firmware-update", "--replace-stock", "--root", root],
      {
        stdout: "pipe",
        stderr: "pipe",
      },
    );
    const [stderr, exitCode] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
    expect(stderr).toBe("carp-service-status: --after-firmware-update takes no --replace-stock: it only puts the shim back\n");
    expect(exitCode).toBe(2);
  });
});
