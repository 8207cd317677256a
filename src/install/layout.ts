/** Where install puts each file on an OPNsense/FreeBSD node, with which mode (templates.ts has the texts). */
import { DEFAULT_CONFIG_FILE, FREEBSD_PATHS } from "../config/defaults.ts";

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
  /** Owned by install: the manifest and the kept stock script live here. */
  dataDir: "usr/local/share/carp-service-status",
  manifest: "usr/local/share/carp-service-status/install.json",
  keptStock: "usr/local/share/carp-service-status/carp_service_status.stock",
} as const;

/** Modes of the installed files. rc.d scripts in ports are 0755 too (base uses 0555). */
export const MODES = {
  binary: 0o755,
  rcScript: 0o755,
  configdActions: 0o644,
  sampleConfig: 0o644,
  syshook: 0o755,
  shim: 0o755,
  manifest: 0o644,
  directory: 0o755,
} as const;

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
  /** Prefix of the CARP event hook's marks (`.busy`, `.pending`): one fallback evaluation at a time. */
  syshookMark: string;
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
};
