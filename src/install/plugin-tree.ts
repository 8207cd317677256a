/**
 * A Bun macro (imported `with { type: "macro" }`, by plugin-files.ts): it reads the plugin
 * os-carp-service-status from opnsense/sysutils/carp-service-status/ when the importing code is
 * transpiled or bundled, never at run time, and its result is inlined as a literal. So the
 * compiled executable and dist/cli.js carry the plugin's files exactly as the repository has them,
 * and `install` lays them down without the repository.
 *
 * Each file goes where the plugin's package puts it: opnsense/plugins' Mk/plugins.mk installs
 * every file under src/ at the same path under /usr/local, with its mode (tar -p), and adds
 * /usr/local/opnsense/version/PLUGIN_NAME, the package's version file. Files plugins.mk would
 * rename or rewrite (`.in`, `.shadow`, `.sample`, man pages) are refused, so what is embedded is
 * always byte for byte what the package installs.
 */
import { lstatSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

/** One file of the plugin: its path under the install root, its mode and its text. */
export interface PluginFile {
  path: string;
  mode: number;
  text: string;
}

export interface PluginTree {
  /** PLUGIN_NAME of the plugin's Makefile; the package is `os-` and this. */
  name: string;
  /** In the order of their paths. */
  files: PluginFile[];
}

/** The plugin, in opnsense/plugins layout (category/name), from this file. */
const PLUGIN_DIR = join(import.meta.dir, "..", "..", "opnsense", "sysutils", "carp-service-status");

/** Where plugins.mk installs src/: LOCALBASE, without the leading slash (the install root's "/"). */
const LOCALBASE = "usr/local";

function refuse(path: string, why: string): never {
  throw new Error(`Cannot embed the plugin file "${path}": ${why}`);
}

/** Reads the plugin's files (a macro: runs when the importer is transpiled). */
export function readPluginTree(): PluginTree {
  const makefile = readFileSync(join(PLUGIN_DIR, "Makefile"), "utf8");
  const name = /^PLUGIN_NAME=\s*(\S+)\s*$/m.exec(makefile)?.[1];
  if (name === undefined) throw new Error(`No PLUGIN_NAME in "${join(PLUGIN_DIR, "Makefile")}"`);
  const decoder = new TextDecoder("utf-8", { fatal: true });
  const files: PluginFile[] = [];
  const walk = (dir: string, rel: string) => {
    for (const entry of readdirSync(dir).sort()) {
      const path = join(dir, entry);
      const relPath = rel === "" ? entry : `${rel}/${entry}`;
      const stat = lstatSync(path);
      if (stat.isDirectory()) {
        walk(path, relPath);
        continue;
      }
      if (!stat.isFile()) refuse(path, "not a regular file");
      if (/\.(in|shadow|sample)$/.test(entry) || relPath.startsWith("man/")) refuse(path, "plugins.mk renames or rewrites it");
      let text: string;
      try {
        text = decoder.decode(readFileSync(path));
      } catch {
        refuse(path, "not valid UTF-8");
      }
      // A checkout's modes follow the umask; git keeps only the execute bit, and so does this.
      files.push({ path: `${LOCALBASE}/${relPath}`, mode: stat.mode & 0o100 ? 0o755 : 0o644, text });
    }
  };
  walk(join(PLUGIN_DIR, "src"), "");
  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { name, files };
}
