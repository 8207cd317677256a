/** install/uninstall in-process into scratch roots, with a stand-in executable. */
import { afterEach, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { compiledExecutable } from "../src/cli/install.ts";
import { CarpError } from "../src/common/errors.ts";
import { DEFAULT_CONFIG_FILE } from "../src/config/defaults.ts";
import type { FileState } from "../src/install/file-ops.ts";
import { type DesiredFile, type InstallObservation, type InstallOptions, install, planInstall } from "../src/install/install.ts";
import { ancestors, LAYOUT, PLUGIN_FILES } from "../src/install/layout.ts";
import { emptyManifest } from "../src/install/manifest.ts";
import { isShim, renderMonitorHook, renderShim, renderSyshook } from "../src/install/templates.ts";
import { uninstall } from "../src/install/uninstall.ts";
import { REPO, runCli } from "./helpers.ts";
import { SCRATCH_BASE } from "./install-scenario.ts";
import { listTree } from "./tree-listing.ts";

// Not valid UTF-8 on purpose: the stock script must come back byte for byte, not via a string.
const STOCK = Buffer.concat([
  Buffer.from("#!/usr/local/bin/php\n<?php\n// stock carp_service_status\n"),
  Buffer.from([0xff, 0xfe, 0x00, 0x0a]),
]);
const STOCK_MODE = 0o750;

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function scratch(prefix: string): string {
  const dir = mkdtempSync(join(SCRATCH_BASE, prefix));
  chmodSync(dir, 0o755);
  dirs.push(dir);
  return dir;
}

function put(root: string, path: string, content: string | Buffer, mode = 0o644): string {
  const file = join(root, path);
  mkdirSync(dirname(file), { recursive: true, mode: 0o755 });
  writeFileSync(file, content);
  chmodSync(file, mode);
  return file;
}

/** A scratch root, optionally with an OPNsense-like stock script; and a stand-in executable. */
function setup(options: { stock?: boolean } = {}) {
  const root = scratch("carp-root-");
  const executable = put(scratch("carp-exe-"), "carp-service-status", "#!/bin/sh\necho stand-in executable\n", 0o755);
  if (options.stock) {
    const stock = put(root, LAYOUT.stockScript, STOCK, STOCK_MODE);
    utimesSync(stock, new Date("2024-01-02T03:04:05Z"), new Date("2024-01-02T03:04:05Z"));
  }
  const lines: string[] = [];
  const run = (extra: Partial<InstallOptions> = {}) => {
    lines.length = 0;
    return install({ root, executable, replaceStock: false, ...extra }, (line) => lines.push(line));
  };
  const remove = () => {
    lines.length = 0;
    return uninstall({ root }, (line) => lines.push(line));
  };
  return { root, executable, lines, install: run, uninstall: remove, read: (path: string) => readFileSync(join(root, path)) };
}

function modeOf(root: string, path: string): string {
  return (statSync(join(root, path)).mode & 0o7777).toString(8);
}

function carpError(fn: () => unknown): CarpError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(CarpError);
    return error as CarpError;
  }
  throw new Error("expected a CarpError");
}

