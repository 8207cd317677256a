/**
 * One run's step through the flap history, under the evaluation lock: which history the run
 * counts from, the run observed into it (flap.ts), and where the result is kept.
 *
 * | who                   | history counted from                                  | when it cannot be kept                 |
 * | the daemon            | the state file; its own memory when the file cannot   | a warning: memory keeps counting       |
 * |                       | be read, or is behind (its last write failed)         |                                        |
 * | a one-shot evaluation | the state file (check, trigger's fallback, configd)   | lost: counted again from an assumed    |
 * |                       |                                                       | history, so no promotion comes early   |
 *
 * A lost history is replaced by flap.ts's assumedHistory: with our bit set, every hook counts as
 * failed, so a promotion needs every `rise` and the whole hold-down again; with it clear, no
 * history, so a failing check demotes at once.
 */

import type { Config } from "../config/config.ts";
import type { ClockReading } from "../system/clock.ts";
import type { Logger } from "../system/log.ts";
import { assumedHistory, type FlapHistory, type FlapOutcome, type Observation, observe } from "./flap.ts";
import { thresholdsOf } from "./hook-settings.ts";
import type { KeptResult } from "./result-cache.ts";
import { type HistoryRead, readHistory, writeHistory } from "./state-file.ts";

/** Where the history is kept between processes: the state file, or a test's fake. */
export interface HistoryStore {
  /** The history, its times on `now`'s clock; never throws. */
  read(now: ClockReading): HistoryRead;
  /** Replaces the history; returns why it could not, or null. Never throws. */
  write(history: FlapHistory, now: ClockReading): string | null;
}

/** The state file at `file` (state-file.ts). */
export function fileStore(file: string): HistoryStore {
  return { read: (now) => readHistory(file, now), write: (history, now) => writeHistory(file, history, now) };
}

/** The daemon's own copy of the history, which outlives a state file that cannot be read or written. */
export interface HistoryMemory {
  /** The history as the daemon's last run left it (times on this process's clock); null before its first. */
  history: FlapHistory | null;
  /** The last write of the state file failed: the file is behind the memory. */
  fileBehind: boolean;
  /** Problems with the state file logged by the last run: a lasting one is logged once, not every run. */
  logged: ReadonlySet<string>;
}

/** A daemon's memory before its first run. */
export function emptyMemory(): HistoryMemory {
  return { history: null, fileBehind: false, logged: new Set() };
}

export interface RunInput {
  /** Each hook's raw result; `kept` for a result kept for `intervalMs` rather than run now. */
  observed: ReadonlyArray<Observation>;
  /** Monotonic ms at which this run's hooks started. */
  observedAt: number;
  now: ClockReading;
  /** The 2^20 bit as read under the lock, before any decision. */
  demoted: boolean;
  dryRun: boolean;
  fresh: boolean;
  /** The daemon's memory; absent for a one-shot evaluation. */
  memory?: HistoryMemory;
  /** Default: the config's stateFile. */
  store?: HistoryStore;
  /**
   * The results to keep for `intervalMs` after this run (result-cache.ts): those it ran and those
   * it used. Merged with the history's under the lock (the later run of each check wins); without
   * it the history's are kept as they are.
   */
  runs?: Record<string, KeptResult>;
  /** The maintenance switch is on, or cannot be told, or a check was not observed: no hold-down runs and the bit may not come off. */
  holdDemoted?: boolean;
  /** Checks not observed in this run (the gateway status could not be read): each keeps its counted state. */
  unobserved?: readonly string[];
}

export interface RunCount {
  flap: FlapOutcome;
  /** The bit as the history last recorded it, to tell an outside reset; null when unknown. */
  bitSetBefore: boolean | null;
  /** Another run whose hooks started later has decided already: this one changes nothing. */
  stale: boolean;
  /** Why this one-shot run's history is lost (not read, or not kept), or null: the caller says it. */
  lost: string | null;
  /** What the evaluation reports about the history (each logged here already). */
  warnings: string[];
  /** Records the bit as the decision left it, when it differs from the history's. */
  keepBit(demoted: boolean): void;
}

/**
 * The results to keep after a run: this run's (`ours`), each replaced by the history's when
 * another process ran that check later (it ran while these hooks did). Only ours are named: a check
 * that no longer has an interval, or is gone, keeps nothing.
 */
function mergeRuns(history: FlapHistory["runs"], ours: Record<string, KeptResult>): Record<string, KeptResult> {
  const merged: Record<string, KeptResult> = Object.create(null);
  for (const [name, run] of Object.entries(ours)) {
    const theirs = history && Object.hasOwn(history, name) ? history[name] : undefined;
    merged[name] = theirs !== undefined && theirs.ranAt > run.ranAt ? theirs : run;
  }
  return merged;
}

