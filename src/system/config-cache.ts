/**
 * The validated-config cache: what reading, parsing and validating a config file gave (the config
 * and its warnings), kept in a root-only file so that the next run with the same file skips
 * smol-toml and zod entirely, and does not even load them. Reading and validating a config with
 * zod is the largest part of a cold `check` (about 15 ms of 45; docs/benchmarks.md), and a daemon
 * that never validates in its own process keeps zod out of its memory.
 *
 * An entry is keyed by the sha256 of: the config's text, our version, the schema's fingerprint (the
 * source of src/config/ and the versions of zod, smol-toml and croner, taken when built), the Bun
 * that parses the TOML (1.3 and 1.4 read escapes differently), the platform and its default paths.
 * An entry whose config names a group or user also records the sha256 of the group and password
 * files it was checked against. Anything else (no file, another key, a changed group file, garbage,
 * a file not owned by us, readable or writable by anyone else, or a symbolic link) is a miss, and a
 * miss validates in full: the cache can make a run faster, never different. Errors are not cached.
 */
import { closeSync, constants, existsSync, fstatSync, openSync, readSync } from "node:fs";
import { dirname } from "node:path";
import { CarpError, type ErrorCode, messageOf } from "../common/errors.ts";
import { VERSION } from "../common/version.ts";
import type { Config, LoadedConfig, LoadOptions } from "../config/config.ts";
import { DEFAULT_CONFIG_FILE, defaultPaths, FREEBSD_PATHS, hasCarp, SIMULATION_DIR } from "../config/defaults.ts";
import { schemaFingerprint } from "../config/fingerprint.ts" with { type: "macro" };
import { GROUP_FILE } from "../config/group.ts";
import { type ConfigWarning, describeSimulation } from "../config/notices.ts";
import { readConfigText } from "../config/read-config.ts";
import { PASSWD_FILE } from "../config/users.ts";
import { writeFileAtomicSync } from "./atomic-file.ts";

/** Only root (the owner) reads or writes it: a planted entry would choose our hooks directory. */
export const CONFIG_CACHE_MODE = 0o600;

/** Far above any entry: a config is at most 1 MiB of text. */
const CACHE_MAX_BYTES = 4 * 1024 * 1024;

/** Bumped when the entry's shape changes. */
const CACHE_FORMAT = 1;

/** The schema's fingerprint, inlined when the code is transpiled or bundled. */
const FINGERPRINT = schemaFingerprint();

/**
 * Where the cache lives: beside the maintenance switch, in a directory that survives a reboot
 * (/var/db on FreeBSD: the boot hook's `check`, the first run after boot, hits it), or in the
 * simulation's private directory elsewhere.
 */
export function configCachePath(platform: string = process.platform): string {
  return hasCarp(platform)
    ? `${dirname(FREEBSD_PATHS.maintenanceFile)}/carp_service_status.config-cache`
    : `${SIMULATION_DIR}/config-cache`;
}

/** A file whose content an entry's validation read, with the sha256 of that content. */
interface Dependency {
  path: string;
  sha256: string;
}

/** Entries kept, newest first: a node has one config, tests and benchmarks alternate several. */
const MAX_ENTRIES = 8;

/** What is stored: the entries, newest first. */
interface CacheFile {
  format: number;
  entries: CacheEntry[];
}

/** One validation. */
interface CacheEntry {
  key: string;
  config: Config;
  warnings: ConfigWarning[];
  dependencies: Dependency[];
}

/** What a validation gives, and what a hit gives back. */
export interface Validated {
  config: Config;
  warnings: ConfigWarning[];
}

function sha256(text: string | Uint8Array): string {
  return new Bun.CryptoHasher("sha256").update(text).digest("hex");
}

/** The key of a config text on this platform, with this program, schema and Bun. */
export function configCacheKey(text: string, platform: string = process.platform): string {
  const context = [CACHE_FORMAT, VERSION, FINGERPRINT, Bun.version, platform, JSON.stringify(defaultPaths(platform))].join("\0");
  return sha256(`${context}\0${text}`);
}

/** The sha256 of a file's content, or "" when it cannot be read (a missing group file is a state too). */
function fileHash(path: string): string {
  try {
    return sha256(readOwnFile(path, CACHE_MAX_BYTES, null) ?? "");
  } catch {
    return "";
  }
}

/** The files a config's validation looked up: the group and password files, when it names a group or user. */
function dependenciesOf(config: Config, files: { groupFile: string; passwdFile: string }): Dependency[] {
  const namesUser = Object.values(config.hooks).some((hook) => hook.user !== undefined);
  const paths = [...(config.socketGroup !== undefined || namesUser ? [files.groupFile] : []), ...(namesUser ? [files.passwdFile] : [])];
  return paths.map((path) => ({ path, sha256: fileHash(path) }));
}

/**
 * A file's text, never through a symbolic link, read only when it is a regular file; with `uid`,
 * only when that uid owns it and nobody else may read or write it. Null otherwise.
 */