describe("install", () => {
  test("puts the executable, rc.d script, configd actions, sample, GUI plugin and manifest in place with their modes", () => {
    const t = setup();
    const result = t.install();
    const plugin = PLUGIN_FILES.flatMap((file) => [
      `f 0${file.mode.toString(8)} ${file.path}`,
      ...ancestors(file.path).map((dir) => `d 0755 ${dir}`),
    ]);
    const tree = listTree(t.root).map((line) => line.split(" ").slice(0, 3).join(" "));
    expect(PLUGIN_FILES.length).toBeGreaterThan(10);
    expect(tree.sort()).toEqual(
      [
        ...new Set([
          "d 0755 usr",
          "d 0755 usr/local",
          "d 0755 usr/local/bin",
          "f 0755 usr/local/bin/carp-service-status",
          "d 0755 usr/local/etc",
          "f 0644 usr/local/etc/carp_service_status.toml.sample",
          "d 0755 usr/local/etc/rc.d",
          "f 0755 usr/local/etc/rc.d/carp_service_status",
          "d 0755 usr/local/etc/rc.syshook.d",
          "d 0755 usr/local/etc/rc.syshook.d/carp",
          "f 0755 usr/local/etc/rc.syshook.d/carp/50-carp-service-status",
          "d 0755 usr/local/etc/rc.syshook.d/monitor",
          "f 0755 usr/local/etc/rc.syshook.d/monitor/50-carp-service-status",
          "d 0755 usr/local/opnsense",
          "d 0755 usr/local/opnsense/service",
          "d 0755 usr/local/opnsense/service/conf",
          "d 0755 usr/local/opnsense/service/conf/actions.d",
          "f 0644 usr/local/opnsense/service/conf/actions.d/actions_carp_service_status.conf",
          "d 0755 usr/local/share",
          "d 0755 usr/local/share/carp-service-status",
          "f 0644 usr/local/share/carp-service-status/install.json",
          ...plugin,
        ]),
      ].sort(),
    );
    expect(t.read(LAYOUT.binary)).toEqual(readFileSync(t.executable));
    expect(t.read(LAYOUT.rcScript).toString()).toContain('program="/usr/local/bin/carp-service-status"');
    expect(result.changes).toBeGreaterThan(0);
    expect(result.executableChanged).toBe(true);
    expect(t.lines).toContain(`Installed "${join(t.root, LAYOUT.binary)}" (mode 0755)`);
    expect(t.lines).toContain(`Created directory "${join(t.root, "usr")}"`);
    expect(t.lines).toContain(`Wrote manifest "${join(t.root, LAYOUT.manifest)}"`);
  });

  test("the manifest lists every file with its sha256 and the directories it created", () => {
    const t = setup();
    t.install();
    const manifest = JSON.parse(t.read(LAYOUT.manifest).toString());
    expect(Object.keys(manifest.files).sort()).toEqual(
      [
        LAYOUT.binary,
        LAYOUT.rcScript,
        LAYOUT.configdActions,
        LAYOUT.sampleConfig,
        LAYOUT.syshook,
        LAYOUT.monitorHook,
        ...PLUGIN_FILES.map((f) => f.path),
      ].sort(),
    );
    const sha = new Bun.CryptoHasher("sha256").update(readFileSync(t.executable)).digest("hex");
    expect(manifest.files[LAYOUT.binary]).toEqual({ sha256: sha, mode: 0o755 });
    expect(manifest.directories).toContain("usr");
    expect(manifest.directories).toContain(LAYOUT.dataDir);
    expect(manifest.stock).toBeNull();
  });

  test("installs the CARP event hook where OPNsense runs it, tracked like every other file", () => {
    const t = setup();
    t.install();
    expect(t.read(LAYOUT.syshook).toString()).toBe(renderSyshook());
    expect(modeOf(t.root, LAYOUT.syshook)).toBe("755");
    expect(LAYOUT.syshook).toStartWith("usr/local/etc/rc.syshook.d/carp/");
    const manifest = JSON.parse(t.read(LAYOUT.manifest).toString());
    expect(manifest.files[LAYOUT.syshook]).toEqual({
      sha256: new Bun.CryptoHasher("sha256").update(renderSyshook()).digest("hex"),
      mode: 0o755,
    });
    expect(manifest.directories).toEqual(expect.arrayContaining(["usr/local/etc/rc.syshook.d", "usr/local/etc/rc.syshook.d/carp"]));
    expect(t.lines).toContain(`Installed "${join(t.root, LAYOUT.syshook)}" (mode 0755)`);
  });

  test("uninstall removes the CARP event hook, and leaves OPNsense's own carp hooks and directory", () => {
    const t = setup();
    put(t.root, "usr/local/etc/rc.syshook.d/carp/20-openvpn", "#!/usr/local/bin/php\n", 0o755);
    const before = listTree(t.root);
    t.install();
    t.uninstall();
    expect(t.lines).toContain(`Removed "${join(t.root, LAYOUT.syshook)}"`);
    expect(listTree(t.root)).toEqual(before);
  });

  test("installs the gateway alarm hook where rc.syshook monitor runs it, tracked like every other file", () => {
    const t = setup();
    t.install();
    expect(t.read(LAYOUT.monitorHook).toString()).toBe(renderMonitorHook());
    expect(modeOf(t.root, LAYOUT.monitorHook)).toBe("755");
    expect(LAYOUT.monitorHook).toBe("usr/local/etc/rc.syshook.d/monitor/50-carp-service-status");
    const manifest = JSON.parse(t.read(LAYOUT.manifest).toString());
    expect(manifest.files[LAYOUT.monitorHook]).toEqual({
      sha256: new Bun.CryptoHasher("sha256").update(renderMonitorHook()).digest("hex"),
      mode: 0o755,
    });
    expect(manifest.directories).toContain("usr/local/etc/rc.syshook.d/monitor");
    expect(t.lines).toContain(`Installed "${join(t.root, LAYOUT.monitorHook)}" (mode 0755)`);
  });

  test("uninstall removes the gateway alarm hook, and leaves OPNsense's own monitor hook and directory", () => {
    const t = setup();
    put(t.root, "usr/local/etc/rc.syshook.d/monitor/20-recover", "#!/usr/local/bin/php\n", 0o755);
    const before = listTree(t.root);
    t.install();
    t.uninstall();
    expect(t.lines).toContain(`Removed "${join(t.root, LAYOUT.monitorHook)}"`);
    expect(listTree(t.root)).toEqual(before);
  });

  test("a second install changes nothing and says so", () => {
    const t = setup({ stock: true });
    t.install({ replaceStock: true });
    const before = listTree(t.root, { mtimes: true });
    const result = t.install({ replaceStock: true });
    expect(result.changes).toBe(0);
    expect(result.executableChanged).toBe(false);
    expect(listTree(t.root, { mtimes: true })).toEqual(before);
    expect(t.lines).toContain(`Unchanged "${join(t.root, LAYOUT.binary)}"`);
    expect(t.lines).toContain(`Unchanged "${join(t.root, LAYOUT.stockScript)}"`);
    expect(t.lines).toContain(`Unchanged manifest "${join(t.root, LAYOUT.manifest)}"`);
    expect(t.lines.filter((line) => /^(Installed|Updated|Created|Wrote|Kept|Set mode)/.test(line))).toEqual([]);
  });

  test("repairs a file changed after install and says so", () => {
    const t = setup();
    t.install();
    writeFileSync(join(t.root, LAYOUT.rcScript), "#!/bin/sh\n# edited\n");
    chmodSync(join(t.root, LAYOUT.configdActions), 0o600);
    const result = t.install();
    expect(result.changes).toBe(2);
    expect(t.read(LAYOUT.rcScript).toString()).toContain("PROVIDE: carp_service_status");
    expect(modeOf(t.root, LAYOUT.configdActions)).toBe("644");
    expect(t.lines).toContain(`Updated "${join(t.root, LAYOUT.rcScript)}" (mode 0755)`);
    expect(t.lines).toContain(`Set mode 0644 on "${join(t.root, LAYOUT.configdActions)}"`);
  });

  test("never touches an existing config, and says it is there", () => {
    const t = setup();
    const config = put(t.root, LAYOUT.config, 'hooksDir = "/mine"\n', 0o600);
    const before = statSync(config);
    t.install();
    t.uninstall();
    expect(readFileSync(config, "utf8")).toBe('hooksDir = "/mine"\n');
    expect(statSync(config).mtimeMs).toBe(before.mtimeMs);
    expect(modeOf(t.root, LAYOUT.config)).toBe("600");
    expect(`/${LAYOUT.config}`).toBe(DEFAULT_CONFIG_FILE);
  });

  test("an edited sample is left alone by install and by uninstall", () => {
    const t = setup();
    t.install();
    writeFileSync(join(t.root, LAYOUT.sampleConfig), "# my notes\n");
    t.install();
    expect(t.read(LAYOUT.sampleConfig).toString()).toBe("# my notes\n");
    expect(t.lines.some((line) => line.startsWith(`Left "${join(t.root, LAYOUT.sampleConfig)}" as is`))).toBe(true);
    t.uninstall();
    expect(t.read(LAYOUT.sampleConfig).toString()).toBe("# my notes\n");
    expect(t.lines).toContain(`Left "${join(t.root, LAYOUT.sampleConfig)}" as is: it changed since install`);
  });

  test("a sample that still matches what was written is rewritten", () => {
    const t = setup();
    t.install();
    // As an older version's sample would be: recorded in the manifest, different from today's.
    const manifestPath = join(t.root, LAYOUT.manifest);
    const manifest = JSON.parse(readFileSync(manifestPath, "utf8"));
    const old = "# an older sample\n";
    writeFileSync(join(t.root, LAYOUT.sampleConfig), old);
    manifest.files[LAYOUT.sampleConfig].sha256 = new Bun.CryptoHasher("sha256").update(old).digest("hex");
    writeFileSync(manifestPath, JSON.stringify(manifest));
    t.install();
    expect(t.read(LAYOUT.sampleConfig).toString()).toContain("# hooksDir = ");
    expect(t.lines).toContain(`Updated "${join(t.root, LAYOUT.sampleConfig)}" (mode 0644)`);
  });
});

