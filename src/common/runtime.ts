/**
 * The Bun versions this release is tested on. Older ones misread what we depend on (Bun 1.3.13 and
 * before were never tested; 1.3.14 is what FreeBSD ports ship as lang/bun), so the CLI refuses to
 * start on them rather than misjudge a hook. The range is package.json's `engines.bun`.
 */
import pkg from "../../package.json" with { type: "json" };

/** The range of Bun versions supported, e.g. ">=1.3.14". */
export const SUPPORTED_BUN: string = pkg.engines.bun;

/** Why this runtime must not run us, with the fix; null when it may. */
export function runtimeProblem(version: string, range: string = SUPPORTED_BUN): string | null {
  if (Bun.semver.satisfies(version, range)) return null;
  return `This is Bun ${version}; carp-service-status needs Bun ${range} (FreeBSD: pkg install bun; elsewhere: npm install -g bun)`;
}
