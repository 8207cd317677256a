/**
 * Stand-ins for carp(4) and syslogd on machines without them: a demotion counter in a state
 * file with the kernel's additive semantics, and a message file. Selected by the value
 * "simulated" for `sysctl` or `logger`. Their directory, SIMULATION_DIR by default, is private
 * (see private-dir.ts) and none of their files is opened through a symbolic link.
 */
import { closeSync, constants, fstatSync, mkdirSync, writeSync } from "node:fs";
import { dirname, join } from "node:path";
import { CarpError, messageOf, withKind } from "../common/errors.ts";
import { describeKind, FileRefused, refusalFix } from "../common/read-file.ts";
import { SIMULATION_DIR } from "../config/defaults.ts";
import { writeFileAtomicSync } from "./atomic-file.ts";
import { ensurePrivateDir, openNoFollow, readNoFollow } from "./private-dir.ts";
import { type DemotionSysctl, type OidReader, parseDemotion } from "./sysctl.ts";
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

/** The error's message, with the fix when the file was refused for what it is. */
function withFix(error: unknown, file: string, key: string): string {
  return error instanceof FileRefused ? `${error.message}; ${refusalFix(error.stats, file, key)}` : messageOf(error);
}

/** A simulated file holds a number or a few syslog lines; anything bigger is not one of ours. */
const SIMULATION_FILE_MAX_BYTES = 64 * 1024;

/**
 * Writes all of `text` to a new descriptor from openNoFollow, then closes it. O_NONBLOCK: a FIFO
 * in place of the file must not block the open (it fails with ENXIO without a reader), and only
 * a regular file is written.
 */
function writeNoFollow(file: string, flags: number, text: string): void {
  const fd = openNoFollow(file, flags | constants.O_NONBLOCK);
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile()) throw new FileRefused("ENOTREG", `it is ${describeKind(stats)}, not a regular file`, stats);
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
      text = readNoFollow(stateFile, SIMULATION_FILE_MAX_BYTES);
    } catch (error) {
      if (error instanceof CarpError) throw withKind(error, "sysctl");
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return 0;
      throw new CarpError("system", `Cannot read simulated demotion "${stateFile}": ${withFix(error, stateFile, "simulationFile")}`, {
        kind: "sysctl",
      });
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
        if (error instanceof CarpError) throw withKind(error, "sysctl");
        throw new CarpError("system", `Cannot write simulated demotion "${stateFile}": ${messageOf(error)}`, { kind: "sysctl" });
      }
      return { before, after };
    },
  };
}

/** What the simulated kernel answers for oids other than the demotion: a node that preempts. */
const SIMULATED_OIDS: Record<string, string> = { "net.inet.carp.preempt": "1" };

/**
 * Other oids of the simulated kernel, read-only: a file named after the oid beside the state file
 * holds its value (so a test or a person can set one), else SIMULATED_OIDS; any other is unknown.
 */
export function createSimulatedOidReader(stateFile: string, options: SimulationOptions = {}): OidReader {
  return {
    async readOid(oid) {
      const file = join(dirname(stateFile), oid);
      try {
        ensureDirOf(file, { ...options, forWrite: false });
        return readNoFollow(file, SIMULATION_FILE_MAX_BYTES).trim();
      } catch (error) {
        if (error instanceof CarpError) throw withKind(error, "sysctl");
        if ((error as NodeJS.ErrnoException).code !== "ENOENT") {
          throw new CarpError("system", `Cannot read simulated oid "${file}": ${withFix(error, file, "simulationFile")}`, {
            kind: "sysctl",
          });
        }
      }
      const value = SIMULATED_OIDS[oid];
      if (value === undefined) {
        throw new CarpError("system", `sysctl -n ${oid} failed: sysctl: unknown oid '${oid}' (simulated)`, { kind: "sysctl" });
      }
      return value;
    },
  };
}

/** One syslog record as the simulation keeps it. */
export interface SimulatedRecord {
  ident: string;
  /** A priority of facility daemon, as logger(1) -p names it: "warning", "info". */
  priority: string;
  message: string;
}

/** Appends one record to the simulated syslog, in syslog's shape: `TIME IDENT[daemon.PRIORITY]: MESSAGE`. */
export function appendSimulatedSyslog(logFile: string, record: SimulatedRecord, options: SimulationOptions = {}): void {
  try {
    ensureDirOf(logFile, { ...options, forWrite: true });
    const line = `${new Date().toISOString()} ${record.ident}[daemon.${record.priority}]: ${record.message}\n`;
    writeNoFollow(logFile, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT, line);
  } catch (error) {
    if (error instanceof CarpError) throw withKind(error, "syslog");
    throw new CarpError("system", `Cannot write simulated syslog "${logFile}": ${withFix(error, logFile, "simulationLog")}`, {
      kind: "syslog",
    });
  }
}

/** A simulated syslog for the stock lines (ident carp, daemon.warning), appended to a file. */
export function createSimulatedSyslog(logFile: string, options: SimulationOptions = {}): Syslog {
  return {
    async warning(message) {
      appendSimulatedSyslog(logFile, { ident: "carp", priority: "warning", message }, options);
    },
  };
}
