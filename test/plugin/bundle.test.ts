/**
 * dist/cli.js, the bundle for a system Bun, under both Bun versions we support (1.4 and the
 * 1.3.14 of FreeBSD's lang/bun), run through the port's wrapper from a directory holding a hostile
 * bunfig.toml; and the port's files: what its Makefile installs is what pkg-plist lists, and the
 * files it renders are install's own.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BYTECODE_SUFFIX, bundle, PORT_BUNDLE, PORT_DAEMON_BUNDLE, portFiles } from "../../scripts/build.ts";
import { VERSION } from "../../src/common/version.ts";
import { PORT_BUNDLE_PATH } from "../../src/doctor/install-checks.ts";
import { install } from "../../src/install/install.ts";
import { INSTALLED_FILES, LAYOUT, NODE_PATHS, PLUGIN_FILES } from "../../src/install/layout.ts";
import { renderConfigdActions, renderMonitorHook, renderRcScript, renderSyshook } from "../../src/install/templates.ts";
import { makeSandbox } from "../helpers.ts";
import { opnsenseRoot, removeScratch, standInExecutable } from "../install-scenario.ts";
import { PORT_DIR, run, scratchDir } from "./testenv.ts";

/** FreeBSD ports' Bun; BUN_1_3_14 overrides where it is (npm's bun@1.3.14 runs on Linux). */
const BUN_1_3_14 = process.env.BUN_1_3_14 ?? "/opt/bun1314/node_modules/.bin/bun";

const scratch = scratchDir("carp-bundle-");
afterAll(() => {
  scratch.remove();
  removeScratch();
});

/** The port's sed over the rendered files, for a PREFIX and LOCALBASE. */
function substitute(text: string, prefix: string, localbase: string): string {
  return text.replaceAll("%%PREFIX%%", prefix).replaceAll("%%LOCALBASE%%", localbase);
}

const built = await bundle(join(scratch.dir, "cli.js"));

describe("dist/cli.js", () => {
  test("bun build bundles src/cli.ts as CommonJS with its bytecode beside it", () => {
    expect(built.log).not.toContain("error");
    expect(built.ok).toBe(true);
    expect(readFileSync(built.outfile, "utf8").split("\n", 3).join("\n")).toContain("@bytecode @bun-cjs");
    expect(existsSync(`${built.outfile}${BYTECODE_SUFFIX}`)).toBe(true);
  });

  for (const [label, bun] of [
    [`the running Bun (${Bun.version})`, process.execPath],
    ["Bun 1.3.14 (lang/bun)", BUN_1_3_14],
  ] as const) {
    // The bytecode is the running Bun's: the other Bun ignores it and parses cli.js, with the same results.
    test(`runs under ${label} through the port's wrapper (bytecode from Bun ${Bun.version}), and a bunfig.toml where it is started runs nothing`, async () => {
      expect(existsSync(bun), `${bun} (set BUN_1_3_14, or install npm's bun@1.3.14 there)`).toBe(true);
      const prefix = join(scratch.dir, label.replace(/\W+/g, "-"));
      mkdirSync(join(prefix, "bin"), { recursive: true });
      mkdirSync(join(prefix, "libexec/carp-service-status"), { recursive: true });
      symlinkSync(bun, join(prefix, "bin/bun"));
      writeFileSync(join(prefix, PORT_BUNDLE), readFileSync(built.outfile));
      writeFileSync(join(prefix, `${PORT_BUNDLE}${BYTECODE_SUFFIX}`), readFileSync(`${built.outfile}${BYTECODE_SUFFIX}`));
      const wrapper = join(prefix, "bin/carp-service-status");
      writeFileSync(wrapper, substitute(portFiles()["carp-service-status.in"]!, prefix, prefix));
      chmodSync(wrapper, 0o755);

      // A directory someone else controls: its bunfig.toml preloads code (plain `bun cli.js` runs it).
      const hostile = join(prefix, "hostile");
      const marker = join(hostile, "preload-ran");
      mkdirSync(hostile);
      writeFileSync(join(hostile, "bunfig.toml"), 'preload = ["./evil.ts"]\n');
      writeFileSync(join(hostile, "evil.ts"), `require("node:fs").writeFileSync(${JSON.stringify(marker)}, "ran");\n`);

      const version = await run([wrapper, "--version"], { cwd: hostile });
      expect(version.stdout.trim()).toBe(VERSION);
      expect(existsSync(marker)).toBe(false);

      // One evaluation on a simulated node with no checks, and the configuration back as JSON.
      const hooks = join(prefix, "hooks");
      mkdirSync(hooks);
      const config = join(prefix, "carp_service_status.toml");
      const at = (name: string) => JSON.stringify(join(prefix, name));
      writeFileSync(
        config,
        `hooksDir = ${JSON.stringify(hooks)}\nsysctl = "simulated"\nlogger = "simulated"\nsimulationFile = ${at("demotion")}\nsimulationLog = ${at("messages")}\nlockFile = ${at("lock")}\nstateFile = ${at("state")}\nsocket = false\nconcurrency = 3\n`,
      );
      const check = await run([wrapper, "check", "--json", "--config", config], { cwd: hostile });
      expect(check.exitCode).toBe(0);
      expect(JSON.parse(check.stdout)).toMatchObject({ action: "none", demoted: false, services: [] });
      const shown = await run([wrapper, "config", "--json", "--config", config], { cwd: hostile });
      expect(JSON.parse(shown.stdout)).toMatchObject({ hooksDir: hooks, concurrency: 3, socket: false });
      // What the daemon runs on a miss of the config cache: the bundle is its own validator.
      const validated = await run([wrapper, "__validate-config", config, "linux", join(prefix, "config-cache")], { cwd: hostile });
      expect(JSON.parse(validated.stdout)).toMatchObject({ ok: true, config: { hooksDir: hooks, concurrency: 3 } });
      expect(existsSync(marker)).toBe(false);
    });
  }
});

