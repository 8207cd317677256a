/**
 * The `bun build --compile` executables, as shipped: the linux-x64 one runs from a directory with
 * no repository and no node_modules, evaluates against the fake FreeBSD sysctl and logger, and
 * installs into a scratch root and out again; the FreeBSD one is a FreeBSD ELF executable.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compile, isRuntimeFetchFailure } from "../../scripts/build.ts";
import { FREEBSD_PATHS } from "../../src/config/defaults.ts";
import { LAYOUT, PLUGIN_FILES } from "../../src/install/layout.ts";
import { isShim } from "../../src/install/templates.ts";
import { renderUpdateHook } from "../../src/install/update-hook.ts";
import { makeSandbox, type Sandbox } from "../helpers.ts";
import { listTree } from "../tree-listing.ts";

const BIT = 1048576;
const OUT = mkdtempSync(join(tmpdir(), "carp-compiled-"));
chmodSync(OUT, 0o755);
const LINUX = join(OUT, "carp-service-status");
const FREEBSD = join(OUT, "carp-service-status-freebsd-x64");

// Built once for the file, at load time, so that the FreeBSD test can be skipped (with the reason)
// when the cross-compile cannot fetch its runtime. Each takes about a second.
const [linuxBuild, freebsdBuild] = await Promise.all([compile("bun-linux-x64", LINUX), compile("bun-freebsd-x64", FREEBSD)]);
const freebsdUnavailable = !freebsdBuild.ok && isRuntimeFetchFailure(freebsdBuild.log);
if (freebsdUnavailable) {
  console.warn(`Skipping the FreeBSD executable test: the cross-compile could not fetch its runtime:\n${freebsdBuild.log}`);
}
const canRunLinux = process.platform === "linux" && process.arch === "x64";

const cleanups: (() => void)[] = [];
afterAll(() => {
  for (const cleanup of cleanups) cleanup();
  rmSync(OUT, { recursive: true, force: true });
});

function sandboxed(): Sandbox {
  const sandbox = makeSandbox();
  cleanups.push(() => sandbox.cleanup());
  return sandbox;
}

function scratch(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(dir, 0o755);
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Runs an executable from `cwd` with a minimal environment: nothing points back at the repository. */
async function exec(argv: string[], cwd: string) {
  const proc = Bun.spawn(argv, { cwd, stdout: "pipe", stderr: "pipe", env: { PATH: "/usr/bin:/bin", TMPDIR: cwd, HOME: cwd } });
  const [stdout, stderr, exitCode] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { stdout, stderr, exitCode };
}

function sha256(path: string): string {
  return new Bun.CryptoHasher("sha256").update(readFileSync(path)).digest("hex");
}

test("the linux-x64 executable builds", () => {
  expect(linuxBuild.log).not.toContain("error:");
  expect(linuxBuild.ok).toBe(true);
});

