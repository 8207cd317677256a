/**
 * The daemon's run file: what it has running that would outlive it if it were killed with -9
 * (the leader of every hook, notify script and tool it supervises, and the leftovers it is
 * ending), each with its start time. The next daemon ends, at start, what is still there; only
 * a process whose pid and start time both match the record is signalled, since a pid alone may
 * have been reused by anything since.
 *
 * It lives beside the state file (runFilePath): in /var/run on FreeBSD, which rc clears at boot,
 * when no hook can have survived anyway; in the simulation's private directory elsewhere; and in
 * a test's sandbox when the config points the state file there, so that parallel daemons of
 * different configs never read each other's.
 */
import { lstatSync, unlinkSync } from "node:fs";
import { dirname } from "node:path";
import { messageOf } from "../common/errors.ts";
import { readBoundedFile } from "../common/read-file.ts";
import { SIMULATION_DIR } from "../config/defaults.ts";
import { writeFileAtomicSync } from "./atomic-file.ts";
import type { Logger } from "./log.ts";
import { ensurePrivateDir } from "./private-dir.ts";
import { identifyProcess, listProcesses, lookNow, type RecordedProcess, runningBootId, watchRuns } from "./process-group.ts";
import { descendantsIn, type ProcessInfo, signalGroup, signalProcess } from "./tree-kernel.ts";

/** A run file is a few lines per running hook; anything larger is not one of ours. */
const MAX_RUN_FILE_BYTES = 1_048_576;
const POLL_MS = 20;
const KILL_WAIT_MS = 2000;
const RUN_FILE_MODE = 0o600;

/** The run file of a config: its state file's name with `.running` for `.state`. */
export function runFilePath(stateFile: string): string {
  return `${stateFile.endsWith(".state") ? stateFile.slice(0, -".state".length) : stateFile}.running`;
}

export interface RunFile {
  /** The daemon that wrote it: while that process lives, the file and its processes are its own. */
  daemon: RecordedProcess;
  /** Where start times restart at each boot (Linux), the boot they belong to. */
  boot: string | null;
  processes: RecordedProcess[];
}

function isRecorded(value: unknown): value is RecordedProcess {
  const p = value as RecordedProcess;
  return (
    typeof p === "object" &&
    p !== null &&
    Number.isInteger(p.pid) &&
    p.pid > 1 &&
    typeof p.start === "string" &&
    p.start !== "" &&
    typeof p.name === "string"
  );
}

/** Parses a run file; throws naming what is wrong. */
export function parseRunFile(text: string): RunFile {
  const parsed = JSON.parse(text) as RunFile;
  if (typeof parsed !== "object" || parsed === null || !isRecorded(parsed.daemon)) throw new Error("no daemon recorded");
  if (parsed.boot !== null && typeof parsed.boot !== "string") throw new Error('"boot" is not a string');
  if (!Array.isArray(parsed.processes) || !parsed.processes.every(isRecorded)) throw new Error('"processes" is not a list of processes');
  return { daemon: parsed.daemon, boot: parsed.boot, processes: parsed.processes };
}

export function formatRunFile(file: RunFile): string {
  return `${JSON.stringify(file)}\n`;
}

/** A process as it runs now, for telling whether a recorded one is still the same. */
export type Identify = (pid: number) => { start: string; pgid: number; zombie: boolean } | null;

export interface Recovery {
  /** The daemon that wrote the file still runs: nothing is ours to touch. */
  ownerAlive: boolean;
  /**
   * To be ended: the recorded processes still running as recorded, and everything now below them
   * (a hung hook's children, whatever group or session they moved to).
   */
  toEnd: Array<RecordedProcess & { leadsGroup: boolean }>;
  /** Exited since. */
  gone: RecordedProcess[];
  /** The pid now names another process (another start time): never signalled. */
  replaced: RecordedProcess[];
}

/** Whether `pid` still names the process recorded: alive (not a zombie) with the same start. */
export function isStill(recorded: RecordedProcess, identify: Identify): boolean {
  const now = identify(recorded.pid);
  return now !== null && !now.zombie && now.start === recorded.start;
}

