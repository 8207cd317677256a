/** Where install puts each file on an OPNsense/FreeBSD node, with which mode (templates.ts has the texts). */
import { basename, dirname, join } from "node:path";
import { DEFAULT_CONFIG_FILE, FREEBSD_PATHS } from "../config/defaults.ts";
import { pluginTree } from "./plugin-files.ts";

/** PLUGIN_NAME of the plugin os-carp-service-status (its package is `os-` and this). */
const PLUGIN_NAME = pluginTree().name;

/** Paths relative to the install root; on the node the root is "/". */
export const LAYOUT = {
  binary: "usr/local/bin/carp-service-status",
  rcScript: "usr/local/etc/rc.d/carp_service_status",
  configdActions: "usr/local/opnsense/service/conf/actions.d/actions_carp_service_status.conf",
  sampleConfig: "usr/local/etc/carp_service_status.toml.sample",
  /** DEFAULT_CONFIG_FILE without its leading slash (a test holds them together). */
  config: "usr/local/etc/carp_service_status.toml",
  stockScript: "usr/local/sbin/carp_service_status",
  /** Run by OPNsense on every CARP state change; 50- as plugins name theirs, after core's 20- scripts. */
  syshook: "usr/local/etc/rc.syshook.d/carp/50-carp-service-status",
  /**
   * Run by OPNsense on gateway alarms (rc.routing_configure: `rc.syshook monitor GW,...`), after
   * core's 20-recover; the same request and marks as the CARP event hook.
   */
  monitorHook: "usr/local/etc/rc.syshook.d/monitor/50-carp-service-status",
  /**
   * With --replace-stock: run by core's package after every install or upgrade (`rc.syshook
   * update`), it puts the shim back when a firmware update reinstalled the stock script.
   */
  updateHook: "usr/local/etc/rc.syshook.d/update/50-carp-service-status",
  /**
   * The version file plugins.mk adds to every plugin's package: present exactly while the package
   * os-carp-service-status is installed. install never writes it.
   */
  pluginVersion: `usr/local/opnsense/version/${PLUGIN_NAME}`,
  /** Owned by install: the manifest and the kept stock script live here. */
  dataDir: "usr/local/share/carp-service-status",
  manifest: "usr/local/share/carp-service-status/install.json",
  keptStock: "usr/local/share/carp-service-status/carp_service_status.stock",
} as const;

/** Modes of the files install writes that are not in INSTALLED_FILES, and of its directories. */
export const MODES = {
  shim: 0o755,
  manifest: 0o644,
  directory: 0o755,
} as const;

/**
 * Which package a file belongs to where packages exist (ports/ and opnsense/ in the repository):
 * - `runtime`: the port sysutils/carp-service-status (its pkg-plist lists them; the executable is
 *   its wrapper and bundle there);
 * - `plugin`: the plugin os-carp-service-status (the GUI); install skips them when that package is
 *   installed;
 * - `replace-stock`: only install's, with --replace-stock; no package may replace a file of core's.
 */
export type FilePart = "runtime" | "plugin" | "replace-stock";

/** A file install puts in place and tracks in the manifest. */
export interface InstalledFile {
  path: string;
  /** rc.d scripts in ports are 0755 too (base uses 0555). */
  mode: number;
  part: FilePart;
  /** Edited since install (its sha256 differs from the manifest's): neither rewritten nor removed. */
  keepEdits?: boolean;
}

/** The plugin's files, where its package puts them (plugin-tree.ts), in the order of their paths. */
export const PLUGIN_FILES: readonly InstalledFile[] = pluginTree().files.map(({ path, mode }) => ({ path, mode, part: "plugin" }));

/**
 * The files install tracks, in install order: a file comes after what it calls (the executable
 * first; the plugin calls the rc.d script and the executable; the update hook the executable), and
 * uninstall removes them in the reverse order. A new file is a new row here (and its content in
 * install.ts); the manifest, its journal and uninstall follow from this table.
 */
export const INSTALLED_FILES: readonly InstalledFile[] = [
  { path: LAYOUT.binary, mode: 0o755, part: "runtime" },
  { path: LAYOUT.rcScript, mode: 0o755, part: "runtime" },
  { path: LAYOUT.configdActions, mode: 0o644, part: "runtime" },
  { path: LAYOUT.sampleConfig, mode: 0o644, part: "runtime", keepEdits: true },
  { path: LAYOUT.syshook, mode: 0o755, part: "runtime" },
  { path: LAYOUT.monitorHook, mode: 0o755, part: "runtime" },
  ...PLUGIN_FILES,
  { path: LAYOUT.updateHook, mode: 0o755, part: "replace-stock" },
];

