/** `install` and `uninstall`: flag handling around install.ts. */
import { resolve } from "node:path";
import { CarpError, EXIT } from "../common/errors.ts";
import { install } from "../install/install.ts";
import { uninstall } from "../install/uninstall.ts";
import type { Flags } from "./flags.ts";

/**
 * Prefixes of the virtual file system a `bun build --compile` executable runs its bundled code
 * from (checked on Bun 1.4.5: `Bun.main` is "/$bunfs/root/<name>"; Windows uses "B:/~BUN/").
 */
const COMPILED_PREFIXES = ["/$bunfs/", "B:/~BUN/"];

/** The executable to install: the running one when it is a compiled executable, else null. */
export function compiledExecutable(main: string = Bun.main, execPath: string = process.execPath): string | null {
  return COMPILED_PREFIXES.some((prefix) => main.startsWith(prefix)) ? execPath : null;
}

function rootOf(flags: Flags): string {
  const root = flags.root;
  if (root === "") throw new CarpError("usage", "--root needs a directory");
  return resolve(typeof root === "string" ? root : "/");
}

// A real install touches /usr/local; only FreeBSD (OPNsense) has the rc.d and configd it feeds.
function checkTarget(root: string, platform: string): void {
  if (root === "/" && platform !== "freebsd") {
    throw new CarpError("usage", `install and uninstall target OPNsense/FreeBSD, not ${platform}; pass --root DIR to use a scratch tree`);
  }
}

export async function run(flags: Flags): Promise<number> {
  const executable = compiledExecutable();
  if (executable === null) {
    throw new CarpError("usage", "install copies the running executable; build one with `bun run build` and run install from it");
  }
  const root = rootOf(flags);
  checkTarget(root, process.platform);
  const replaceStock = flags["replace-stock"] === true;
  const result = install({ root, executable, replaceStock }, (line) => console.log(line));
  console.log(
    result.changes === 0 ? `Nothing changed: already installed under "${root}"` : `Done: ${result.changes} changes under "${root}"`,
  );
  if (root === "/") {
    console.log(
      [
        "Next:",
        "  sysrc -f /etc/rc.conf.d/carp_service_status carp_service_status_enable=YES",
        `  service carp_service_status ${result.executableChanged ? "restart" : "start"}`,
        "  service configd restart    # loads the configctl carp_service_status actions",
      ].join("\n"),
    );
  }
  return EXIT.ok;
}

export async function runUninstall(flags: Flags): Promise<number> {
  const root = rootOf(flags);
  checkTarget(root, process.platform);
  const changes = uninstall({ root }, (line) => console.log(line));
  if (changes > 0) {
    console.log(`Done: ${changes} changes under "${root}"`);
    if (root === "/") {
      console.log(
        [
          "Next:",
          "  service configd restart    # drops the configctl carp_service_status actions",
          "  sysrc -f /etc/rc.conf.d/carp_service_status -x carp_service_status_enable",
        ].join("\n"),
      );
    }
  }
  return EXIT.ok;
}
