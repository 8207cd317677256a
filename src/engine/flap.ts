/**
 * Flap control and the promotion hold-down, as a pure function of the history, the new raw
 * results and the time. The kernel's 2^20 bit stays the only truth about "demoted or not"; this
 * only gates when a hook's counted state changes, and when the bit may come off.
 *
 * | situation                                   | counted state                          |
 * | first observation of a hook                 | its raw result, at once                |
 * | raw result equals the counted state         | unchanged, streak back to 0            |
 * | raw fail while counted pass                 | fail after `fall` such runs in a row   |
 * | raw pass while counted fail                 | pass after `rise` such runs in a row   |
 *
 * A result kept for `intervalMs` (result-cache.ts) is no new run: it leaves the hook's counted
 * state and streak as they are, so flap control counts one observation per real run. A check not
 * observed at all (a gateway whose status could not be read) keeps its state and streak too; one
 * with no history has no counted state.
 *
 * The hold-down starts when every hook counts as passing and none failed its last run, and is
 * broken by any failed run, and by the maintenance switch while it is on (so turning it off runs
 * the whole hold-down). The bit may come off once it has lasted `promoteDelayMs` (at once with the
 * default 0), and never in a run in which a check failed.
 *
 * Every time here is a monotonic reading in ms (system/clock.ts): a stepped wall clock can neither
 * end a hold-down early nor stretch it. The state file's reader hands over only times taken on
 * this process's clock (state-file.ts).
 */
import type { CountedState } from "../protocol/wire.ts";
import type { KeptResult } from "./result-cache.ts";

export type Raw = "pass" | "fail";

/** What one hook's history holds between runs. */
export interface HookHistory {
  state: Raw;
  streak: number;
}

/** What outlives one process (the state file). */
export interface FlapHistory {
  hooks: Record<string, HookHistory>;
  /** Monotonic ms since which every hook has counted as passing without a failed run; null while not. */
  passingSince: number | null;
  /** The 2^20 bit as this tool last saw it after its decision, to tell an outside reset; null when unknown. */
  bitSet: boolean | null;
  /**
   * Monotonic ms at which the hooks of the run that wrote this history started. A run whose hooks
   * started earlier observed an older world and must not overrule it (see flap-history.ts countRun).
   */
  observedAt: number | null;
  /** The last real run of each check with an `intervalMs`, whose result counts until it is due again (none when absent). */
  runs?: Record<string, KeptResult>;
}

export interface FlapSettings {
  /** Monotonic ms. */
  now: number;
  /**
   * A daemon's first run: a failing hook counts as failed at once (a check failing at start demotes
   * at once), a passing one keeps a stored failed state and its rise (a restart never promotes
   * early), and the hold-down starts now.
   */
  fresh?: boolean;
  promoteDelayMs: number;
  /** fall and rise of a hook (its own, or the top-level defaults). */
  thresholds(name: string): { fall: number; rise: number };
  /**
   * The bit may not come off in this run, and no hold-down runs: the maintenance switch is on (or
   * cannot be told), or a check could not be observed.
   */
  holdDemoted?: boolean;
  /** Checks not observed in this run (the gateway status could not be read): each keeps its history as it was. */
  unobserved?: readonly string[];
}

export interface FlapOutcome {
  /** The history to keep (bitSet as before: the caller sets it after the decision). */
  history: FlapHistory;
  /** Counted state of every observed hook. */
  counted: Map<string, CountedState>;
  /** Hooks that count as failed, in the order observed. */
  failed: string[];
  /** Hooks whose counted state changed in this run (from null: first observation). */
  changes: Array<{ name: string; from: Raw | null; to: Raw }>;
  /**
   * Whether the 2^20 bit may come off now: every hook counts as passing, none failed this run,
   * and the hold-down has passed.
   */
  mayPromote: boolean;
  /** While every hook passes but the hold-down has not passed: when it started and when it ends. */
  hold: { passingSince: number; until: number } | null;
}

/** An empty history: every hook's next observation sets its state directly. */
export const NO_HISTORY: FlapHistory = { hooks: {}, passingSince: null, bitSet: null, observedAt: null };

/**
 * The history to assume when the real one is lost (the state file cannot be read, or this run's
 * cannot be kept): with our bit set, every hook counts as failed, so a promotion still needs each
 * hook's `rise` and the whole hold-down, counted from now; with the bit clear, no history, so a
 * failing check demotes at once. Never earlier than the lost history would have allowed.
 */