describe("dist/cli.js runs a check as another user (it is its own helper)", () => {
  for (const [label, bun] of [
    [`the running Bun (${Bun.version})`, process.execPath],
    ["Bun 1.3.14 (lang/bun)", BUN_1_3_14],
  ] as const) {
    test(`under ${label}: the hook sees the user's uid, not root's`, async () => {
      const sandbox = makeSandbox();
      try {
        sandbox.addHook("who", { content: "#!/bin/sh\nid -u\n" });
        await Bun.write(sandbox.configFile, `${readFileSync(sandbox.writeConfig(), "utf8")}\n[hooks."who"]\nuser = "nobody"\n`);
        // As the port's wrapper runs it.
        const check = await run([
          bun,
          "--config=/dev/null",
          "--no-env-file",
          "--no-install",
          built.outfile,
          "check",
          "--json",
          "--config",
          sandbox.configFile,
        ]);
        expect(check.exitCode).toBe(0);
        const nobody = Bun.spawnSync(["id", "-u", "nobody"]).stdout.toString();
        expect(JSON.parse(check.stdout).services[0]).toMatchObject({ status: "pass", output: nobody });
      } finally {
        sandbox.cleanup();
      }
    });
  }
});

test("dist/cli.js carries the GUI plugin: its doctor, run away from the repository, finds install's copy in place", async () => {
  const root = opnsenseRoot();
  install({ root, executable: standInExecutable(), replaceStock: false }, () => {});
  const elsewhere = join(scratch.dir, "elsewhere");
  mkdirSync(elsewhere);
  const cli = join(elsewhere, "cli.js");
  writeFileSync(cli, readFileSync(built.outfile));
  const doctor = await run([process.execPath, "--config=/dev/null", cli, "doctor", "--json", "--root", root], { cwd: elsewhere });
  const findings = JSON.parse(doctor.stdout).findings as { check: string; status: string; detail: string }[];
  expect(findings.find((f) => f.check === "GUI plugin")).toMatchObject({
    status: "ok",
    detail: `its ${PLUGIN_FILES.length} files are in place as this version installs them: Services > CARP Service Status`,
  });
});

/** The lines of pkg-plist. */
function plist(): string[] {
  return readFileSync(join(PORT_DIR, "pkg-plist"), "utf8").trim().split("\n");
}

