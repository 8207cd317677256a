/**
 * The install manifest (`usr/local/share/carp-service-status/install.json`), which is also the
 * journal of the operation under way. It records what is in place (files with their sha256, the
 * directories install created, the stock script kept aside) and, while install or uninstall runs,
 * the steps still to do. It is written durably before the first change and again after each step
 * lands, so a run killed at any point leaves a manifest from which the next run knows what is
 * ours: the first pending step may have landed or not (settleManifest looks), the rest have not.
 *
 * Validated with zod when read, against the layout: uninstall deletes what it lists, so an edited
 * or damaged manifest must not be able to name anything else.
 */
import { z } from "zod";
import { CarpError, messageOf, withKind } from "../common/errors.ts";
import { FileRefused, readBoundedFile } from "../common/read-file.ts";
import { VERSION } from "../common/version.ts";
import { at, type Command, type FileState, fsFailure, isMissing } from "./file-ops.ts";
import { LAYOUT, OWNED_DIRS, TRACKED_FILES, type TrackedFile } from "./layout.ts";

export const MANIFEST_FORMAT = 2;

/** A manifest is a few KiB; anything near this is not one. */
const MANIFEST_MAX_BYTES = 1 << 20;

const sha256 = z.string().regex(/^[0-9a-f]{64}$/);
const mode = z.number().int().min(0).max(0o7777);
const id = z.number().int().min(0);
const dir = z.enum(OWNED_DIRS as [string, ...string[]]);
const tracked = z.enum(TRACKED_FILES as [TrackedFile, ...TrackedFile[]]);
/** Files a step may write: the tracked ones and, with --replace-stock, the shim. */
const writable = z.enum([LAYOUT.stockScript, ...TRACKED_FILES]);
/** Files a step may remove: the tracked ones and the kept stock copy. */
const removable = z.enum([LAYOUT.keptStock, ...TRACKED_FILES]);
const files = z.partialRecord(tracked, z.strictObject({ sha256, mode }));

const stepSchema = z.discriminatedUnion("op", [
  z.strictObject({ op: z.literal("mkdir"), path: dir }),
  z.strictObject({ op: z.literal("write"), path: writable, sha256, mode }),
  z.strictObject({ op: z.literal("chmod"), path: writable, sha256, mode }),
  /** Copies the stock script to LAYOUT.keptStock with its mode, owner and times. */
  z.strictObject({ op: z.literal("keep-stock"), sha256, mode, uid: id, gid: id }),
  /** Copies LAYOUT.keptStock back over LAYOUT.stockScript with the stock script's mode and owner. */
  z.strictObject({ op: z.literal("restore-stock"), sha256, mode, uid: id, gid: id }),
  z.strictObject({ op: z.literal("remove"), path: removable }),
  z.strictObject({ op: z.literal("rmdir"), path: dir }),
  /**
   * Forgets a file or directory without touching it: the plugin's files, once the package
   * os-carp-service-status owns them. Only ever recorded when the journal starts, never pending.
   */
  z.strictObject({ op: z.literal("disown"), path: z.enum([...TRACKED_FILES, ...OWNED_DIRS] as [string, ...string[]]) }),
]);

/** One change install or uninstall makes, as the journal records it before it is made. */
export type Step = z.infer<typeof stepSchema>;

const manifestSchema = z.strictObject({
  format: z.literal(MANIFEST_FORMAT),
  /** The version that last wrote it. */
  version: z.string(),
  /** Directories install created (uninstall removes them when empty). */
  directories: z.array(dir),
  files,
  /** The stock script kept aside as LAYOUT.keptStock by --replace-stock, or null. */
  stock: z.strictObject({ sha256, mode, uid: id.optional(), gid: id.optional() }).nullable(),
  /** The operation under way, with its steps not yet known to have landed; null when none is. */
  pending: z.strictObject({ operation: z.enum(["install", "uninstall"]), steps: z.array(stepSchema) }).nullable(),
});

/** What is in place, and what an operation under way still has to do. */
export type Manifest = z.infer<typeof manifestSchema>;

/** Format 1 (before the journal): read so that an earlier install can be upgraded or removed. */
const formatOneSchema = z.strictObject({
  format: z.literal(1),
  version: z.string(),
  directories: z.array(dir),
  files,
  stock: z.strictObject({ path: z.literal(LAYOUT.stockScript), kept: z.literal(LAYOUT.keptStock), sha256, mode }).nullable(),
});

/** The manifest before anything was installed. */
export function emptyManifest(): Manifest {
  return { format: MANIFEST_FORMAT, version: VERSION, directories: [], files: {}, stock: null, pending: null };
}