describe("--replace-stock", () => {
  test("keeps the stock script aside and puts the shim in its place", () => {
    const t = setup({ stock: true });
    t.install({ replaceStock: true });
    expect(isShim(t.read(LAYOUT.stockScript).toString())).toBe(true);
    expect(modeOf(t.root, LAYOUT.stockScript)).toBe("755");
    expect(t.read(LAYOUT.keptStock)).toEqual(STOCK);
    expect(modeOf(t.root, LAYOUT.keptStock)).toBe(STOCK_MODE.toString(8));
    const manifest = JSON.parse(t.read(LAYOUT.manifest).toString());
    expect(manifest.stock).toMatchObject({ mode: STOCK_MODE, uid: 0, gid: 0 });
    expect(t.lines).toContain(`Kept the stock script "${join(t.root, LAYOUT.stockScript)}" as "${join(t.root, LAYOUT.keptStock)}"`);
  });

  test("re-running install never keeps our own shim as the stock script", () => {
    const t = setup({ stock: true });
    t.install({ replaceStock: true });
    t.install({ replaceStock: true });
    t.install({ replaceStock: false });
    expect(t.read(LAYOUT.keptStock)).toEqual(STOCK);
    expect(t.lines.some((line) => line.startsWith(`Shim "${join(t.root, LAYOUT.stockScript)}" left in place`))).toBe(true);
  });

  test("uninstall restores the stock script byte for byte, with its mode and mtime", () => {
    const t = setup({ stock: true });
    const before = listTree(t.root, { mtimes: true });
    t.install({ replaceStock: true });
    t.uninstall();
    expect(t.read(LAYOUT.stockScript)).toEqual(STOCK);
    expect(listTree(t.root, { mtimes: true }).filter((line) => line.includes(LAYOUT.stockScript))).toEqual(
      before.filter((line) => line.includes(LAYOUT.stockScript)),
    );
    expect(t.lines[0]).toBe(`Restored the stock script "${join(t.root, LAYOUT.stockScript)}" from "${join(t.root, LAYOUT.keptStock)}"`);
  });

  test("without a stock script it fails before writing anything", () => {
    const t = setup();
    const error = carpError(() => t.install({ replaceStock: true }));
    expect(error.code).toBe("usage");
    expect(error.message).toBe(
      `No stock script "${join(t.root, LAYOUT.stockScript)}" to replace; is "${t.root}" an OPNsense root? Run install without --replace-stock`,
    );
    expect(listTree(t.root)).toEqual([]);
  });

  test("a firmware update that replaced the shim is left in place by uninstall, and the kept copy dropped", () => {
    const t = setup({ stock: true });
    const before = listTree(t.root).filter((line) => !line.includes(LAYOUT.stockScript));
    t.install({ replaceStock: true });
    put(t.root, LAYOUT.stockScript, "#!/usr/local/bin/php\n<?php // 25.7 stock\n", 0o755);
    t.uninstall();
    expect(t.read(LAYOUT.stockScript).toString()).toBe("#!/usr/local/bin/php\n<?php // 25.7 stock\n");
    expect(t.lines[0]).toStartWith(`Left "${join(t.root, LAYOUT.stockScript)}" as is: it is no longer our shim`);
    expect(t.lines).toContain(`Removed the kept stock copy "${join(t.root, LAYOUT.keptStock)}"`);
    expect(listTree(t.root).filter((line) => !line.includes(LAYOUT.stockScript))).toEqual(before);
  });

  test("installing again after a firmware update keeps the new stock script instead", () => {
    const t = setup({ stock: true });
    t.install({ replaceStock: true });
    const updated = Buffer.from("#!/usr/local/bin/php\n<?php // 25.7 stock\n");
    put(t.root, LAYOUT.stockScript, updated, 0o755);
    t.install({ replaceStock: true });
    expect(t.read(LAYOUT.keptStock)).toEqual(updated);
    expect(t.lines.some((line) => line.includes("replacing the copy kept before"))).toBe(true);
    t.uninstall();
    expect(t.read(LAYOUT.stockScript)).toEqual(updated);
  });

  test("uninstall refuses, removing nothing, when the kept copy is gone", () => {
    const t = setup({ stock: true });
    t.install({ replaceStock: true });
    rmSync(join(t.root, LAYOUT.keptStock));
    const before = listTree(t.root);
    const error = carpError(() => t.uninstall());
    expect(error.message).toStartWith(`Cannot restore the stock script: its kept copy "${join(t.root, LAYOUT.keptStock)}" is missing`);
    expect(listTree(t.root)).toEqual(before);
  });
});