function readOwnFile(path: string, maxBytes: number, uid: number | null): string | null {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile() || stats.size > maxBytes) return null;
    if (uid !== null && (stats.uid !== uid || (stats.mode & 0o777) !== CONFIG_CACHE_MODE)) return null;
    const buffer = Buffer.allocUnsafe(stats.size);
    let length = 0;
    while (length < buffer.length) {
      const n = readSync(fd, buffer, length, buffer.length - length, null);
      if (n === 0) break;
      length += n;
    }
    return buffer.toString("utf8", 0, length);
  } finally {
    closeSync(fd);
  }
}

function isEntry(value: unknown): value is CacheEntry {
  const entry = value as Partial<CacheEntry> | null;
  return (
    typeof entry === "object" &&
    entry !== null &&
    typeof entry.key === "string" &&
    typeof entry.config === "object" &&
    entry.config !== null &&
    Array.isArray(entry.warnings) &&
    Array.isArray(entry.dependencies)
  );
}

/** The well-formed entries of the cache file, newest first; none when it is missing, foreign or not ours. Never throws. */
function readEntries(cacheFile: string): CacheEntry[] {
  try {
    const text = readOwnFile(cacheFile, CACHE_MAX_BYTES, process.geteuid?.() ?? 0);
    if (text === null) return [];
    const file = JSON.parse(text) as Partial<CacheFile> | null;
    if (file?.format !== CACHE_FORMAT || !Array.isArray(file.entries)) return [];
    return file.entries.filter(isEntry);
  } catch {
    return [];
  }
}

/** The entry for `key`, or null on any miss (see the file's comment). Never throws. */
export function readConfigCache(cacheFile: string, key: string): Validated | null {
  const entry = readEntries(cacheFile).find((candidate) => candidate.key === key);
  if (entry === undefined) return null;
  if (entry.dependencies.some((dependency) => fileHash(dependency.path) !== dependency.sha256)) return null;
  return { config: entry.config, warnings: entry.warnings };
}

/**
 * Stores a validation under `key`, mode 0600, atomically (a reader sees the old entry or the new).
 * A cache that cannot be written (not root, no such directory) is skipped: it only saves time.
 * Returns why it was not written, or null.
 */
export function writeConfigCache(
  cacheFile: string,
  key: string,
  validated: Validated,
  files: { groupFile?: string; passwdFile?: string } = {},
): string | null {
  const entry: CacheEntry = {
    key,
    config: validated.config,
    warnings: validated.warnings,
    dependencies: dependenciesOf(validated.config, {
      groupFile: files.groupFile ?? GROUP_FILE,
      passwdFile: files.passwdFile ?? PASSWD_FILE,
    }),
  };
  try {
    const others = readEntries(cacheFile).filter((other) => other.key !== key);
    const file: CacheFile = { format: CACHE_FORMAT, entries: [entry, ...others].slice(0, MAX_ENTRIES) };
    writeFileAtomicSync(cacheFile, JSON.stringify(file), { mode: CONFIG_CACHE_MODE });
    return null;
  } catch (error) {
    return messageOf(error);
  }
}

export interface CachedLoadOptions extends LoadOptions {
  /** Default configCachePath(platform); tests give their own. */
  cacheFile?: string;
}

export interface ResidentLoadOptions extends CachedLoadOptions {
  /**
   * Where a miss is validated: "child" (a short-lived process of this program) keeps zod out of a
   * compiled or bundled daemon; from the source tree zod is in every process anyway (built-in.ts's
   * macro loads it when the code is transpiled), so the default there is "here".
   */
  validateIn?: "child" | "here";
}

/**
 * The built-in configuration (no file). Loaded only then: from the source tree its macro loads zod
 * and croner when transpiled (about 4 MB a daemon would keep for nothing).
 */
function builtIn(platform: string): LoadedConfig {
  const { builtInConfig } = require("../config/built-in.ts") as typeof import("../config/built-in.ts");
  const config = builtInConfig(platform);
  return { config, file: null, notices: describeSimulation(config, platform), warnings: [] };
}

/** The file a load reads: `--config`, else the default file when it exists, else none. */
function fileToRead(options: LoadOptions): string | null {
  return options.file ?? (existsSync(DEFAULT_CONFIG_FILE) ? DEFAULT_CONFIG_FILE : null);
}

function loaded(validated: Validated, file: string, platform: string): LoadedConfig {
  return { ...validated, file, notices: describeSimulation(validated.config, platform) };
}

/**
 * Loads the configuration for a command: the built-in one without a file (no zod), the cached
 * validation of the file when there is one, else the file validated in full (zod and smol-toml load
 * then, and only then) and cached. The same result as config.ts's loadConfig, with its warnings.
 */
