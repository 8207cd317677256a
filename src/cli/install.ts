/** `install` and `uninstall`: flag handling around install.ts. */
import { CarpError, EXIT } from "../common/errors.ts";
import { runDoctor } from "../doctor/doctor.ts";
import { DRY_RUN_CHECK, WOULD_DEMOTE } from "../doctor/dry-run-check.ts";
import { formatFindings } from "../doctor/format.ts";
import { type InstallOptions, type InstallResult, install, type Reporter } from "../install/install.ts";
import { uninstall } from "../install/uninstall.ts";
import { rootOf } from "./doctor.ts";
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

// A real install touches /usr/local; only FreeBSD (OPNsense) has the rc.d and configd it feeds.
function checkTarget(root: string, platform: string): void {
  if (root === "/" && platform !== "freebsd") {
    throw new CarpError("usage", `install and uninstall target OPNsense/FreeBSD, not ${platform}; pass --root DIR to use a scratch tree`);
  }
}

export interface InstallCommandOptions extends InstallOptions {
  /** Install even when the dry run says starting the daemon now would demote this node. */
  force: boolean;
}

/**
 * Runs doctor first, with nothing written yet, then installs. Refuses (CarpError "usage", nothing
 * written) when starting the daemon now would demote this node, unless options.force: a hook that
 * script security refuses, or one that fails, would fail a healthy cluster over.
 */
export async function installWithPreflight(options: InstallCommandOptions, report: Reporter): Promise<InstallResult> {
  report("Pre-flight checks (carp-service-status doctor):");
  const findings = await runDoctor({ root: options.root });
  report(formatFindings(findings));
  report("");
  // Not knowing what starting would do (a config that does not load, an evaluation that fails) is
  // no better than knowing it would demote: the shim would replace a stock script that works.
  const dryRun = findings.find((f) => f.check === DRY_RUN_CHECK);
  const blocker = dryRun && (dryRun.status === "problem" || dryRun.status === "skipped") ? dryRun : undefined;
  if (blocker && !options.force) {
    const what = blocker.detail.startsWith(WOULD_DEMOTE)
      ? blocker.detail
      : `the dry run could not tell what starting would do (${blocker.detail})`;
    throw new CarpError("usage", `Not installing: ${what}. Fix that first (see "dry run" above), or pass --force to install anyway`);
  }
  if (blocker) {
    report(
      blocker.detail.startsWith(WOULD_DEMOTE)
        ? "--force: installing although starting the daemon now would demote this node"
        : "--force: installing although the dry run could not tell what starting would do",
    );
  }
  return install(options, report);
}

export async function run(flags: Flags): Promise<number> {
  const executable = compiledExecutable();
  if (executable === null) {
    throw new CarpError("usage", "install copies the running executable; build one with `bun run build` and run install from it");
  }
  const root = rootOf(flags);
  checkTarget(root, process.platform);
  const replaceStock = flags["replace-stock"] === true;
  const options = { root, executable, replaceStock, force: flags.force === true };
  const result = await installWithPreflight(options, (line) => console.log(line));
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
        "  carp-service-status doctor # everything in place?",
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