describe("the port sysutils/carp-service-status", () => {
  const makefile = readFileSync(join(PORT_DIR, "Makefile"), "utf8");

  test("pkg-plist lists exactly what the build and install put under /usr/local, but the plugin package's files and --replace-stock's", () => {
    const local = (path: string) => {
      expect(path).toStartWith("usr/local/");
      return path.slice("usr/local/".length);
    };
    // The executable is the port's wrapper and the bundle it runs (with its bytecode); a sample is @sample (pkg copies it to the config when there is none).
    const expected = INSTALLED_FILES.filter((file) => file.part === "runtime").flatMap((file) =>
      file.path === LAYOUT.binary
        ? [local(file.path), PORT_BUNDLE, `${PORT_BUNDLE}${BYTECODE_SUFFIX}`, PORT_DAEMON_BUNDLE]
        : [`${file.path.endsWith(".sample") ? "@sample " : ""}${local(file.path)}`],
    );
    expect(plist().sort()).toEqual(expected.sort());
    // doctor tells a node with the port (and so the plugin as a package) by the bundle.
    expect(PORT_BUNDLE_PATH).toBe(`usr/local/${PORT_BUNDLE}`);
  });

  test("the port ships no file of the plugin package, of core's, or that only install --replace-stock writes", () => {
    const shipped = new Set(plist().map((line) => line.replace(/^@sample /, "")));
    const notOurs = [
      ...PLUGIN_FILES.map((file) => file.path),
      LAYOUT.pluginVersion,
      ...INSTALLED_FILES.filter((file) => file.part === "replace-stock").map((file) => file.path),
      LAYOUT.stockScript,
      LAYOUT.keptStock,
      LAYOUT.manifest,
    ];
    expect(notOurs.length).toBeGreaterThan(PLUGIN_FILES.length + 4);
    expect(notOurs.map((path) => path.replace(/^usr\/local\//, "")).filter((path) => shipped.has(path))).toEqual([]);
  });

  test("pkg-plist lists exactly what the Makefile installs", () => {
    const installed = [...makefile.matchAll(/\$\{STAGEDIR\}\$\{PREFIX\}\/(\S+)$/gm)]
      .map((match) => match[1]!)
      .filter((path) => /\.\w+$|\/[^/]*[-_][^/]*$/.test(path));
    const files = installed.filter((path) => !makefile.includes(`\${MKDIR} \${STAGEDIR}\${PREFIX}/${path}\n`));
    const plist = readFileSync(join(PORT_DIR, "pkg-plist"), "utf8")
      .trim()
      .split("\n")
      .map((line) => line.replace(/^@sample /, ""));
    expect(files.sort()).toEqual(plist.sort());
  });

  test("every file the Makefile takes from the distfile is in it", () => {
    const distfile = new Set(["cli.js", `cli.js${BYTECODE_SUFFIX}`, ...Object.keys(portFiles())]);
    for (const match of makefile.matchAll(/\$\{WRKSRC\}\/([\w.-]+)/g)) {
      const name = match[1]!;
      if (name.startsWith("$")) continue;
      expect(distfile.has(name) || distfile.has(`${name}.in`), name).toBe(true);
    }
    for (const name of makefile
      .match(/_RENDERED=\s+([\s\S]*?)\n\n/)![1]!
      .split(/[\s\\]+/)
      .filter(Boolean)) {
      expect(distfile.has(`${name}.in`), name).toBe(true);
    }
  });

  test("with PREFIX /usr/local the rendered files are exactly what install writes", () => {
    const files = portFiles();
    const local = (name: string) => substitute(files[name]!, "/usr/local", "/usr/local");
    expect(local("carp_service_status.in")).toBe(renderRcScript(NODE_PATHS));
    expect(local("actions_carp_service_status.conf.in")).toBe(renderConfigdActions(NODE_PATHS));
    expect(local("50-carp-service-status.in")).toBe(renderSyshook(NODE_PATHS));
    expect(local("50-carp-service-status-monitor.in")).toBe(renderMonitorHook(NODE_PATHS));
    expect(local("carp-service-status.in")).toContain(
      `exec /usr/local/bin/bun --config=/dev/null --no-env-file --no-install /usr/local/${PORT_BUNDLE} "$@"`,
    );
    for (const text of Object.values(files)) expect(substitute(text, "/p", "/l")).not.toContain("%%");
  });

  test("the wrapper runs the daemon from daemon.js without the baseline JIT, every other command from cli.js", async () => {
    const prefix = join(scratch.dir, "wrapper-choice");
    mkdirSync(join(prefix, "bin"), { recursive: true });
    // A stand-in Bun that says what it was given.
    // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion, for the stand-in's sh
    writeFileSync(join(prefix, "bin/bun"), '#!/bin/sh\necho "jit-off=${BUN_JSC_useBaselineJIT:-} $*"\n', { mode: 0o755 });
    const wrapper = join(prefix, "bin/carp-service-status");
    writeFileSync(wrapper, substitute(portFiles()["carp-service-status.in"]!, prefix, prefix), { mode: 0o755 });
    const flags = "--config=/dev/null --no-env-file --no-install";
    expect((await run([wrapper, "daemon", "--syslog"], { cwd: prefix })).stdout).toBe(
      `jit-off=0 ${flags} ${prefix}/${PORT_DAEMON_BUNDLE} daemon --syslog\n`,
    );
    expect((await run([wrapper, "check", "--json"], { cwd: prefix })).stdout).toBe(
      `jit-off= ${flags} ${prefix}/${PORT_BUNDLE} check --json\n`,
    );
  });

  test("the Makefile depends on lang/bun at run time and follows the Porter's Handbook layout", () => {
    expect(makefile).toMatch(/^RUN_DEPENDS=\tbun:lang\/bun$/m);
    expect(makefile).toMatch(/^PORTNAME=\tcarp-service-status$/m);
    expect(makefile).toMatch(new RegExp(`^DISTVERSION=\\t${VERSION.replaceAll(".", "\\.")}$`, "m"));
    expect(makefile.trimEnd().endsWith(".include <bsd.port.mk>")).toBe(true);
    expect(readFileSync(join(PORT_DIR, "pkg-descr"), "utf8").length).toBeGreaterThan(100);
  });
});
