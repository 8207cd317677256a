/**
 * Finds the hooks at every evaluation, so added or removed scripts count without a restart.
 * Same rules as the stock script (name order, no dotfiles, executable entries run), minus its
 * word-splitting: names are passed as argv, never through a shell.
 */
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { messageOf } from "./errors.ts";
import type { ServiceResult } from "./result.ts";

export interface Hook {
  name: string;
  path: string;
}

/** An entry that will not run: skipped (not a hook) or refused (a hook we cannot trust: fails). */
export interface NotRun {
  name: string;
  status: "skipped" | "fail";
  reason: string;
}

export interface Discovery {
  /** Hooks to run, in byte order of name. */
  hooks: Hook[];
  notRun: NotRun[];
  /** A missing or unreadable directory: reported, and it counts as zero hooks. */
  warnings: string[];
}

export interface DiscoverOptions {
  /** Apply script security (root-owned, not group/world-writable); see security rules below. */
  enforceSecurity: boolean;
}

/** Byte order of UTF-8 names, as the stock script's glob sorts in the C locale. */
export function compareNames(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** Why a file or directory cannot be trusted to decide mastership, or null. */
export function insecurityOf(what: string, info: { uid: number; mode: number }): string | null {
  if (info.uid !== 0) return `${what} is owned by uid ${info.uid}, not root`;
  if (info.mode & 0o022) {
    return `${what} is group- or world-writable (mode ${(info.mode & 0o7777).toString(8).padStart(4, "0")})`;
  }
  return null;
}

/** Lists the hooks directory and sorts its entries into hooks to run and entries not run. */
export async function discoverHooks(dir: string, options: DiscoverOptions): Promise<Discovery> {
  let names: string[];
  let dirInfo: Awaited<ReturnType<typeof stat>>;
  try {
    dirInfo = await stat(dir);
    names = await readdir(dir);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "does not exist" : code === "ENOTDIR" ? "is not a directory" : messageOf(error);
    return { hooks: [], notRun: [], warnings: [`Hooks directory "${dir}" ${why}: no service checks run`] };
  }
  const dirProblem = options.enforceSecurity ? insecurityOf(`hooks directory "${dir}"`, dirInfo) : null;

  const hooks: Hook[] = [];
  const notRun: NotRun[] = [];
  for (const name of names.filter((n) => !n.startsWith(".")).sort(compareNames)) {
    const path = join(dir, name);
    let info: Awaited<ReturnType<typeof stat>>;
    try {
      info = await stat(path);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      notRun.push({ name, status: "skipped", reason: code === "ENOENT" ? "broken symbolic link" : messageOf(error) });
      continue;
    }
    if (info.isDirectory()) {
      notRun.push({ name, status: "skipped", reason: "directory" });
    } else if (!info.isFile()) {
      notRun.push({ name, status: "skipped", reason: "not a regular file" });
    } else if ((info.mode & 0o111) === 0) {
      notRun.push({ name, status: "skipped", reason: "not executable" });
    } else {
      // Failing closed: a check that anyone could rewrite must not keep this node master.
      const problem = dirProblem ?? (options.enforceSecurity ? insecurityOf("script", info) : null);
      if (problem) notRun.push({ name, status: "fail", reason: `refused by script security: ${problem}` });
      else hooks.push({ name, path });
    }
  }
  return { hooks, notRun, warnings: [] };
}

/** The result line of an entry that did not run. */
export function notRunResult(entry: NotRun): ServiceResult {
  return {
    name: entry.name,
    status: entry.status,
    exitCode: null,
    signal: null,
    timedOut: false,
    durationMs: 0,
    output: "",
    outputDroppedBytes: 0,
    reason: entry.reason,
  };
}
