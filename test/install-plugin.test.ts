/**
 * The GUI plugin os-carp-service-status as install lays it down: every file of
 * opnsense/sysutils/carp-service-status/src where the package puts it, byte for byte with its mode,
 * through the journal, and removed by uninstall; left alone when the package is installed; checked
 * by doctor; and the commands install prints for OPNsense to pick it up.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import {
  type CommandRunner,
  installNextSteps,
  pluginPostDeinstall,
  pluginPostInstall,
  runPackageScript,
  uninstallNextSteps,
} from "../src/cli/install.ts";
import { CONFIGD_PIDFILE, checkConfigdActions, checkPlugin } from "../src/doctor/install-checks.ts";
import { install } from "../src/install/install.ts";
import { LAYOUT, PLUGIN_FILES } from "../src/install/layout.ts";
import { PLUGIN_PACKAGE } from "../src/install/plugin.ts";
import { pluginTree } from "../src/install/plugin-files.ts";
import { uninstall } from "../src/install/uninstall.ts";
import { REPO } from "./helpers.ts";
import { cloneTree, opnsenseRoot, put, removeScratch, standInExecutable } from "./install-scenario.ts";
import { listTree, treeDiff } from "./tree-listing.ts";

afterAll(removeScratch);

const quiet = () => {};
const PLUGIN_SRC = join(REPO, "opnsense/sysutils/carp-service-status/src");

/** Every file of the plugin's src/ in the repository: path under /usr/local, mode by its execute bit, bytes. */
function repositoryPlugin(): { path: string; mode: number; bytes: Uint8Array }[] {
  const files: { path: string; mode: number; bytes: Uint8Array }[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else
        files.push({
          path: `usr/local/${relative(PLUGIN_SRC, path)}`,
          mode: statSync(path).mode & 0o100 ? 0o755 : 0o644,
          bytes: readFileSync(path),
        });
    }
  };
  walk(PLUGIN_SRC);
  return files.sort((a, b) => (a.path < b.path ? -1 : 1));
}

/** A node where the package os-carp-service-status is installed: its files (here: ours, one changed) and its version file. */
function withPackage(root: string): void {
  for (const file of pluginTree().files) put(root, file.path, file.text, file.mode);
  put(root, PLUGIN_FILES[0]!.path, "<?php\n// the package's newer file\n");
  put(root, LAYOUT.pluginVersion, '{"product_id": "os-carp-service-status"}\n');
}

function pluginLines(tree: string[]): string[] {
  return tree.filter((line) => PLUGIN_FILES.some((file) => line.includes(` ${file.path} `)) || line.includes(LAYOUT.pluginVersion));
}

describe("install lays down the GUI plugin", () => {
  test("every file of the plugin's src/, where its package puts it, byte for byte with its mode; uninstall removes them", () => {
    const root = opnsenseRoot();
    const before = listTree(root);
    const lines: string[] = [];
    const result = install({ root, executable: standInExecutable(), replaceStock: true }, (line) => lines.push(line));
    expect(result.plugin).toBe("ours");
    const expected = repositoryPlugin();
    expect(expected.map((file) => file.path)).toEqual(PLUGIN_FILES.map((file) => file.path));
    for (const file of expected) {
      expect(readFileSync(join(root, file.path)).equals(file.bytes), file.path).toBe(true);
      expect(statSync(join(root, file.path)).mode & 0o7777, file.path).toBe(file.mode);
      expect(lines).toContain(`Installed "${join(root, file.path)}" (mode 0${file.mode.toString(8)})`);
    }
    expect(expected.some((file) => file.mode === 0o755)).toBe(true);
    const manifest = JSON.parse(readFileSync(join(root, LAYOUT.manifest), "utf8"));
    for (const file of expected) {
      expect(manifest.files[file.path]).toEqual({
        sha256: new Bun.CryptoHasher("sha256").update(file.bytes).digest("hex"),
        mode: file.mode,
      });
    }
    expect(existsSync(join(root, LAYOUT.pluginVersion))).toBe(false);

    const removed: string[] = [];
    expect(uninstall({ root }, (line) => removed.push(line)).pluginRemoved).toBe(true);
    for (const file of expected) expect(removed).toContain(`Removed "${join(root, file.path)}"`);
    expect(treeDiff(before, listTree(root))).toEqual([]);
  });

  test("an install by an earlier version is brought up to date; run again, nothing changes", () => {
    const root = opnsenseRoot();
    const executable = standInExecutable();
    install({ root, executable, replaceStock: false }, quiet);
    const older = PLUGIN_FILES[1]!.path;
    writeFileSync(join(root, older), "<?php // an older page\n");
    const manifest = JSON.parse(readFileSync(join(root, LAYOUT.manifest), "utf8"));
    manifest.files[older].sha256 = new Bun.CryptoHasher("sha256").update("<?php // an older page\n").digest("hex");
    writeFileSync(join(root, LAYOUT.manifest), JSON.stringify(manifest));
    const lines: string[] = [];
    install({ root, executable, replaceStock: false }, (line) => lines.push(line));
    expect(lines).toContain(`Updated "${join(root, older)}" (mode 0644)`);
    expect(readFileSync(join(root, older), "utf8")).toBe(pluginTree().files[1]!.text);
    const settled = listTree(root, { mtimes: true });
    expect(install({ root, executable, replaceStock: false }, quiet).changes).toBe(0);
    expect(listTree(root, { mtimes: true })).toEqual(settled);
  });
});