describe("uninstall", () => {
  test("leaves the root exactly as it was before install", () => {
    const t = setup({ stock: true });
    // Things that were there before and must stay: a config, another tool, another action.
    put(t.root, LAYOUT.config, 'logLevel = "debug"\n', 0o640);
    put(t.root, "usr/local/bin/other-tool", "#!/bin/sh\n", 0o755);
    put(t.root, "usr/local/opnsense/service/conf/actions.d/actions_interface.conf", "[update.carp.service_status]\n");
    const before = listTree(t.root);
    t.install({ replaceStock: true });
    expect(listTree(t.root)).not.toEqual(before);
    t.uninstall();
    expect(listTree(t.root)).toEqual(before);
  });

  test("keeps a directory it created when something else now lives in it", () => {
    const t = setup();
    t.install();
    put(t.root, "usr/local/share/carp-service-status/notes.txt", "mine\n");
    t.uninstall();
    expect(t.lines).toContain(`Left directory "${join(t.root, LAYOUT.dataDir)}" in place: not empty`);
    expect(listTree(t.root).map((line) => line.split(" ")[2])).toEqual([
      "usr",
      "usr/local",
      "usr/local/share",
      "usr/local/share/carp-service-status",
      "usr/local/share/carp-service-status/notes.txt",
    ]);
  });

  test("a second uninstall finds nothing to do and says so", () => {
    const t = setup();
    t.install();
    t.uninstall();
    const { changes } = t.uninstall();
    expect(changes).toBe(0);
    expect(t.lines).toEqual([`Nothing to uninstall under "${t.root}": no manifest "${join(t.root, LAYOUT.manifest)}" (install writes it)`]);
  });

  test("removes files already deleted by hand without complaint", () => {
    const t = setup();
    t.install();
    rmSync(join(t.root, LAYOUT.rcScript));
    t.uninstall();
    expect(t.lines).toContain(`Already gone: "${join(t.root, LAYOUT.rcScript)}"`);
    expect(listTree(t.root)).toEqual([]);
  });

  test("refuses while the daemon runs, since its rc.d script would be gone", () => {
    const t = setup();
    t.install();
    put(t.root, "var/run/carp_service_status.pid", `${process.pid}\n`);
    const error = carpError(() => t.uninstall());
    expect(error.message).toBe(
      `The daemon is running (pid ${process.pid} in "${join(t.root, "var/run/carp_service_status.pid")}"); stop it first: service carp_service_status stop`,
    );
    expect(existsSync(join(t.root, LAYOUT.binary))).toBe(true);
  });

  test("refuses a manifest that names a path outside the layout", () => {
    const t = setup();
    t.install();
    const manifestPath = join(t.root, LAYOUT.manifest);
    const manifest = JSON.parse(readFileSync(manifestPath, "utf8"));
    manifest.files["etc/passwd"] = manifest.files[LAYOUT.binary];
    writeFileSync(manifestPath, JSON.stringify(manifest));
    const error = carpError(() => t.uninstall());
    expect(error.message).toStartWith(`Invalid install manifest "${manifestPath}"`);
    expect(existsSync(join(t.root, LAYOUT.binary))).toBe(true);
  });
});

