/**
 * Reads and adjusts net.inet.carp.demotion. The kernel ADDS what is written
 * (carp_demote_adj), so the interface offers read and add, never set.
 */

import { CarpError } from "../common/errors.ts";
import { DEMOTION_OID } from "../config/defaults.ts";
import { runCommand } from "./run-tool.ts";

/** A signal that stops a call (killing the tool's process group): the lock phase's deadline. */
export interface ToolOptions {
  signal?: AbortSignal;
}

export interface DemotionSysctl {
  /** The current demotion value. */
  read(options?: ToolOptions): Promise<number>;
  /** Adds delta; returns the values before and after as the kernel reported them. */
  add(delta: number, options?: ToolOptions): Promise<{ before: number; after: number }>;
}

/** Strict integer parse: sysctl output is trusted only when it is exactly an integer. */
export function parseDemotion(text: string, source: string): number {
  const trimmed = text.trim();
  if (!/^-?\d+$/.test(trimmed)) {
    throw new CarpError("system", `${source} printed "${trimmed.slice(0, 80)}", not an integer`, { kind: "sysctl" });
  }
  return Number(trimmed);
}

/** Parses FreeBSD's `name: OLD -> NEW` line printed after a write. */
export function parseWriteReport(text: string): { before: number; after: number } | null {
  const match = /:\s*(-?\d+)\s*->\s*(-?\d+)\s*$/.exec(text.trim());
  return match ? { before: Number(match[1]), after: Number(match[2]) } : null;
}

/** The real sysctl(8), through Bun.spawn. */
export function createSysctl(executable: string, { timeoutMs }: { timeoutMs?: number } = {}): DemotionSysctl {
  async function run(args: string[], signal: AbortSignal | undefined) {
    const result = await runCommand([executable, ...args], { what: "sysctl", kind: "sysctl", signal, timeoutMs });
    if (result.exitCode !== 0) {
      const detail = result.stderr.trim() || `exit status ${result.exitCode}`;
      const hint = detail.includes("unknown oid") ? " (is carp(4) loaded?)" : "";
      throw new CarpError("system", `sysctl ${args.join(" ")} failed: ${detail}${hint}`, { kind: "sysctl" });
    }
    return result.stdout;
  }
  return {
    async read(options = {}) {
      return parseDemotion(await run(["-n", DEMOTION_OID], options.signal), `sysctl -n ${DEMOTION_OID}`);
    },
    async add(delta, options = {}) {
      const output = await run([`${DEMOTION_OID}=${delta}`], options.signal);
      const report = parseWriteReport(output);
      if (report === null) {
        throw new CarpError("system", `sysctl ${DEMOTION_OID}=${delta} printed "${output.trim()}", not "OLD -> NEW"`, { kind: "sysctl" });
      }
      return report;
    },
  };
}

/** Reads any oid's value as text: doctor's look at net.inet.carp.preempt. */
export interface OidReader {
  readOid(oid: string, options?: ToolOptions): Promise<string>;
}

/** `sysctl -n OID` with the real sysctl(8). */
export function createOidReader(executable: string, { timeoutMs }: { timeoutMs?: number } = {}): OidReader {
  return {
    async readOid(oid, options = {}) {
      const result = await runCommand([executable, "-n", oid], { what: "sysctl", kind: "sysctl", signal: options.signal, timeoutMs });
      if (result.exitCode !== 0) {
        throw new CarpError("system", `sysctl -n ${oid} failed: ${result.stderr.trim() || `exit status ${result.exitCode}`}`, {
          kind: "sysctl",
        });
      }
      return result.stdout.trim();
    },
  };
}
