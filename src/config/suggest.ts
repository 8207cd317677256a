/**
 * "Did you mean": the known name nearest to a mistyped one. Pure, and free of zod, so the schema's
 * messages, `config`, doctor and an evaluation's warnings all suggest the same way.
 */
import { escapeControl } from "../common/escape.ts";

/**
 * Case, `-` and `_` are not what tells names apart here: `hooksdir`, `hook_timeout_ms` and
 * `frr-ospf` are taken as `hooksDir`, `hookTimeoutMs` and `frr_ospf` written another way.
 */
function normalize(name: string): string {
  return name.toLowerCase().replace(/[-_]/g, "");
}

/** Edits (insert, delete, substitute, swap two neighbours) from one string to the other. */
function editDistance(a: string, b: string): number {
  // Three rows of the optimal-string-alignment table: the one before last, the last, this one.
  let older: number[] = [];
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, older[j - 2]! + 1);
      current.push(best);
    }
    older = previous;
    previous = current;
  }
  return previous[b.length]!;
}

/** How far a candidate is from the typo, or null when it is too far to be what was meant. */
function closeness(typo: string, candidate: string): number | null {
  const a = normalize(typo);
  const b = normalize(candidate);
  const distance = editDistance(a, b);
  // About one edit in three: "hookDir" finds "hooksDir", "fal" finds "fall", "delay" finds nothing.
  if (distance <= Math.max(1, Math.floor(Math.max(a.length, b.length) / 3))) return distance;
  // A unit or an extension left off: "timeout" for "timeoutMs", "unbound" for "unbound.sh".
  const [shorter, longer] = a.length < b.length ? [a, b] : [b, a];
  if (shorter.length >= 3 && longer.startsWith(shorter)) return distance;
  return null;
}

/**
 * The candidate nearest to `typo` (the first of equals, in the order given), or null when none is
 * near, or when `typo` is one of them: a known name is no typo.
 */
export function nearestName(typo: string, candidates: Iterable<string>): string | null {
  let best: string | null = null;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) {
    if (candidate === typo) return null;
    const distance = closeness(typo, candidate);
    if (distance !== null && distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/** `; did you mean "NAME"?` for the nearest candidate, or nothing. */
export function didYouMean(typo: string, candidates: Iterable<string>): string {
  const nearest = nearestName(typo, candidates);
  return nearest === null ? "" : `; did you mean "${escapeControl(nearest)}"?`;
}

/** How a key is quoted in a message: control characters made visible. */
function quoted(key: string): string {
  return `"${escapeControl(key)}"`;
}

/** What is known about the keys a table takes, for the message about one it does not. */
export interface KnownKeys {
  /** The keys this table takes. */
  keys: readonly string[];
  /** The top-level keys, for a table: one of them here was most likely written below the table's header. */
  topLevel?: readonly string[];
}

/** One line for each key a table does not take: the nearest known key where one is near. */
export function unknownKeysMessage(keys: readonly string[], known: KnownKeys): string {
  return keys.map((key) => unknownKeyMessage(key, known)).join("\n");
}

function unknownKeyMessage(key: string, known: KnownKeys): string {
  if (known.topLevel?.includes(key)) {
    // In TOML every key after a [table] header belongs to that table, up to the next header.
    return `Unknown key ${quoted(key)} in this table: it is a top-level key, and below a [table] header it belongs to that table; move it above the first [table]`;
  }
  return `Unknown key ${quoted(key)}${didYouMean(key, known.keys)}`;
}
