/**
 * The install manifest (`usr/local/share/carp-service-status/install.json`): what install wrote,
 * so uninstall removes exactly that. Validated with zod when read, against the layout: uninstall
 * deletes what it lists, so an edited or damaged manifest must not be able to name anything else.
 */
import { readFileSync } from "node:fs";
import { dirname } from "node:path";
import { z } from "zod";
import { CarpError, messageOf } from "../common/errors.ts";
import { VERSION } from "../common/version.ts";
import { at, fsFailure } from "./file-ops.ts";
import { LAYOUT } from "./layout.ts";

/** The files install tracks by hash (the shim and the kept stock copy are recorded under `stock`). */
export const TRACKED_FILES = [LAYOUT.binary, LAYOUT.rcScript, LAYOUT.configdActions, LAYOUT.sampleConfig, LAYOUT.syshook] as const;
export type TrackedFile = (typeof TRACKED_FILES)[number];

/** The directories above a layout path, deepest first. */
export function ancestors(path: string): string[] {
  const dirs: string[] = [];
  for (let dir = dirname(path); dir !== "." && dir !== "/"; dir = dirname(dir)) dirs.push(dir);
  return dirs;
}

/** Directories install may create: the parents of what it writes (never usr/local/sbin's). */
export const OWNED_DIRS = [...new Set([...TRACKED_FILES, LAYOUT.manifest, LAYOUT.keptStock].flatMap(ancestors))];

const sha256 = z.string().regex(/^[0-9a-f]{64}$/);

const manifestSchema = z.strictObject({
  format: z.literal(1),
  /** The version that last wrote it. */
  version: z.string(),
  /** Directories install created (it removes them on uninstall when empty). */
  directories: z.array(z.enum(OWNED_DIRS as [string, ...string[]])),
  files: z.partialRecord(z.enum(TRACKED_FILES), z.strictObject({ sha256, mode: z.number().int() })),
  /** The stock script kept aside by --replace-stock, or null. */
  stock: z
    .strictObject({ path: z.literal(LAYOUT.stockScript), kept: z.literal(LAYOUT.keptStock), sha256, mode: z.number().int() })
    .nullable(),
});

/** What install wrote: files with their hashes, the directories it created, the kept stock script. */
export type Manifest = z.infer<typeof manifestSchema>;

/** The manifest before anything was installed. */
export function emptyManifest(): Manifest {
  return { format: 1, version: VERSION, directories: [], files: {}, stock: null };
}

/** Reads the manifest; null when there is none. A damaged one is an error naming it. */
export function readManifest(root: string, command: "install" | "uninstall"): Manifest | null {
  const path = at(root, LAYOUT.manifest);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw fsFailure(error, { action: "read", path, command });
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new CarpError("system", `Cannot parse install manifest "${path}": ${messageOf(error)}`, { cause: error });
  }
  const result = manifestSchema.safeParse(data);
  if (!result.success) throw new CarpError("system", `Invalid install manifest "${path}":\n${z.prettifyError(result.error)}`);
  return result.data;
}

/** The manifest as written: sorted, so an unchanged install writes the same bytes. */
export function formatManifest(manifest: Manifest): string {
  const sorted: Manifest = {
    ...manifest,
    directories: [...manifest.directories].sort(),
    files: Object.fromEntries(Object.entries(manifest.files).sort(([a], [b]) => a.localeCompare(b))),
  };
  return `${JSON.stringify(sorted, null, 2)}\n`;
}