/** Sorts the recorded processes by what runs under their pids now (`processes`, a snapshot of the table). Pure. */
export function planRecovery(file: RunFile, options: { processes: readonly ProcessInfo[]; bootId: string | null }): Recovery {
  const table = new Map(options.processes.map((p) => [p.pid, p]));
  const identify: Identify = (pid) => table.get(pid) ?? null;
  const plan: Recovery = { ownerAlive: false, toEnd: [], gone: [], replaced: [] };
  // Another boot: start times count again from zero, so a match would prove nothing, and nothing
  // of the last boot can be running.
  const sameBoot = file.boot === options.bootId;
  if (sameBoot && isStill(file.daemon, identify)) return { ...plan, ownerAlive: true };
  const ending = new Set<number>();
  const end = (p: RecordedProcess, pgid: number) => {
    if (ending.has(p.pid)) return;
    ending.add(p.pid);
    // A leader's group is its own while it lives (its pid, and so the group's number, cannot be reused).
    plan.toEnd.push({ pid: p.pid, start: p.start, name: p.name, leadsGroup: pgid === p.pid });
  };
  for (const recorded of file.processes) {
    const now = sameBoot ? identify(recorded.pid) : null;
    if (now === null || (now.zombie && now.start === recorded.start)) plan.gone.push(recorded);
    else if (now.start !== recorded.start) plan.replaced.push(recorded);
    else {
      end(recorded, now.pgid);
      for (const below of descendantsIn(options.processes, recorded.pid)) if (!below.zombie) end(below, below.pgid);
    }
  }
  return plan;
}

/**
 * Reads the run file as every file we depend on is read (bounded, never a FIFO or a device, never
 * through a link), and only when it is ours and nobody else may write it: what it names is
 * signalled as root.
 */
function readRunFile(path: string): string | null {
  // The simulation's directory sits in /tmp: it must be ours before anything in it is believed.
  if (dirname(path) === SIMULATION_DIR) ensurePrivateDir(SIMULATION_DIR);
  let stats: ReturnType<typeof lstatSync>;
  try {
    stats = lstatSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
  const uid = process.getuid?.() ?? 0;
  if (stats.isFile() && stats.uid !== uid) throw new Error(`it is owned by uid ${stats.uid}, not by us (uid ${uid})`);
  if (stats.isFile() && (stats.mode & 0o022) !== 0) {
    throw new Error(`others may write it (mode ${(stats.mode & 0o777).toString(8).padStart(4, "0")})`);
  }
  return readBoundedFile(path, { maxBytes: MAX_RUN_FILE_BYTES, noFollow: true });
}

function removeRunFile(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // Already gone, or not ours to remove: the next start judges it again.
  }
}

function signalRecorded(recorded: RecordedProcess & { leadsGroup: boolean }, signal: NodeJS.Signals): void {
  // Checked again right before each signal: the process may have exited (and its pid been reused) since.
  if (!isStill(recorded, identifyProcess)) return;
  try {
    if (recorded.leadsGroup) signalGroup(recorded.pid, signal);
    signalProcess(recorded.pid, signal);
  } catch {
    // EPERM: not ours to signal after all.
  }
}

/**
 * At daemon start: ends what a daemon killed without a shutdown left running, as its run file
 * records it (SIGTERM, up to `graceMs`, then SIGKILL), logs it in one line, and removes the file.
 * Returns false when the file belongs to a daemon that still runs: this one must not keep one then.
 */
