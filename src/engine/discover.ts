/**
 * Finds the hooks at every evaluation, so added or removed scripts count without a restart.
 * Same rules as the stock script (name order, no dotfiles, executable entries run), minus its
 * word-splitting: names are passed as argv, never through a shell. Discovery fails closed: an
 * entry it cannot name or trust fails, and a hooks directory it cannot read stops the evaluation.
 * Names starting with "gateway:" belong to the gateway checks (gateways.ts): such an entry fails,
 * listed as "./gateway:NAME", so every name in a result stands for one check.
 */
import { readdirSync, type Stats, statSync } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { CarpError, messageOf } from "../common/errors.ts";
import { GATEWAY_CHECK_PREFIX, gatewayOfCheck } from "../config/gateways.ts";
import type { ServiceResult } from "../protocol/wire.ts";
import {
  BLOCKING_SECURITY_FS,
  NODE_SECURITY_FS,
  newSecurityCache,
  type Runner,
  type SecurityCache,
  type SecurityFs,
  type VettedFile,
  vetHook,
} from "./script-security.ts";

export interface Hook {
  name: string;
  path: string;
  /**
   * The file script security vetted at discovery, the PATH its `#!/usr/bin/env` line was resolved
   * on and the user it was vetted for (the check before exec uses the same); null when security is
   * not enforced.
   */
  vetted: (VettedFile & { searchPath: string | undefined; runner?: Runner }) | null;
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
  /** A missing directory: reported, and it counts as zero hooks. */
  warnings: string[];
}

/** The file system calls discovery makes; tests replace them to inject failures. */
export interface DiscoveryFs extends SecurityFs {
  /** The names in `dir` as raw bytes, exactly as on disk. */
  readdir(dir: string): Promise<Buffer[]>;
  stat(path: string): Promise<Stats>;
}

// Raw names without `withFileTypes`: Bun 1.4.5 returns bare Buffers for that combination, and
// every entry is stat()ed anyway. Bun 1.3.14 returns plain Uint8Arrays for `encoding: "buffer"`,
// on which `toString("utf8")` is not a decoder: every name would read as not UTF-8 and fail.
/** Through Bun's thread pool, as NODE_SECURITY_FS: a hung file system never stalls the event loop. The default. */
export const NODE_DISCOVERY_FS: DiscoveryFs = { ...NODE_SECURITY_FS, readdir: readNamesRaw, stat };

/** Synchronous behind the promises, as BLOCKING_SECURITY_FS: faster, for one-shot commands. */
export const BLOCKING_DISCOVERY_FS: DiscoveryFs = {
  ...BLOCKING_SECURITY_FS,
  readdir: async (dir) => asBuffers(readdirSync(dir, { encoding: "buffer" })),
  stat: async (path) => statSync(path),
};

/** The names as Buffers, whatever Bun hands back. */
function asBuffers(names: ArrayLike<number>[]): Buffer[] {
  return names.map((name) => (Buffer.isBuffer(name) ? name : Buffer.from(name)));
}

async function readNamesRaw(dir: string): Promise<Buffer[]> {
  return asBuffers(await readdir(dir, { encoding: "buffer" }));
}

export interface DiscoverOptions {
  /** Apply script security (see script-security.ts). */
  enforceSecurity: boolean;
  /** The PATH the hooks run with, on which `#!/usr/bin/env NAME` finds NAME; without it such a line is refused. */
  searchPath?: string;
  /** Replaces some file system calls (tests). */
  fs?: Partial<DiscoveryFs>;
  /**
   * The user a hook runs as (`user`), vetted for too; a string says why it cannot run as the user
   * it is configured for (the hook then fails). Null or absent: root.
   */
  runnerOf?: (name: string) => Runner | string | null;
}

