/**
 * Stand-ins for carp(4) and syslogd on machines without them: a demotion counter in a state
 * file with the kernel's additive semantics, and a message file. Selected by the value
 * "simulated" for `sysctl` or `logger`. Their directory, SIMULATION_DIR by default, is private
 * (see private-dir.ts) and none of their files is opened through a symbolic link.
 */
import { closeSync, constants, mkdirSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import { CarpError, messageOf } from "../common/errors.ts";
import { SIMULATION_DIR } from "../config/defaults.ts";
import { writeFileAtomicSync } from "./atomic-file.ts";
import { ensurePrivateDir, openNoFollow, readNoFollow } from "./private-dir.ts";
import { type DemotionSysctl, parseDemotion } from "./sysctl.ts";
import type { Syslog } from "./syslog.ts";

export interface SimulationOptions {
  /** The shared directory that must be ours (default SIMULATION_DIR); tests pass a scratch one. */
  privateDir?: string;
}

/**
 * Prepares the directory of a simulation file: the shared one is checked (and created) as private,
 * before every read too, since its owner would decide what we read. A directory the config names
 * elsewhere is the admin's: created for a write when missing, and otherwise left as it is.
 */
function ensureDirOf(file: string, { privateDir = SIMULATION_DIR, forWrite }: SimulationOptions & { forWrite: boolean }): void {
  const dir = dirname(file);
  if (dir === privateDir) ensurePrivateDir(dir);
  else if (forWrite) mkdirSync(dir, { recursive: true, mode: 0o700 });
}

/** Writes all of `text` to a new descriptor from openNoFollow, then closes it. */
function writeNoFollow(file: string, flags: number, text: string): void {
  const fd = openNoFollow(file, flags);
  try {
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
}

/**
 * A simulated net.inet.carp.demotion. Callers serialise through the evaluation lock, as they
 * must with the kernel; the write itself is atomic (rename) so a reader never sees half a value.
 */
export function createSimulatedSysctl(stateFile: string, options: SimulationOptions = {}): DemotionSysctl {
  function read(): number {
    let text: string;
    try {
      ensureDirOf(stateFile, { ...options, forWrite: false });
      text = readNoFollow(stateFile);
    } catch (error) {
      if (error instanceof CarpError) throw error;
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
        ensureDirOf(stateFile, { ...options, forWrite: true });
        writeFileAtomicSync(stateFile, `${after}\n`);
      } catch (error) {
        if (error instanceof CarpError) throw error;
        throw new CarpError("system", `Cannot write simulated demotion "${stateFile}": ${messageOf(error)}`);
      }
      return { before, after };
    },
  };
}

/** A simulated syslog: one line per message, in syslog's shape, appended to a file. */
export function createSimulatedSyslog(logFile: string, options: SimulationOptions = {}): Syslog {
  return {
    async warning(message) {
      try {
        ensureDirOf(logFile, { ...options, forWrite: true });
        const line = `${new Date().toISOString()} carp[daemon.warning]: ${message}\n`;
        writeNoFollow(logFile, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT, line);
      } catch (error) {
        if (error instanceof CarpError) throw error;
        throw new CarpError("system", `Cannot write simulated syslog "${logFile}": ${messageOf(error)}`);
      }
    },
  };
}
