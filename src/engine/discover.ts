/**
 * Finds the hooks at every evaluation, so added or removed scripts count without a restart.
 * Same rules as the stock script (name order, no dotfiles, executable entries run), minus its
 * word-splitting: names are passed as argv, never through a shell.
 */
import type { Dirent, Stats } from "node:fs";
import { readdir, realpath, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { messageOf } from "../common/errors.ts";
import type { ServiceResult } from "../protocol/wire.ts";

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

type Classified = { hook: Hook } | { notRun: NotRun };

/** Decides what one entry is; `dirProblem` is the hooks directory's own insecurity, if any. */
async function classify(dir: string, entry: Dirent, options: DiscoverOptions & { dirProblem: string | null }): Promise<Classified> {
  const { name } = entry;
  const path = join(dir, name);
  const skip = (reason: string): Classified => ({ notRun: { name, status: "skipped", reason } });
  let info: Stats;
  try {
    info = await stat(path);
  } catch (error) {
    return skip((error as NodeJS.ErrnoException).code === "ENOENT" ? "broken symbolic link" : messageOf(error));
  }
  if (info.isDirectory()) return skip("directory");
  if (!info.isFile()) return skip("not a regular file");
  if ((info.mode & 0o111) === 0) return skip("not executable");
  if (!options.enforceSecurity) return { hook: { name, path } };
  // Failing closed: a check that anyone could rewrite must not keep this node master.
  let problem = options.dirProblem ?? insecurityOf("script", info);
  if (problem === null && entry.isSymbolicLink()) {
    // A link is as trustworthy as the directory its target can be replaced in.
    const targetDir = dirname(await realpath(path));
    problem = insecurityOf(`directory "${targetDir}" of the link target`, await stat(targetDir));
  }
  return problem ? { notRun: { name, status: "fail", reason: `refused by script security: ${problem}` } } : { hook: { name, path } };
}

/** Lists the hooks directory and sorts its entries into hooks to run and entries not run. */
export async function discoverHooks(dir: string, options: DiscoverOptions): Promise<Discovery> {
  let entries: Dirent[];
  let dirInfo: Stats;
  try {
    dirInfo = await stat(dir);
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "does not exist" : code === "ENOTDIR" ? "is not a directory" : messageOf(error);
    return { hooks: [], notRun: [], warnings: [`Hooks directory "${dir}" ${why}: no service checks run`] };
  }
  const dirProblem = options.enforceSecurity ? insecurityOf(`hooks directory "${dir}"`, dirInfo) : null;
  const visible = entries.filter((e) => !e.name.startsWith(".")).sort((a, b) => compareNames(a.name, b.name));
  const classified = await Promise.all(visible.map((entry) => classify(dir, entry, { ...options, dirProblem })));
  return {
    hooks: classified.flatMap((c) => ("hook" in c ? [c.hook] : [])),
    notRun: classified.flatMap((c) => ("notRun" in c ? [c.notRun] : [])),
    warnings: [],
  };
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
    warnings: [],
  };
}