describe("with the package os-carp-service-status installed", () => {
  test("install neither writes nor records its files and says so; uninstall leaves them", () => {
    const root = opnsenseRoot();
    withPackage(root);
    const packaged = pluginLines(listTree(root, { mtimes: true }));
    const lines: string[] = [];
    const result = install({ root, executable: standInExecutable(), replaceStock: true }, (line) => lines.push(line));
    expect(result.plugin).toBe("package");
    expect(lines).toContain(
      `The GUI plugin's files belong to the package ${PLUGIN_PACKAGE} (its version file "${join(root, LAYOUT.pluginVersion)}" is there): install neither writes nor records them`,
    );
    expect(pluginLines(listTree(root, { mtimes: true }))).toEqual(packaged);
    const manifest = JSON.parse(readFileSync(join(root, LAYOUT.manifest), "utf8"));
    expect(Object.keys(manifest.files).filter((path) => PLUGIN_FILES.some((file) => file.path === path))).toEqual([]);
    expect(existsSync(join(root, LAYOUT.binary))).toBe(true);

    const removed: string[] = [];
    expect(uninstall({ root }, (line) => removed.push(line)).pluginRemoved).toBe(false);
    expect(pluginLines(listTree(root, { mtimes: true }))).toEqual(packaged);
    expect(existsSync(join(root, LAYOUT.binary))).toBe(false);
  });

  test("installed over an install of ours (pkg replaced our files): install forgets them, and uninstall removes none", () => {
    const root = opnsenseRoot();
    const executable = standInExecutable();
    install({ root, executable, replaceStock: false }, quiet);
    withPackage(root);
    const packaged = pluginLines(listTree(root, { mtimes: true }));
    const lines: string[] = [];
    install({ root, executable, replaceStock: false }, (line) => lines.push(line));
    expect(lines).toContain(`Forgot "${join(root, PLUGIN_FILES[0]!.path)}": the package's now`);
    expect(lines).toContain(
      `Forgot directory "${join(root, "usr/local/opnsense/mvc/app/models/OPNsense/CarpServiceStatus")}": the package's now`,
    );
    const manifest = JSON.parse(readFileSync(join(root, LAYOUT.manifest), "utf8"));
    expect(Object.keys(manifest.files).filter((path) => PLUGIN_FILES.some((file) => file.path === path))).toEqual([]);
    expect(manifest.directories).not.toContain("usr/local/opnsense/mvc/app/models/OPNsense/CarpServiceStatus");
    uninstall({ root }, quiet);
    expect(pluginLines(listTree(root, { mtimes: true }))).toEqual(packaged);
  });

  test("uninstall right after pkg replaced our files (no install in between) removes none of them either", () => {
    const root = opnsenseRoot();
    install({ root, executable: standInExecutable(), replaceStock: false }, quiet);
    withPackage(root);
    const packaged = pluginLines(listTree(root));
    const lines: string[] = [];
    uninstall({ root }, (line) => lines.push(line));
    expect(lines).toContain(
      `The GUI plugin's files belong to the package ${PLUGIN_PACKAGE} (its version file "${join(root, LAYOUT.pluginVersion)}" is there): uninstall leaves them to pkg`,
    );
    expect(pluginLines(listTree(root))).toEqual(packaged);
  });

  test("a file of the plugin that install did not write is the package's too: the tree is left as it is", () => {
    const root = opnsenseRoot();
    const foreign = put(root, PLUGIN_FILES[3]!.path, "<?php // someone else's\n");
    const lines: string[] = [];
    expect(install({ root, executable: standInExecutable(), replaceStock: false }, (line) => lines.push(line)).plugin).toBe("package");
    expect(lines).toContain(
      `The GUI plugin's files belong to the package ${PLUGIN_PACKAGE} ("${foreign}" is there and install did not write it): install neither writes nor records them`,
    );
    expect(readFileSync(foreign, "utf8")).toBe("<?php // someone else's\n");
    expect(PLUGIN_FILES.filter((file) => existsSync(join(root, file.path)))).toHaveLength(1);
  });

  test("removed again by pkg: the next install puts the plugin back as its own", () => {
    const root = opnsenseRoot();
    const executable = standInExecutable();
    withPackage(root);
    install({ root, executable, replaceStock: false }, quiet);
    for (const path of [...PLUGIN_FILES.map((file) => file.path), LAYOUT.pluginVersion]) rmSync(join(root, path));
    expect(install({ root, executable, replaceStock: false }, quiet).plugin).toBe("ours");
    expect(checkPlugin(root).status).toBe("ok");
  });
});

