/**
 * Stand-ins for carp(4) and syslogd on machines without them: a demotion counter in a state
 * file with the kernel's additive semantics, and a message file. Selected by the value
 * "simulated" for `sysctl` or `logger`.
 */
import { appendFileSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { CarpError, messageOf } from "../common/errors.ts";
import { type DemotionSysctl, parseDemotion } from "./sysctl.ts";
import type { Syslog } from "./syslog.ts";

function ensureDir(file: string): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
}

/**
 * A simulated net.inet.carp.demotion. Callers serialise through the evaluation lock, as they
 * must with the kernel; the write itself is atomic (rename) so a reader never sees half a value.
 */
export function createSimulatedSysctl(stateFile: string): DemotionSysctl {
  function read(): number {
    let text: string;
    try {
      text = readFileSync(stateFile, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return 0;
      throw new CarpError("system", `Cannot read simulated demotion "${stateFile}": ${messageOf(error)}`);
    }
    return parseDemotion(text, `simulated demotion "${stateFile}"`);
  }
  return {
    async read() {
      return read();
    },
    async add(delta) {
      const before = read();
      const after = before + delta;
      try {
        ensureDir(stateFile);
        writeFileSync(`${stateFile}.tmp`, `${after}\n`);
        renameSync(`${stateFile}.tmp`, stateFile);
      } catch (error) {
        throw new CarpError("system", `Cannot write simulated demotion "${stateFile}": ${messageOf(error)}`);
      }
      return { before, after };
    },
  };
}

/** A simulated syslog: one line per message, in syslog's shape, appended to a file. */
export function createSimulatedSyslog(logFile: string): Syslog {
  return {
    async warning(message) {
      try {
        ensureDir(logFile);
        appendFileSync(logFile, `${new Date().toISOString()} carp[daemon.warning]: ${message}\n`);
      } catch (error) {
        throw new CarpError("system", `Cannot write simulated syslog "${logFile}": ${messageOf(error)}`);
      }
    },
  };
}