/** Byte order of UTF-8 names, as the stock script's glob sorts in the C locale. */
export function compareNames(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/**
 * The name of an entry that is not UTF-8, for display and JSON: printable ASCII as is, but the
 * backslash doubled, and every other byte as `\xHH`; so two such names never read the same.
 */
export function escapeName(raw: Buffer): string {
  return [...raw]
    .map((byte) => {
      if (byte === 0x5c) return "\\\\";
      return byte >= 0x20 && byte < 0x7f ? String.fromCharCode(byte) : `\\x${byte.toString(16).padStart(2, "0")}`;
    })
    .join("");
}

/** Bytes as a printf(1) format inside single quotes: octal escapes are the portable form. */
function printfFormat(raw: Buffer): string {
  return [...raw]
    .map((byte) => {
      const char = String.fromCharCode(byte);
      if (char === "%") return "%%";
      if (char === "\\") return "\\\\";
      if (byte >= 0x20 && byte < 0x7f && char !== "'") return char;
      return `\\${byte.toString(8).padStart(3, "0")}`;
    })
    .join("");
}

/** The reason a name that is not UTF-8 fails, with a command that renames it from any shell. */
function notUtf8Reason(dir: string, raw: Buffer): string {
  const path = Buffer.concat([Buffer.from(join(dir, "/")), raw]);
  return `file name is not valid UTF-8; rename it: mv -- "$(printf '${printfFormat(path)}')" "${join(dir, "NEW-NAME")}"`;
}

/** A word for sh: in single quotes, a single quote written '\''. */
function shellQuote(text: string): string {
  return `'${text.replaceAll("'", "'\\''")}'`;
}

/**
 * Why an executable entry named like a gateway check fails: the stock script would run it, so it
 * cannot be skipped, and under its own name it could not be told from the check `gateway:NAME`.
 */
function reservedNameReason(dir: string, name: string): string {
  const renamed = `${GATEWAY_CHECK_PREFIX.slice(0, -1)}_${name.slice(GATEWAY_CHECK_PREFIX.length)}`;
  return `its name is reserved: "${GATEWAY_CHECK_PREFIX}NAME" is the check of the gateway NAME ([gateways."NAME"]); rename it: mv -- ${shellQuote(join(dir, name))} ${shellQuote(join(dir, renamed))}`;
}

/** The entry of a hook that script security refuses: it fails. */
export function refusedBySecurity(name: string, problem: string): NotRun {
  return { name, status: "fail", reason: `refused by script security: ${problem}` };
}

type Classified = { hook: Hook } | { notRun: NotRun };

interface ClassifyContext {
  enforceSecurity: boolean;
  searchPath: string | undefined;
  fs: DiscoveryFs;
  cache: SecurityCache;
  runnerOf: ((name: string) => Runner | string | null) | undefined;
}

/** Decides what one entry is. */
async function classify(dir: string, raw: Buffer, context: ClassifyContext): Promise<Classified> {
  const name = raw.toString("utf8");
  // A name that does not survive decoding cannot be run or reported as it is; skipping it would
  // hide a check the stock script runs, so it fails until it is renamed.
  if (!Buffer.from(name, "utf8").equals(raw)) {
    return { notRun: { name: escapeName(raw), status: "fail", reason: notUtf8Reason(dir, raw) } };
  }
  const path = join(dir, name);
  // A file named like a gateway check is listed as "./gateway:NAME", a name no check can have.
  const reserved = gatewayOfCheck(name) !== null;
  const shown = reserved ? `./${name}` : name;
  const skip = (reason: string): Classified => ({ notRun: { name: shown, status: "skipped", reason } });
  let info: Stats;
  try {
    info = await context.fs.stat(path);
  } catch (error) {
    return skip((error as NodeJS.ErrnoException).code === "ENOENT" ? "broken symbolic link" : messageOf(error));
  }
  if (info.isDirectory()) return skip("directory");
  if (!info.isFile()) return skip("not a regular file");
  if ((info.mode & 0o111) === 0) return skip("not executable");
  if (reserved) return { notRun: { name: shown, status: "fail", reason: reservedNameReason(dir, name) } };
  // A check that cannot run as its user fails: it never runs as root instead.
  const runner = context.runnerOf?.(name) ?? undefined;
  if (typeof runner === "string") return { notRun: { name, status: "fail", reason: runner } };
  if (!context.enforceSecurity) return { hook: { name, path, vetted: null } };
  // Failing closed: a check that anyone could rewrite must not keep this node master.
  const { fs, cache, searchPath } = context;
  const vetted = await vetHook(path, { fs, cache, searchPath, runner });
  return "problem" in vetted
    ? { notRun: refusedBySecurity(name, vetted.problem) }
    : { hook: { name, path, vetted: { ...vetted.file, searchPath, ...(runner ? { runner } : {}) } } };
}

/** The raw names in the hooks directory; null when it does not exist. Throws CarpError("system") otherwise. */
async function readHooksDir(dir: string, fs: DiscoveryFs): Promise<Buffer[] | null> {
  let info: Stats;
  try {
    info = await fs.stat(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw new CarpError("system", `Cannot read hooks directory "${dir}": ${messageOf(error)}; no service was checked`, {
      cause: error,
      kind: "hooks_dir",
    });
  }
  if (!info.isDirectory()) {
    throw new CarpError("system", `Hooks directory "${dir}" is not a directory; fix: point "hooksDir" at a directory`, {
      kind: "hooks_dir",
    });
  }
  try {
    return await fs.readdir(dir);
  } catch (error) {
    throw new CarpError("system", `Cannot read hooks directory "${dir}": ${messageOf(error)}; no service was checked`, {
      cause: error,
      kind: "hooks_dir",
    });
  }
}

/**
 * Lists the hooks directory and sorts its entries into hooks to run and entries not run.
 * A missing directory is zero hooks and a warning, as with the stock script; one that exists
 * but cannot be listed throws CarpError("system"): not knowing the checks must not promote.
 */
export async function discoverHooks(dir: string, options: DiscoverOptions): Promise<Discovery> {
  const fs = { ...NODE_DISCOVERY_FS, ...options.fs };
  const names = await readHooksDir(dir, fs);
  if (names === null) return { hooks: [], notRun: [], warnings: [`Hooks directory "${dir}" does not exist: no service checks run`] };
  const visible = names.filter((raw) => raw[0] !== 0x2e).sort(Buffer.compare);
  const context = {
    enforceSecurity: options.enforceSecurity,
    searchPath: options.searchPath,
    fs,
    cache: newSecurityCache(),
    runnerOf: options.runnerOf,
  };
  const classified = await Promise.all(visible.map((raw) => classify(dir, raw, context)));
  return {
    hooks: classified.flatMap((c) => ("hook" in c ? [c.hook] : [])),
    notRun: classified.flatMap((c) => ("notRun" in c ? [c.notRun] : [])),
    warnings: [],
  };
}

/**
 * Vets a hook again right before it runs, so a file swapped or loosened since discovery does
 * not run as root, nor one whose interpreter was. Returns why it must not run, or null (always
 * null when it was not vetted). The hook must still be the file vetted; its interpreters need
 * only pass again, since a package upgrade replaces them and must not fail a check.
 */
export async function recheckHook(hook: Hook, fs: SecurityFs = NODE_SECURITY_FS): Promise<string | null> {
  if (hook.vetted === null) return null;
  const now = await vetHook(hook.path, { fs, searchPath: hook.vetted.searchPath, runner: hook.vetted.runner });
  if ("problem" in now) return `changed between discovery and exec: ${now.problem}`;
  const was = hook.vetted;
  if (now.file.dev !== was.dev || now.file.ino !== was.ino) {
    return `changed between discovery and exec: "${hook.path}" now leads to another file ("${now.file.path}", device ${now.file.dev} inode ${now.file.ino}; was "${was.path}", device ${was.dev} inode ${was.ino})`;
  }
  return null;
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