describe("doctor's GUI plugin check", () => {
  test("not installed; in place; a file missing; a file changed in content or mode; the package's", () => {
    const root = opnsenseRoot();
    expect(checkPlugin(root)).toMatchObject({ check: "GUI plugin", status: "info", fix: "carp-service-status install" });
    put(root, "usr/local/libexec/carp-service-status/cli.js", "// the port's bundle\n");
    expect(checkPlugin(root)).toMatchObject({ status: "info", fix: `pkg install ${PLUGIN_PACKAGE}` });

    const installed = cloneTree(root);
    install({ root: installed, executable: standInExecutable(), replaceStock: false }, quiet);
    expect(checkPlugin(installed)).toEqual({
      check: "GUI plugin",
      status: "ok",
      detail: `its ${PLUGIN_FILES.length} files are in place as this version installs them: Services > CARP Service Status`,
      fix: null,
    });

    const missing = join(installed, PLUGIN_FILES[2]!.path);
    rmSync(missing);
    expect(checkPlugin(installed)).toEqual({
      check: "GUI plugin",
      status: "warn",
      detail: `of its ${PLUGIN_FILES.length} files, 1 missing ("${missing}")`,
      fix: "carp-service-status install",
    });
    install({ root: installed, executable: standInExecutable(), replaceStock: false }, quiet);
    const changed = join(installed, PLUGIN_FILES[4]!.path);
    writeFileSync(changed, "edited\n");
    chmodSync(join(installed, PLUGIN_FILES[5]!.path), 0o600);
    expect(checkPlugin(installed).detail).toBe(
      `of its ${PLUGIN_FILES.length} files, 2 not as this version installs them ("${changed}", "${join(installed, PLUGIN_FILES[5]!.path)}")`,
    );

    const packaged = opnsenseRoot();
    withPackage(packaged);
    expect(checkPlugin(packaged)).toEqual({
      check: "GUI plugin",
      status: "ok",
      detail: `the package ${PLUGIN_PACKAGE} is installed ("${join(packaged, LAYOUT.pluginVersion)}"): pkg check -s ${PLUGIN_PACKAGE} verifies its files`,
      fix: null,
    });
  });

  test("configd must have started after the GUI's actions were written too", () => {
    const root = opnsenseRoot();
    install({ root, executable: standInExecutable(), replaceStock: false }, quiet);
    const ours = join(root, LAYOUT.configdActions);
    const gui = join(root, PLUGIN_FILES.find((file) => file.path.endsWith("/actions_carpservicestatus.conf"))!.path);
    const pidfile = put(root, CONFIGD_PIDFILE, "1\n");
    const at = (seconds: number) => new Date(Date.now() + seconds * 1000);
    utimesSync(ours, at(-120), at(-120));
    utimesSync(pidfile, at(-60), at(-60));
    expect(checkConfigdActions(root)).toEqual({
      check: "configd actions",
      status: "warn",
      detail: `"${gui}" installed after configd started: configd does not know its actions yet`,
      fix: "service configd restart",
    });
    utimesSync(gui, at(-120), at(-120));
    expect(checkConfigdActions(root)).toMatchObject({
      status: "ok",
      detail: `"${ours}" and "${gui}" installed, and configd started after they were written`,
    });
  });
});

