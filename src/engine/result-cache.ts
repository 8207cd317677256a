/**
 * Results kept for `intervalMs`: a check with an interval runs at most that often, and between its
 * runs its last result counts. They are kept in the state file with the flap history (under the
 * evaluation lock), so the daemon, `check` and trigger's fallback share them: a `check` between two
 * of the daemon's runs does not run a slow check again, and flap control sees one observation per
 * real run, whoever made it.
 *
 * A kept result counts only while what produced it is unchanged: the hook's file (device, inode,
 * size, modification and change times, so a new file, an edit, a chmod or chown, or a link pointed
 * elsewhere all rerun it) and the whole configuration (a hash of it: a reload, or a `check` with
 * another file, reruns it). Its time is monotonic, on the clock the state file stamps (a reboot
 * drops it with the hold-down's times).
 *
 * The interval is a name and a fingerprint away from any check: a gateway check (`gateway:NAME`)
 * can keep its result here too, its fingerprint made of what its result depends on.
 */
import { stat } from "node:fs/promises";
import type { ServiceResult } from "../protocol/wire.ts";

/** What of a result is kept: the raw result, not what flap control or an evaluation adds. */
export type KeptOutcome = Omit<ServiceResult, "name" | "counted" | "ranAt" | "cached" | "ageMs">;

/** One check's last real run. */
export interface KeptResult {
  /** Monotonic ms at which the run started. */
  ranAt: number;
  /** What the result depends on (fingerprintOf): another fingerprint, another run. */
  fingerprint: string;
  result: KeptOutcome;
}

/**
 * Output kept in the state file at most: the status shows the first line, and the state file
 * stays small (its reader refuses more than 1 MiB). The run's own evaluation has it all.
 */
export const KEPT_OUTPUT_MAX_CHARS = 2048;

/**
 * How much earlier than `intervalMs` a check counts as due: schedule ticks come a few ms early or
 * late, and an interval of 60 s on a 10 s schedule must run every 60 s, not every 70 s. A tenth of
 * the interval, at most a second.
 */
export function intervalSlackMs(intervalMs: number): number {
  return Math.min(1000, Math.floor(intervalMs / 10));
}

/**
 * Pure: the kept result of a check that is not due yet, or null when it must run: none kept, kept
 * from another file or config, from a time this clock cannot place (later than now), or its
 * interval (less the slack) has passed.
 */
export function keptResultFor(
  kept: KeptResult | undefined,
  { fingerprint, intervalMs, now }: { fingerprint: string | null; intervalMs: number; now: number },
): KeptResult | null {
  if (kept === undefined || fingerprint === null || kept.fingerprint !== fingerprint) return null;
  const age = now - kept.ranAt;
  if (age < 0 || age >= intervalMs - intervalSlackMs(intervalMs)) return null;
  return kept;
}

/** Pure: a run's result as it is kept (its output cut to KEPT_OUTPUT_MAX_CHARS). */
export function keepResult(service: ServiceResult, { ranAt, fingerprint }: { ranAt: number; fingerprint: string }): KeptResult {
  const { name: _name, counted: _counted, ranAt: _ranAt, cached: _cached, ageMs: _ageMs, ...result } = service;
  if (result.output.length > KEPT_OUTPUT_MAX_CHARS) {
    const cut = result.output.slice(0, KEPT_OUTPUT_MAX_CHARS);
    result.output = cut;
    result.outputDroppedBytes += Buffer.byteLength(service.output) - Buffer.byteLength(cut);
  }
  return { ranAt, fingerprint, result };
}

/** Pure: the service result a kept run stands for in an evaluation at `now` (monotonic), `wallTime` placing monotonic times. */
export function keptService(
  name: string,
  kept: KeptResult,
  { now, wallTime }: { now: number; wallTime(ms: number): string },
): ServiceResult {
  return { name, ...kept.result, ranAt: wallTime(kept.ranAt), cached: true, ageMs: Math.max(0, Math.round(now - kept.ranAt)) };
}

/** JSON with its keys sorted, so two equal configurations hash the same however their objects were built. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (typeof value === "object" && value !== null) {
    const entries = Object.keys(value)
      .sort()
      .filter((key) => (value as Record<string, unknown>)[key] !== undefined)
      .map((key) => `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key])}`);
    return `{${entries.join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

/** A short hash of the whole configuration: any change of it reruns every check with an interval. */
export function configHash(config: unknown): string {
  return new Bun.CryptoHasher("sha256").update(canonicalJson(config)).digest("hex").slice(0, 16);
}

/**
 * What a hook's result depends on: the file it runs (followed through links) and the config's
 * hash. Null when the file cannot be looked at (it is run, and says why it fails).
 */
export async function fingerprintOf(path: string, config: string): Promise<string | null> {
  try {
    const info = await stat(path, { bigint: true });
    return `${info.dev}:${info.ino}:${info.size}:${info.mtimeNs}:${info.ctimeNs}|${config}`;
  } catch {
    return null;
  }
}

function isKeptOutcome(value: unknown): value is KeptOutcome {
  if (typeof value !== "object" || value === null) return false;
  const r = value as Record<string, unknown>;
  return (
    (r.status === "pass" || r.status === "fail") &&
    (r.exitCode === null || Number.isSafeInteger(r.exitCode)) &&
    (r.signal === null || typeof r.signal === "string") &&
    typeof r.timedOut === "boolean" &&
    Number.isSafeInteger(r.durationMs) &&
    typeof r.output === "string" &&
    Number.isSafeInteger(r.outputDroppedBytes) &&
    (r.reason === null || typeof r.reason === "string") &&
    Array.isArray(r.warnings) &&
    r.warnings.every((w) => typeof w === "string")
  );
}

/**
 * The kept results of a parsed state file, without a prototype (a hook may be called
 * "__proto__"); an entry that is not one, or whose time is past `notAfter`, is left out (it is
 * only a cache: the check runs again).
 */
export function keptResultsOf(value: unknown, notAfter: number): Record<string, KeptResult> {
  const kept: Record<string, KeptResult> = Object.create(null);
  if (typeof value !== "object" || value === null || Array.isArray(value)) return kept;
  for (const [name, entry] of Object.entries(value)) {
    if (typeof entry !== "object" || entry === null) continue;
    const { ranAt, fingerprint, result } = entry as Record<string, unknown>;
    if (typeof ranAt !== "number" || !Number.isFinite(ranAt) || ranAt < 0 || ranAt > notAfter) continue;
    if (typeof fingerprint !== "string" || fingerprint.length > 256 || !isKeptOutcome(result)) continue;
    kept[name] = { ranAt, fingerprint, result };
  }
  return kept;
}