describe("errors", () => {
  test("a missing root is a usage error naming it", () => {
    const t = setup();
    const missing = join(t.root, "nope");
    const error = carpError(() => install({ root: missing, executable: t.executable, replaceStock: false }, () => {}));
    expect(error.code).toBe("usage");
    expect(error.message).toBe(`Root "${missing}" does not exist; pass an existing directory to --root`);
    expect(carpError(() => uninstall({ root: missing }, () => {})).message).toBe(error.message);
  });

  test("a root that is a file is a usage error", () => {
    const t = setup();
    const file = put(t.root, "file", "x");
    expect(carpError(() => install({ root: file, executable: t.executable, replaceStock: false }, () => {})).message).toBe(
      `Root "${file}" is not a directory; pass a directory to --root`,
    );
  });

  test("a root this user cannot write is a system error saying so, and nothing is written", async () => {
    const t = setup();
    // Root may write anywhere, so as root the attempt runs as nobody.
    const asRoot = process.getuid?.() === 0;
    if (!asRoot) chmodSync(t.root, 0o555);
    const script = put(
      scratch("carp-script-"),
      "attempt.ts",
      [
        `import { install } from ${JSON.stringify(join(REPO, "src", "install", "install.ts"))};`,
        asRoot ? "process.setgid(65534); process.setuid(65534);" : "",
        "try {",
        `  install({ root: ${JSON.stringify(t.root)}, executable: ${JSON.stringify(t.executable)}, replaceStock: false }, () => {});`,
        '  console.log("no error");',
        "} catch (error) {",
        "  console.log(JSON.stringify({ code: error.code, message: error.message }));",
        "}",
      ].join("\n"),
    );
    const proc = Bun.spawn([process.execPath, script], { stdout: "pipe", stderr: "pipe", cwd: "/" });
    const [stdout, stderr] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    if (!asRoot) chmodSync(t.root, 0o755);
    expect(stderr).toBe("");
    expect(JSON.parse(stdout)).toEqual({
      code: "system",
      message: `Cannot write the install journal "${join(t.root, LAYOUT.manifest)}": permission denied; run install as root, or choose a --root you can write; nothing was changed`,
    });
    expect(listTree(t.root)).toEqual([]);
  });

  test("a missing executable is named", () => {
    const t = setup();
    const error = carpError(() => install({ root: t.root, executable: "/nonexistent/carp", replaceStock: false }, () => {}));
    expect(error.message).toStartWith('Cannot read the executable "/nonexistent/carp"');
  });
});