describe("OPNsense picks the plugin up: install runs what its package runs after installing", () => {
  /** A node's programs, as files under a scratch root; and a runner that records what it runs. */
  function node(options: { fail?: string; missing?: string } = {}) {
    const root = opnsenseRoot();
    for (const step of [...pluginPostInstall(), ...pluginPostDeinstall()]) {
      const program = step.command.split(" ")[0]!;
      if (program !== options.missing) put(root, program.slice(1), "#!/bin/sh\n", 0o755);
    }
    const ran: string[] = [];
    const run: CommandRunner = async (argv) => {
      ran.push(argv.join(" "));
      return argv.join(" ") === options.fail ? { exitCode: 1, output: "PHP Fatal error: boom\n" } : { exitCode: 0, output: "done.\n" };
    };
    const lines: string[] = [];
    return { root, ran, run, lines, report: (line: string) => lines.push(line) };
  }

  test("the package's +POST_INSTALL: configd, the one-time import, the caches and syslog, the template; each reported with its output", async () => {
    const t = node();
    await runPackageScript(pluginPostInstall(), { script: "installed", root: t.root, report: t.report, run: t.run });
    expect(t.ran).toEqual([
      "/usr/local/etc/rc.d/configd restart",
      "/usr/local/opnsense/mvc/script/run_migrations.php OPNsense/CarpServiceStatus",
      "/usr/local/etc/rc.configure_plugins POST_INSTALL",
      "/usr/local/sbin/configctl template reload OPNsense/CarpServiceStatus",
    ]);
    expect(t.lines[0]).toBe(`Running what the package ${PLUGIN_PACKAGE} runs after it is installed:`);
    expect(t.lines).toContain(
      "  /usr/local/opnsense/mvc/script/run_migrations.php OPNsense/CarpServiceStatus    # the one-time import: carp_service_status.toml and the enable switch into config.xml",
    );
    expect(t.lines.filter((line) => line === "    done.")).toHaveLength(4);
  });

  test("a program that is not there is skipped, as the package's `if [ -f ... ]` does", async () => {
    const t = node({ missing: "/usr/local/sbin/configctl" });
    await runPackageScript(pluginPostInstall(), { script: "installed", root: t.root, report: t.report, run: t.run });
    expect(t.ran).toHaveLength(3);
    expect(t.lines).toContain(
      '  skipped (no "/usr/local/sbin/configctl"): /usr/local/sbin/configctl template reload OPNsense/CarpServiceStatus',
    );
  });

  test("a command that fails stops the rest, and the error names what is left to run", async () => {
    const failing = "/usr/local/opnsense/mvc/script/run_migrations.php OPNsense/CarpServiceStatus";
    const t = node({ fail: failing });
    const run = runPackageScript(pluginPostInstall(), { script: "installed", root: t.root, report: t.report, run: t.run });
    await expect(run).rejects.toThrow(
      `"${failing}" failed (exit status 1); the files are in place: run the rest by hand, then doctor:\n  ${failing}\n  /usr/local/etc/rc.configure_plugins POST_INSTALL\n  /usr/local/sbin/configctl template reload OPNsense/CarpServiceStatus`,
    );
    expect(t.ran).toHaveLength(2);
    expect(t.lines).toContain("    PHP Fatal error: boom");
  });

  test("what is left to the admin: enable in the GUI (it owns rc.conf.d); configd only for the package's plugin; a restart for a new executable", () => {
    const ours = installNextSteps({ changes: 1, executableChanged: true, plugin: "ours" }).join("\n");
    expect(ours).toContain("Services > CARP Service Status > Settings: check the imported settings, tick Enable and Apply");
    expect(ours).toContain("service carp_service_status restart");
    expect(ours).not.toContain("sysrc");
    expect(ours).not.toContain("configd restart");
    const packaged = installNextSteps({ changes: 0, executableChanged: false, plugin: "package" }).join("\n");
    expect(packaged).toContain("/usr/local/etc/rc.d/configd restart");
    expect(packaged).not.toContain("service carp_service_status restart");
    expect(uninstallNextSteps().join("\n")).toContain("/usr/local/etc/rc.d/configd restart");
  });
});