/** A path of INSTALLED_FILES. */
export type TrackedFile = string;

/** The paths of INSTALLED_FILES, in install order. */
export const TRACKED_FILES: readonly TrackedFile[] = INSTALLED_FILES.map((file) => file.path);

/** The row of a tracked path. */
export function installedFile(path: string): InstalledFile | undefined {
  return INSTALLED_FILES.find((file) => file.path === path);
}

/** The directories only the plugin's files need: install leaves them to the package when it is installed. */
export function pluginOnlyDirs(): Set<string> {
  const others = new Set(
    [...INSTALLED_FILES.filter((file) => file.part !== "plugin").map((file) => file.path), LAYOUT.manifest, LAYOUT.keptStock].flatMap(
      ancestors,
    ),
  );
  return new Set(PLUGIN_FILES.flatMap((file) => ancestors(file.path)).filter((dir) => !others.has(dir)));
}

/** The directories above a layout path, deepest first. */
export function ancestors(path: string): string[] {
  const dirs: string[] = [];
  for (let dir = dirname(path); dir !== "." && dir !== "/"; dir = dirname(dir)) dirs.push(dir);
  return dirs;
}

/** Directories install may create: the parents of what it writes (never usr/local/sbin's). */
export const OWNED_DIRS: readonly string[] = [...new Set([...TRACKED_FILES, LAYOUT.manifest, LAYOUT.keptStock].flatMap(ancestors))];

/** Every file install writes (through a temporary file beside it, see temporaryOf). */
export const WRITTEN_FILES: readonly string[] = [...TRACKED_FILES, LAYOUT.stockScript, LAYOUT.keptStock, LAYOUT.manifest];

/** rc.syshook runs every file in each directory below this one (`find -type f`), dotfiles too. */
const SYSHOOK_ROOT = "usr/local/etc/rc.syshook.d";

/**
 * The temporary file install writes `path` through. A fixed name, so that a run killed mid-write
 * leaves a file the next run knows to remove; created with O_EXCL, so a file or link already
 * there is never written through. Hidden, and beside the file, except in an rc.syshook.d class
 * directory, where rc.syshook would run it: there it goes one level up (the same file system,
 * so the rename stays atomic).
 */
export function temporaryOf(path: string): string {
  const dir = dirname(path);
  const beside = dirname(dir) === SYSHOOK_ROOT ? SYSHOOK_ROOT : dir;
  return join(beside, `.${basename(path)}.carp-service-status.tmp`);
}

/**
 * The name under which the manifest's directories are built before they appear, and taken apart
 * after they are gone: the highest one that install creates (or uninstall removes) is renamed
 * from (or to) `STAGING` in its parent, so that the manifest and its directories come and go in
 * one rename. A kill in between leaves this name, which the next run removes.
 */
export const STAGING = ".carp-service-status.staging";

/** Absolute paths on the node the installed texts refer to: they never contain --root. */
export interface NodePaths {
  binary: string;
  config: string;
  keptStock: string;
  logger: string;
  /** nc(1): OpenBSD netcat, in FreeBSD's base system. */
  nc: string;
  /** The daemon's socket at its default path (the shim and the CARP event hook read no config). */
  socket: string;
  /** Prefix of the event hooks' marks (`.busy`, `.pending`): one fallback evaluation at a time, for CARP events and gateway alarms alike. */
  syshookMark: string;
  /** The stock carp_service_status, or our shim in its place. */
  stockScript: string;
}

/** The node's paths for the standard layout. */
export const NODE_PATHS: NodePaths = {
  binary: `/${LAYOUT.binary}`,
  config: DEFAULT_CONFIG_FILE,
  keptStock: `/${LAYOUT.keptStock}`,
  logger: "/usr/bin/logger",
  nc: "/usr/bin/nc",
  socket: FREEBSD_PATHS.socket,
  syshookMark: "/var/run/carp_service_status.syshook",
  stockScript: `/${LAYOUT.stockScript}`,
};
