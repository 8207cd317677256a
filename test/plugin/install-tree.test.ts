/**
 * install's copy of the plugin against the real opnsense/plugins Mk/plugins.mk (BSD make): the
 * tree `make install` gives the package is the tree install lays down (but the package's version
 * file), `make plist` lists exactly those files, and the commands install prints after installing
 * and uninstalling are those of the package's generated +POST_INSTALL and +POST_DEINSTALL.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { cpSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pluginPostDeinstall, pluginPostInstall } from "../../src/cli/install.ts";
import { install } from "../../src/install/install.ts";
import { LAYOUT, PLUGIN_FILES } from "../../src/install/layout.ts";
import { opnsenseRoot, removeScratch, scratch, standInExecutable } from "../install-scenario.ts";
import { listTree } from "../tree-listing.ts";
import { PLUGIN_DIR, run, testEnv } from "./testenv.ts";

afterAll(removeScratch);

const env = testEnv();

/**
 * BSD find's `-s` (sorted) and `-depth N` (exactly N deep), which plugins.mk's scripts target
 * uses, on GNU find: the package's scripts come out as they would on FreeBSD.
 */
const BSD_FIND = `#!/bin/bash
args=()
sorted=0
while [ $# -gt 0 ]; do
	case $1 in
	-s) sorted=1 ;;
	-depth)
		if [[ \${2:-} =~ ^[0-9]+$ ]]; then
			args+=(-mindepth "$2" -maxdepth "$2")
			shift
		else
			args+=(-depth)
		fi
		;;
	*) args+=("$1") ;;
	esac
	shift
done
if [ $sorted = 1 ]; then
	/usr/bin/find "\${args[@]}" | LC_ALL=C sort
else
	exec /usr/bin/find "\${args[@]}"
fi
`;

/** A plugins checkout holding our plugin at sysutils/carp-service-status, and a PATH with BSD find. */
function pluginsCheckout(): { plugin: string; path: string } {
  const dir = scratch("carp-plugins-");
  for (const name of ["Mk", "Scripts", "Templates"]) symlinkSync(join(env.plugins, name), join(dir, name));
  const plugin = join(dir, "sysutils/carp-service-status");
  cpSync(PLUGIN_DIR, plugin, { recursive: true, preserveTimestamps: true });
  const bin = join(dir, "bin");
  mkdirSync(bin);
  writeFileSync(join(bin, "find"), BSD_FIND, { mode: 0o755 });
  return { plugin, path: `${bin}:${process.env.PATH}` };
}

const checkout = pluginsCheckout();

async function make(target: string, destdir?: string) {
  const argv = [env.bmake, target, "PLUGIN_PHP=83", "PLUGIN_PYTHON=311", ...(destdir ? [`DESTDIR=${destdir}`] : [])];
  const result = await run(argv, { cwd: checkout.plugin, env: { PATH: checkout.path } });
  expect(result.exitCode, result.stderr).toBe(0);
  return result.stdout;
}

/** The commands of a generated package script: each line is `if [ -f X ]; then [echo ...;] COMMAND; fi`. */
function commandsOf(script: string): string[] {
  return script
    .trim()
    .split("\n")
    .map((line) => {
      const command = /; then (?:echo [^;]*; )?(.*); fi$/.exec(line)?.[1];
      if (command === undefined) throw new Error(`Unexpected line in a package script: ${line}`);
      return command;
    });
}

describe("the plugin's package, as plugins.mk makes it", () => {
  test("make install gives the tree install lays down, byte for byte with modes, but the package's version file", async () => {
    const destdir = scratch("carp-destdir-");
    await make("install", destdir);
    const root = opnsenseRoot();
    install({ root, executable: standInExecutable(), replaceStock: false }, () => {});
    const files = (tree: string[]) => tree.filter((line) => line.startsWith("f ")).map((line) => line.split(" ").slice(0, 4).join(" "));
    const packaged = files(listTree(destdir));
    const version = packaged.find((line) => line.split(" ")[2] === LAYOUT.pluginVersion);
    expect(version).toBeDefined();
    const ours = new Set(PLUGIN_FILES.map((file) => file.path));
    expect(files(listTree(root)).filter((line) => ours.has(line.split(" ")[2]!))).toEqual(packaged.filter((line) => line !== version));
  });

  test("make plist lists exactly the files install lays down and the version file", async () => {
    const plist = (await make("plist")).trim().split("\n");
    expect(plist).toEqual([...PLUGIN_FILES.map((file) => `/${file.path}`), `/${LAYOUT.pluginVersion}`].sort());
  });

  test("install prints what the package's +POST_INSTALL and +POST_DEINSTALL run, in their order", async () => {
    const meta = scratch("carp-meta-");
    await make("scripts", meta);
    expect(pluginPostInstall().map((step) => step.command)).toEqual(commandsOf(readFileSync(join(meta, "+POST_INSTALL"), "utf8")));
    expect(pluginPostDeinstall().map((step) => step.command)).toEqual(commandsOf(readFileSync(join(meta, "+POST_DEINSTALL"), "utf8")));
  });
});