export async function loadConfigCached(options: CachedLoadOptions = {}): Promise<LoadedConfig> {
  const platform = options.platform ?? process.platform;
  const file = fileToRead(options);
  if (file === null) return builtIn(platform);
  const text = readConfigText(file);
  const key = configCacheKey(text, platform);
  const cacheFile = options.cacheFile ?? configCachePath(platform);
  const hit = readConfigCache(cacheFile, key);
  if (hit !== null) return loaded(hit, file, platform);
  const { validateConfigText } = await import("../config/validate.ts");
  const validated = validateConfigText(text, { file, platform });
  writeConfigCache(cacheFile, key, validated);
  return loaded(validated, file, platform);
}

/** The hidden command that validates a config file for a daemon (see loadConfigResident). */
export const VALIDATE_COMMAND = "__validate-config";

/** What the validating process prints: the validation, or the error a load in the daemon would have thrown. */
type ValidateReply = { ok: true; config: Config; warnings: ConfigWarning[] } | { ok: false; code: ErrorCode; message: string };

/**
 * VALIDATE_COMMAND FILE [PLATFORM]: validates FILE as the daemon would, caches it, and prints one
 * JSON ValidateReply on stdout. Exit 0 either way: the reply says.
 */
export async function runValidateCommand(argv: readonly string[]): Promise<number> {
  const [, file, platform = process.platform, cacheFile = configCachePath(platform)] = argv;
  let reply: ValidateReply;
  try {
    if (file === undefined) throw new Error("no config file given");
    const { validateConfigText } = await import("../config/validate.ts");
    const text = readConfigText(file);
    const validated = validateConfigText(text, { file, platform });
    writeConfigCache(cacheFile, configCacheKey(text, platform), validated);
    reply = { ok: true, ...validated };
  } catch (error) {
    reply = { ok: false, code: error instanceof CarpError ? error.code : "config", message: messageOf(error) };
  }
  process.stdout.write(`${JSON.stringify(reply)}\n`);
  return 0;
}

/** Bun flags for a child Bun: nothing read from its directory or environment, nothing fetched (as the port's wrapper). */
const BUN_FLAGS = ["--config=/dev/null", "--no-env-file", "--no-install"];

/** Where a compiled executable runs its code from (see cli/install.ts). */
const COMPILED_PREFIXES = ["/$bunfs/", "B:/~BUN/"];

/** The command line of this program: the compiled executable, the bundle under its Bun, or src/cli.ts from the source tree. */
export function selfCommand(
  where: { modulePath: string; main: string; execPath: string } = {
    modulePath: import.meta.path,
    main: Bun.main,
    execPath: process.execPath,
  },
): string[] {
  // Told by the entry script: in CommonJS output (the bundle, the executable) import.meta.path is
  // still the path of the source the code was built from.
  if (COMPILED_PREFIXES.some((prefix) => where.main.startsWith(prefix))) return [where.execPath];
  if (where.main.endsWith(".ts")) return [where.execPath, ...BUN_FLAGS, `${dirname(dirname(where.modulePath))}/cli.ts`];
  return [where.execPath, ...BUN_FLAGS, where.main];
}

/** Whether this is src/ under Bun, not the compiled executable or the bundle. */
function runsFromSource(): boolean {
  return selfCommand().at(-1)?.endsWith(".ts") === true;
}

/** How long a validating process may take before the load fails. */
const VALIDATE_TIMEOUT_MS = 30_000;

/**
 * Loads the configuration for a long-lived process (the daemon, at start and at every reload),
 * synchronously, without loading zod or smol-toml into it: a cache hit is read here, a miss is
 * validated (and cached) by a short-lived process of this same program. Throws what loadConfig
 * would (a CarpError naming the file and every bad key).
 */
export function loadConfigResident(options: ResidentLoadOptions = {}, command: string[] = selfCommand()): LoadedConfig {
  const platform = options.platform ?? process.platform;
  const file = fileToRead(options);
  if (file === null) return builtIn(platform);
  const cacheFile = options.cacheFile ?? configCachePath(platform);
  const text = readConfigText(file);
  const key = configCacheKey(text, platform);
  const hit = readConfigCache(cacheFile, key);
  if (hit !== null) return loaded(hit, file, platform);
  if ((options.validateIn ?? (runsFromSource() ? "here" : "child")) === "here") {
    // require(), not import(): the daemon's loader is synchronous (a reload runs inside a signal handler's turn).
    const { validateConfigText } = require("../config/validate.ts") as typeof import("../config/validate.ts");
    const validated = validateConfigText(text, { file, platform });
    writeConfigCache(cacheFile, key, validated);
    return loaded(validated, file, platform);
  }
  const child = Bun.spawnSync([...command, VALIDATE_COMMAND, file, platform, cacheFile], {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    timeout: VALIDATE_TIMEOUT_MS,
  });
  const out = child.stdout.toString();
  let reply: ValidateReply;
  try {
    reply = JSON.parse(out) as ValidateReply;
  } catch {
    const why = `${child.stderr.toString().trim() || out.trim() || `exit status ${child.exitCode ?? child.signalCode}`}`;
    throw new CarpError("system", `Cannot validate config "${file}" in a child process: ${why}`);
  }
  if (!reply.ok) throw new CarpError(reply.code, reply.message);
  return loaded(reply, file, platform);
}