export function assumedHistory(names: readonly string[], { demoted }: { demoted: boolean }): FlapHistory {
  if (!demoted) return NO_HISTORY;
  const hooks: Record<string, HookHistory> = Object.create(null);
  for (const name of names) hooks[name] = { state: "fail", streak: 0 };
  return { hooks, passingSince: null, bitSet: null, observedAt: null };
}

function advance(previous: HookHistory | undefined, raw: Raw, { fall, rise }: { fall: number; rise: number }): HookHistory {
  if (previous === undefined) return { state: raw, streak: 0 };
  if (raw === previous.state) return { state: raw, streak: 0 };
  const streak = previous.streak + 1;
  return streak >= (raw === "fail" ? fall : rise) ? { state: raw, streak: 0 } : { state: previous.state, streak };
}

/** A hook's state after a fresh start's observation: failing at once, or keeping a stored failure. */
function advanceFresh(previous: HookHistory | undefined, raw: Raw, thresholds: { fall: number; rise: number }): HookHistory {
  if (raw === "fail" || previous?.state !== "fail") return { state: raw, streak: 0 };
  return advance(previous, raw, thresholds);
}

/**
 * A hook whose result was kept (not run again): its history as it was. Only a daemon's first run
 * takes a kept failure as failed at once, as it takes a failing run.
 */
function keepKept(previous: HookHistory | undefined, raw: Raw, { fresh }: { fresh: boolean }): HookHistory {
  if (previous === undefined || (fresh && raw === "fail")) return { state: raw, streak: 0 };
  return previous;
}

/** One observation: a hook's raw result, and whether it is a kept one (`intervalMs`) rather than a run of this evaluation. */
export interface Observation {
  name: string;
  raw: Raw;
  kept?: boolean;
}

/** Takes one run's raw results (name order) into the history. */
export function observe(previous: FlapHistory, results: ReadonlyArray<Observation>, settings: FlapSettings): FlapOutcome {
  // No prototype: a hook may be called "__proto__".
  const hooks: Record<string, HookHistory> = Object.create(null);
  const counted = new Map<string, CountedState>();
  const changes: FlapOutcome["changes"] = [];
  for (const { name, raw, kept } of results) {
    const thresholds = settings.thresholds(name);
    const before = Object.hasOwn(previous.hooks, name) ? previous.hooks[name] : undefined;
    const after = kept
      ? keepKept(before, raw, { fresh: settings.fresh === true })
      : settings.fresh
        ? advanceFresh(before, raw, thresholds)
        : advance(before, raw, thresholds);
    hooks[name] = after;
    counted.set(name, { state: after.state, streak: after.streak, needed: after.state === "pass" ? thresholds.fall : thresholds.rise });
    if (before?.state !== after.state) changes.push({ name, from: before?.state ?? null, to: after.state });
  }
  const carried = (settings.unobserved ?? []).filter((name) => Object.hasOwn(previous.hooks, name));
  for (const name of carried) {
    const before = previous.hooks[name]!;
    const { fall, rise } = settings.thresholds(name);
    hooks[name] = before;
    counted.set(name, { state: before.state, streak: before.streak, needed: before.state === "pass" ? fall : rise });
  }
  const failed = [...results.map(({ name }) => name), ...carried].filter((name) => hooks[name]!.state === "fail");
  const steady = failed.length === 0 && results.every(({ raw }) => raw === "pass") && settings.holdDemoted !== true;
  // Never in the future: a time from another clock must not stretch the hold-down.
  const since = settings.fresh || previous.passingSince === null ? settings.now : Math.min(previous.passingSince, settings.now);
  const passingSince = steady ? since : null;
  const holding = passingSince !== null && settings.now < passingSince + settings.promoteDelayMs;
  return {
    history: {
      hooks,
      passingSince,
      bitSet: previous.bitSet,
      observedAt: previous.observedAt,
      ...(previous.runs ? { runs: previous.runs } : {}),
    },
    counted,
    failed,
    changes,
    mayPromote: passingSince !== null && !holding,
    hold: passingSince !== null && holding ? { passingSince, until: passingSince + settings.promoteDelayMs } : null,
  };
}
