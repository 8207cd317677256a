/** A full recursive listing of a directory tree, to compare install roots before and after. */
import { lstatSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { join } from "node:path";

/**
 * One line per entry below root, sorted: type, octal mode, path, and the sha256 of a file's bytes
 * (or a link's target). With `mtimes`, also each entry's mtime, to prove nothing was rewritten.
 */
export function listTree(root: string, options: { mtimes?: boolean } = {}): string[] {
  const lines: string[] = [];
  const walk = (dir: string, prefix: string) => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      const rel = prefix ? `${prefix}/${name}` : name;
      const stat = lstatSync(path);
      const mode = (stat.mode & 0o7777).toString(8).padStart(4, "0");
      const mtime = options.mtimes ? ` mtime=${stat.mtimeMs}` : "";
      if (stat.isDirectory()) {
        lines.push(`d ${mode} ${rel}${mtime}`);
        walk(path, rel);
      } else if (stat.isSymbolicLink()) {
        lines.push(`l ${mode} ${rel} -> ${readlinkSync(path)}`);
      } else {
        const sha256 = new Bun.CryptoHasher("sha256").update(readFileSync(path)).digest("hex");
        lines.push(`f ${mode} ${rel} ${sha256}${mtime}`);
      }
    }
  };
  walk(root, "");
  return lines;
}
