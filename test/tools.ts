/**
 * Commands the tests need from Debian packages (scripts/test-setup.sh installs them all). A test
 * whose tool is missing skips on a developer's machine, but under CI (CI=true) the missing tool is a
 * failing test that names its package: CI can never go green by skipping.
 */
import { test } from "bun:test";

/** The tool's path, or null; under CI a missing one also registers a failing test naming `debianPackage`. */
export function tool(command: string, debianPackage: string): string | null {
  const path = Bun.which(command);
  if (path === null && process.env.CI === "true") {
    test(`${command} is installed (Debian package ${debianPackage})`, () => {
      throw new Error(`${command} is missing: apt-get install ${debianPackage} (bun run test installs it through scripts/test-setup.sh)`);
    });
  }
  return path;
}