export async function endWhatWasLeftRunning(path: string, options: { graceMs: number; log: Logger }): Promise<boolean> {
  const { log } = options;
  let file: RunFile;
  try {
    const text = readRunFile(path);
    if (text === null) return true;
    file = parseRunFile(text);
  } catch (error) {
    log.warn({ runFile: path }, `Run file "${path}" cannot be used (${messageOf(error)}); removing it`);
    removeRunFile(path);
    return true;
  }
  const plan = planRecovery(file, { processes: listProcesses(), bootId: runningBootId() });
  if (plan.ownerAlive) {
    log.warn(
      { runFile: path, pid: file.daemon.pid },
      `Run file "${path}" is kept by a daemon that is still running (pid ${file.daemon.pid}): its processes are left alone, and this daemon keeps no run file`,
    );
    return false;
  }
  if (plan.toEnd.length > 0) {
    for (const recorded of plan.toEnd) signalRecorded(recorded, "SIGTERM");
    const left = () => plan.toEnd.filter((recorded) => isStill(recorded, identifyProcess));
    const graceEnds = performance.now() + options.graceMs;
    while (left().length > 0 && performance.now() < graceEnds) await Bun.sleep(POLL_MS);
    const killEnds = performance.now() + KILL_WAIT_MS;
    while (left().length > 0 && performance.now() < killEnds) {
      for (const recorded of left()) signalRecorded(recorded, "SIGKILL");
      await Bun.sleep(POLL_MS);
    }
  }
  if (plan.toEnd.length > 0 || plan.replaced.length > 0) {
    const ended = plan.toEnd.map((p) => `${p.name} (pid ${p.pid})`).join(", ");
    const replaced = plan.replaced.map((p) => p.pid).join(", ");
    const parts = [
      plan.toEnd.length > 0
        ? `ended ${plan.toEnd.length} process${plan.toEnd.length === 1 ? "" : "es"} it left running: ${ended}`
        : "nothing it left is still running",
      ...(plan.replaced.length > 0 ? [`not signalled, as their pids now name other processes: ${replaced}`] : []),
    ];
    log.warn(
      { runFile: path, pid: file.daemon.pid, ended: plan.toEnd.map((p) => p.pid), replaced: plan.replaced.map((p) => p.pid) },
      `A previous daemon (pid ${file.daemon.pid}) stopped without a shutdown; ${parts.join("; ")}`,
    );
  }
  removeRunFile(path);
  return true;
}

/** Keeps the run file up to date until close(). */
export interface RunRecorder {
  close(): void;
}

/**
 * Records in `path` what would outlive this daemon if it were killed now (see watchRuns): the
 * file exists only while something is recorded, so a daemon whose hooks end quickly never writes
 * it. Returns null where processes cannot be identified (no pid-reuse guard, so no run file). A
 * file that cannot be written is said once and tried again at the next change.
 */
export function recordRuns(path: string, log: Logger): RunRecorder | null {
  const self = identifyProcess(process.pid);
  if (self === null) return null;
  const daemon: RecordedProcess = { pid: process.pid, start: self.start, name: "carp-service-status" };
  const boot = runningBootId();
  let written: string | null = null;
  let pending: RecordedProcess[] | null = null;
  let failed = false;
  const write = () => {
    const processes = pending ?? [];
    pending = null;
    if (processes.length === 0) {
      if (written !== null) removeRunFile(path);
      written = null;
      return;
    }
    const text = formatRunFile({ daemon, boot, processes });
    if (text === written) return;
    try {
      if (dirname(path) === SIMULATION_DIR) ensurePrivateDir(SIMULATION_DIR);
      // Not durable: after a power cut nothing it names runs any more.
      writeFileAtomicSync(path, text, { mode: RUN_FILE_MODE });
      written = text;
      failed = false;
    } catch (error) {
      if (!failed) {
        log.warn(
          { runFile: path, err: messageOf(error) },
          `Cannot write the run file "${path}": ${messageOf(error)}; if this daemon is killed with -9, the next start cannot end the hooks it leaves running`,
        );
      }
      failed = true;
    }
  };
  // Changes come in bursts (a pool of hooks ending at once): one write per burst.
  watchRuns((processes) => {
    if (pending === null) queueMicrotask(write);
    pending = processes;
  });
  return {
    close() {
      // What still runs now (a stop that timed out) is recorded, for the next start to end.
      lookNow();
      watchRuns(null);
      if (pending !== null) write();
    },
  };
}