/**
 * The results kept for `intervalMs` as the history has them now: read before the hooks run, so
 * without the lock (the file is replaced atomically). The daemon's memory stands in for a file it
 * cannot read or that is behind it. Never throws; none when nothing can be read.
 */
export function keptResults(
  config: Config,
  { now, memory, store }: { now: ClockReading; memory?: HistoryMemory; store?: HistoryStore },
): Record<string, KeptResult> {
  const read = (store ?? fileStore(config.stateFile)).read(now);
  if (read.status === "unreadable" || (memory?.fileBehind && memory.history)) return memory?.history?.runs ?? {};
  return read.history.runs ?? {};
}

/** The history a run counts from (see the module comment), and why a one-shot run's is lost (not read). */
function historyToCountFrom(
  read: HistoryRead,
  { memory, assumed, warn }: { memory: HistoryMemory | undefined; assumed: () => FlapHistory; warn: (message: string) => void },
): { base: FlapHistory; lost: string | null } {
  if (read.status === "unreadable") {
    if (memory?.history) {
      warn(`${read.reason}; counting from the daemon's memory`);
      return { base: memory.history, lost: null };
    }
    if (memory) {
      warn(`${read.reason}; counting from now, every check taken as failing while the 2^20 bit is set`);
      return { base: assumed(), lost: null };
    }
    return { base: assumed(), lost: read.reason };
  }
  // Our last write did not land: the file lacks our latest runs, the memory has them.
  if (memory?.fileBehind && memory.history) return { base: memory.history, lost: null };
  if (read.status === "read" && read.note !== null) warn(read.note);
  return { base: read.history, lost: null };
}

/** Counts one run: see the module comment. Never throws for the state file's sake. */
export function countRun(config: Config, log: Logger, input: RunInput): RunCount {
  const { observed, observedAt, now, memory } = input;
  const warnings: string[] = [];
  const warn = (message: string) => {
    warnings.push(message);
    if (!memory?.logged.has(message)) log.warn({ kind: "state", stateFile: config.stateFile }, message);
  };
  const settings = {
    now: now.monotonicMs,
    promoteDelayMs: config.promoteDelayMs,
    thresholds: (name: string) => thresholdsOf(config, name),
    fresh: input.fresh,
    holdDemoted: input.holdDemoted === true,
    unobserved: input.unobserved ?? [],
  };
  const assumed = () => assumedHistory([...observed.map((o) => o.name), ...settings.unobserved], { demoted: input.demoted });

  const store = input.store ?? fileStore(config.stateFile);
  let { base, lost } = historyToCountFrom(store.read(now), { memory, assumed, warn });

  // Another run (a check, the fallback of a trigger, configd's evaluate) whose hooks started
  // later has decided already: these results are older than its, and must not overrule them.
  const newer = base.observedAt;
  const stale = !input.dryRun && newer !== null && newer > observedAt && newer <= now.monotonicMs;
  let flap = observe(base, observed, settings);
  const bitSetBefore = base.bitSet;
  let kept = false;
  const keep = (history: FlapHistory): string | null => {
    const notKept = store.write(history, now);
    if (memory) {
      memory.history = history;
      memory.fileBehind = notKept !== null;
    }
    return notKept;
  };
  const runs = input.runs === undefined ? flap.history.runs : mergeRuns(base.runs, input.runs);
  flap = { ...flap, history: { ...flap.history, runs } };
  if (!input.dryRun && !stale) {
    const notKept = keep({ ...flap.history, observedAt, bitSet: bitSetBefore });
    kept = notKept === null;
    if (notKept !== null && memory) {
      warn(`${notKept}; the daemon keeps counting in memory`);
    } else if (notKept !== null) {
      // Counters that cannot be kept would hold a failing check at "failing 1 of 3" forever, and
      // a stored history we cannot add to may lack a failure: count this run from the assumed one.
      lost ??= notKept;
      flap = observe(assumed(), observed, settings);
    }
  }
  if (memory && !stale && !input.dryRun) {
    if (memory.logged.size > 0 && warnings.length === 0)
      log.info({ stateFile: config.stateFile }, "the state file is read and written again");
    memory.logged = new Set(warnings);
  }
  return {
    flap,
    bitSetBefore,
    stale,
    lost,
    warnings,
    keepBit(demoted) {
      // The bit as we leave it, to tell an outside reset next time; a failure here only costs that.
      if ((kept || memory) && !stale && !input.dryRun && demoted !== bitSetBefore) keep({ ...flap.history, observedAt, bitSet: demoted });
    },
  };
}