/** Reads the manifest; null when there is none. A damaged one is an error naming it. */
export function readManifest(root: string, command: Command): Manifest | null {
  const path = at(root, LAYOUT.manifest);
  let text: string;
  try {
    // Bounded, not following a link, not blocking: a FIFO or device planted at the path is an error, not a hang.
    text = readBoundedFile(path, { maxBytes: MANIFEST_MAX_BYTES, noFollow: true });
  } catch (error) {
    if (isMissing(error)) return null;
    if (error instanceof FileRefused)
      throw new CarpError("system", `Cannot read install manifest "${path}": ${error.message}`, { cause: error, kind: "install" });
    throw fsFailure(withKind(error, "install"), { action: "read", path, command });
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new CarpError("system", `Cannot parse install manifest "${path}": ${messageOf(error)}`, { cause: error, kind: "install" });
  }
  const formatOne = formatOneSchema.safeParse(data);
  if (formatOne.success) {
    const { sha256, mode } = formatOne.data.stock ?? {};
    const stock = sha256 !== undefined && mode !== undefined ? { sha256, mode } : null;
    return { ...formatOne.data, format: MANIFEST_FORMAT, stock, pending: null };
  }
  const result = manifestSchema.safeParse(data);
  if (!result.success)
    throw new CarpError("system", `Invalid install manifest "${path}":\n${z.prettifyError(result.error)}`, { kind: "install" });
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

/** What the manifest records as in place, apart from the journal: did an operation change it? */
export function recordedPart(manifest: Manifest): string {
  return formatManifest({ ...manifest, version: "", pending: null });
}

/** Files and directories as found, for judging whether a step landed. */
export interface Seen {
  /** Tracked files, the stock script's path, the kept copy's and the plugin package's version file. */
  files: Record<string, FileState>;
  /** Every directory in OWNED_DIRS. */
  dirs: Record<string, "directory" | "absent" | "other">;
}

function isFile(state: FileState | undefined, sha256: string): boolean {
  return state?.kind === "file" && state.sha256 === sha256;
}

/** Whether a step's effect is on disk: every step is judged by what it leaves, not by who made it. */
export function stepLanded(step: Step, seen: Seen): boolean {
  switch (step.op) {
    case "mkdir":
      return seen.dirs[step.path] === "directory";
    case "rmdir":
      return seen.dirs[step.path] === "absent";
    case "write":
    case "chmod": {
      const state = seen.files[step.path];
      return isFile(state, step.sha256) && state?.kind === "file" && state.mode === step.mode;
    }
    case "keep-stock":
      return isFile(seen.files[LAYOUT.keptStock], step.sha256);
    case "restore-stock":
      return isFile(seen.files[LAYOUT.stockScript], step.sha256);
    case "remove":
      return seen.files[step.path]?.kind === "absent";
    case "disown":
      return true;
  }
}

/** The manifest once a step has landed (a copy). */
export function recordStep(manifest: Manifest, step: Step): Manifest {
  const next = structuredClone(manifest);
  switch (step.op) {
    case "mkdir":
      if (!next.directories.includes(step.path)) next.directories.push(step.path);
      break;
    case "rmdir":
      next.directories = next.directories.filter((d) => d !== step.path);
      break;
    case "write":
    case "chmod":
      if (step.path !== LAYOUT.stockScript) next.files[step.path as TrackedFile] = { sha256: step.sha256, mode: step.mode };
      break;
    case "keep-stock":
      next.stock = { sha256: step.sha256, mode: step.mode, uid: step.uid, gid: step.gid };
      break;
    case "restore-stock":
      break;
    case "remove":
      if (step.path === LAYOUT.keptStock) next.stock = null;
      else delete next.files[step.path as TrackedFile];
      break;
    case "disown":
      delete next.files[step.path];
      next.directories = next.directories.filter((d) => d !== step.path);
      break;
  }
  return next;
}

/** What settleManifest found of an interrupted operation. */
export interface Interrupted {
  operation: "install" | "uninstall";
  /** Pending steps whose effect was found on disk: now recorded. */
  landed: Step[];
  /** Pending steps that had not happened: dropped. */
  dropped: Step[];
}

/**
 * Ends an operation a killed run left pending: each pending step that landed is recorded, the
 * others are dropped. Pure. The result records exactly what is in place, so the next plan (install
 * or uninstall) starts from the truth.
 */
export function settleManifest(manifest: Manifest, seen: Seen): { manifest: Manifest; interrupted: Interrupted | null } {
  if (!manifest.pending) return { manifest, interrupted: null };
  let settled: Manifest = { ...manifest, pending: null };
  const interrupted: Interrupted = { operation: manifest.pending.operation, landed: [], dropped: [] };
  for (const step of manifest.pending.steps) {
    if (stepLanded(step, seen)) {
      settled = recordStep(settled, step);
      interrupted.landed.push(step);
    } else {
      interrupted.dropped.push(step);
    }
  }
  return { manifest: settled, interrupted };
}