describe("install command", () => {
  test("installs the running executable only when it is a compiled one", () => {
    expect(compiledExecutable("/$bunfs/root/carp-service-status", "/tmp/x/carp-service-status")).toBe("/tmp/x/carp-service-status");
    expect(compiledExecutable(join(REPO, "src", "cli.ts"), process.execPath)).toBeNull();
  });

  test("run from the sources it refuses with a usage error saying how to build", async () => {
    const root = scratch("carp-root-");
    const { stderr, exitCode } = await runCli(["install", "--root", root]);
    expect(exitCode).toBe(2);
    expect(stderr).toBe(
      "carp-service-status: install copies the running executable; build one with `bun run build` and run install from it\n",
    );
    expect(listTree(root)).toEqual([]);
  });
});

describe("planning is a pure function of what was found", () => {
  const root = "/r";
  const desired = [{ path: LAYOUT.rcScript, source: { kind: "text", text: "x" }, sha256: "a".repeat(64), mode: 0o755 }] as DesiredFile[];
  const file = (sha: string, extra: Partial<{ mode: number; shim: boolean }> = {}): FileState => ({
    kind: "file",
    sha256: sha.length === 64 ? sha : sha.repeat(64),
    mode: 0o755,
    uid: 0,
    gid: 0,
    shim: false,
    ...extra,
  });
  const shimSha = new Bun.CryptoHasher("sha256").update(renderShim()).digest("hex");
  const stockRecord = { sha256: "b".repeat(64), mode: 0o555 };

  function observed(stock: FileState, kept: FileState, stockRecorded: boolean): InstallObservation {
    const absent: FileState = { kind: "absent" };
    const manifest = { ...emptyManifest(), version: "0", stock: stockRecorded ? stockRecord : null };
    return {
      root,
      found: manifest,
      manifest,
      interrupted: null,
      files: {
        [LAYOUT.binary]: absent,
        [LAYOUT.rcScript]: file("a"),
        [LAYOUT.configdActions]: absent,
        [LAYOUT.sampleConfig]: absent,
        [LAYOUT.syshook]: absent,
        [LAYOUT.stockScript]: stock,
        [LAYOUT.keptStock]: kept,
      },
      dirs: {},
      leftovers: [],
      config: absent,
    };
  }

  /** The plan's lines about the stock script: `op (first word of its line)` for steps, the kind otherwise. */
  function stockSteps(stock: FileState, kept: FileState, stockRecorded: boolean): string[] {
    return planInstall(observed(stock, kept, stockRecorded), desired, { replaceStock: true })
      .filter((action) => !(action.kind === "adopt" && "path" in action.step && action.step.path === LAYOUT.rcScript))
      .filter((action) => !(action.kind === "note" && action.message.startsWith("No config")))
      .map((action) => (action.kind === "step" ? `${action.step.op} (${action.line.split(" ")[0]})` : action.kind));
  }

  const cases: [string, FileState, FileState, boolean, string[]][] = [
    ["the stock script: kept aside, then the shim", file("c"), { kind: "absent" }, false, ["keep-stock (Kept)", "write (Installed)"]],
    ["a newer stock script after a firmware update: kept instead", file("d"), file("b"), true, ["keep-stock (Kept)", "write (Installed)"]],
    ["the stock script already kept by a run cut short: only the shim", file("b"), file("b"), true, ["write (Installed)"]],
    ["our current shim: nothing to do", file(shimSha, { shim: true }), file("b"), true, ["note"]],
    ["an older shim: updated, the kept copy untouched", file("e", { shim: true }), file("b"), true, ["write (Updated)"]],
    ["our shim with the wrong mode: chmod", file(shimSha, { shim: true, mode: 0o700 }), file("b"), true, ["chmod (Set)"]],
    ["our shim deleted by hand: reinstalled", { kind: "absent" }, file("b"), true, ["write (Installed)"]],
    ["our shim with a kept copy nobody recorded: the copy is recorded", file(shimSha, { shim: true }), file("f"), false, ["adopt", "note"]],
    ["our shim without any stock copy: a warning", file(shimSha, { shim: true }), { kind: "absent" }, false, ["note", "note"]],
  ];
  for (const [name, stock, kept, recorded, expected] of cases) {
    test(name, () => {
      expect(stockSteps(stock, kept, recorded)).toEqual(expected);
    });
  }

  test("no stock script and nothing recorded: refused", () => {
    expect(() => stockSteps({ kind: "absent" }, { kind: "absent" }, false)).toThrow("No stock script");
  });

  test("a directory in the way of a file: refused", () => {
    const o = observed({ kind: "absent" }, { kind: "absent" }, false);
    o.files[LAYOUT.rcScript] = { kind: "other", what: "directory" };
    expect(() => planInstall(o, desired, { replaceStock: false })).toThrow(`"/r/${LAYOUT.rcScript}" is a directory, not a file`);
  });
});