describe.skipIf(!canRunLinux)("the compiled linux-x64 executable", () => {
  test("runs check from a directory without the repository: the table, the demotion, syslog, pino logs", async () => {
    const sandbox = sandboxed();
    sandbox.addHook("svc", { fixture: "fail" });
    sandbox.addHook("ok", { fixture: "pass" });
    const elsewhere = scratch("carp-elsewhere-");
    const { stdout, stderr, exitCode } = await exec([LINUX, "check", "--config", sandbox.configFile], elsewhere);
    expect(exitCode).toBe(1);
    expect(stdout).toMatch(/svc\s+fail\s+1/);
    expect(stdout).toMatch(/ok\s+pass\s+0/);
    expect(stdout).toContain(`demotion 0 -> ${BIT}: demoted`);
    expect(sandbox.demotion()).toBe(BIT);
    expect(sandbox.syslog()).toEqual(["carp daemon.warning: carp demoted by 1048576 due to service disruption (services: svc)"]);
    // pino's synchronous destination works inside the executable (its transports would not);
    // the sandbox asks for JSON lines.
    const logs = stderr
      .split("\n")
      .filter(Boolean)
      .map((line) => JSON.parse(line));
    expect(logs).toContainEqual(
      expect.objectContaining({ level: 40, msg: "demoted this node: svc (exit 1: service down)", failed: ["svc"] }),
    );
  });

  test("follows process trees (libc through bun:ffi): a hook's set -m job is ended, named, and its orphan reaped", async () => {
    const sandbox = sandboxed();
    sandbox.addHook("job", { fixture: "set-m-background" });
    const { stdout, exitCode } = await exec([LINUX, "check", "--config", sandbox.configFile, "--json"], scratch("carp-elsewhere-"));
    expect(exitCode).toBe(0);
    const [service] = JSON.parse(stdout).services;
    const left = Number(/left: (\d+)/.exec(service.output)![1]);
    expect(service.warnings).toEqual([expect.stringContaining(`(pid ${left}); they were killed`)]);
    // Ended and reaped by the executable before it exited: no such process, not even a zombie.
    expect(existsSync(`/proc/${left}`)).toBe(false);
  });

  test("runs a check as another user: the executable is its own helper, and the hook sees the user's uid", async () => {
    const sandbox = sandboxed();
    sandbox.addHook("who", { content: "#!/bin/sh\nid -u\n" });
    writeFileSync(sandbox.configFile, `${readFileSync(sandbox.writeConfig(), "utf8")}\n[hooks."who"]\nuser = "nobody"\n`);
    const { stdout, exitCode } = await exec([LINUX, "check", "--json", "--config", sandbox.configFile], scratch("carp-elsewhere-"));
    expect(exitCode).toBe(0);
    const nobody = Bun.spawnSync(["id", "-u", "nobody"]).stdout.toString();
    expect(JSON.parse(stdout).services[0]).toMatchObject({ status: "pass", output: nobody });
  });

  test("ignores a bunfig.toml in the directory it is started in: a planted preload never runs as root", async () => {
    const elsewhere = scratch("carp-elsewhere-");
    writeFileSync(join(elsewhere, "bunfig.toml"), 'preload = ["./planted.ts"]\n');
    writeFileSync(join(elsewhere, "planted.ts"), 'console.log("planted code ran");\n');
    writeFileSync(join(elsewhere, ".env"), "CARP_PLANTED=1\n");
    const { stdout, exitCode } = await exec([LINUX, "--version"], elsewhere);
    expect(exitCode).toBe(0);
    expect(stdout).toBe(`${JSON.parse(readFileSync(join(import.meta.dir, "..", "..", "package.json"), "utf8")).version}\n`);
  });

  test("runs on built-in defaults: the stock hooks directory, missing here, is a warning", async () => {
    const elsewhere = scratch("carp-elsewhere-");
    const { stdout, stderr, exitCode } = await exec([LINUX, "check", "--dry-run"], elsewhere);
    expect(exitCode).toBe(0);
    // The simulated counter is shared machine state, so only its presence is asserted.
    expect(stdout).toMatch(/dry run: demotion -?\d+, would /);
    expect(stderr).toContain(`Hooks directory "${FREEBSD_PATHS.hooksDir}" does not exist: no service checks run`);
  });

  test("doctor on built-in defaults names the stock hooks directory, never a path inside the executable", async () => {
    const elsewhere = scratch("carp-elsewhere-");
    const { stdout } = await exec([LINUX, "doctor", "--root", elsewhere], elsewhere);
    expect(stdout).toMatch(/^config +ok +no config file: the built-in defaults apply$/m);
    expect(stdout).toContain(`"${FREEBSD_PATHS.hooksDir}"`);
    expect(stdout).not.toContain("$bunfs");
    expect(stdout).toMatch(/^sysctl +info +net\.inet\.carp\.demotion = -?\d+, simulated in /m);
  });

  test("installs into a scratch root, evaluates from there, and uninstall leaves the root as it was", async () => {
    const root = scratch("carp-root-");
    mkdirSync(join(root, "usr/local/sbin"), { recursive: true, mode: 0o755 });
    writeFileSync(join(root, LAYOUT.stockScript), "#!/usr/local/bin/php\n<?php // stock\n", { mode: 0o755 });
    const before = listTree(root);
    const elsewhere = scratch("carp-elsewhere-");

    const installed = await exec([LINUX, "install", "--root", root, "--replace-stock"], elsewhere);
    expect(installed.stderr).toBe("");
    expect(installed.exitCode).toBe(0);
    expect(installed.stdout).toContain(`Installed "${join(root, LAYOUT.binary)}" (mode 0755)`);
    expect(sha256(join(root, LAYOUT.binary))).toBe(sha256(LINUX));
    expect(isShim(readFileSync(join(root, LAYOUT.stockScript), "utf8"))).toBe(true);
    // The GUI plugin, embedded in the executable: each file as the repository has it, with its mode.
    expect(PLUGIN_FILES.length).toBeGreaterThan(10);
    for (const file of PLUGIN_FILES) {
      const source = join(import.meta.dir, "../../opnsense/sysutils/carp-service-status/src", file.path.replace(/^usr\/local\//, ""));
      expect(sha256(join(root, file.path)), file.path).toBe(sha256(source));
      expect(statSync(join(root, file.path)).mode & 0o7777, file.path).toBe(file.mode);
    }
    expect(readFileSync(join(root, LAYOUT.updateHook), "utf8")).toBe(renderUpdateHook());
    const doctor = await exec([LINUX, "doctor", "--json", "--root", root], elsewhere);
    const findings = JSON.parse(doctor.stdout).findings as { check: string; status: string }[];
    expect(findings.find((f) => f.check === "GUI plugin")?.status).toBe("ok");
    expect(findings.find((f) => f.check === "stock script")?.status).toBe("ok");

    const again = await exec([LINUX, "install", "--root", root, "--replace-stock"], elsewhere);
    expect(again.stdout).toEndWith(`Nothing changed: already installed under "${root}"\n`);

    const sandbox = sandboxed();
    sandbox.addHook("svc", { fixture: "fail" });
    const evaluated = await exec([join(root, LAYOUT.binary), "check", "--config", sandbox.configFile], elsewhere);
    expect(evaluated.exitCode).toBe(1);
    expect(sandbox.demotion()).toBe(BIT);

    const removed = await exec([LINUX, "uninstall", "--root", root], elsewhere);
    expect(removed.exitCode).toBe(0);
    expect(removed.stdout).toContain(`Restored the stock script "${join(root, LAYOUT.stockScript)}"`);
    expect(listTree(root)).toEqual(before);
  });
});

test.skipIf(freebsdUnavailable)("the FreeBSD build is a FreeBSD ELF executable", () => {
  expect(freebsdBuild.log).not.toContain("error:");
  expect(freebsdBuild.ok).toBe(true);
  const header = readFileSync(FREEBSD).subarray(0, 20);
  expect([...header.subarray(0, 4)]).toEqual([0x7f, 0x45, 0x4c, 0x46]);
  // e_ident[EI_OSABI]: 9 is ELFOSABI_FREEBSD; the linux build, for contrast, is 0 (System V).
  expect(header[7]).toBe(9);
  expect(readFileSync(LINUX).subarray(0, 8)[7]).toBe(0);
  // e_machine 62: x86-64.
  expect(header.readUInt16LE(18)).toBe(62);
});
