/** A full recursive listing of a directory tree, to compare install roots before and after. */
import { lstatSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { join } from "node:path";

/**
 * One line per entry below root, sorted: type, octal mode (setuid, setgid and sticky bits too),
 * path, the sha256 of a file's bytes (or a link's target), and owner=UID:GID. With `mtimes`, also
 * each entry's mtime, to prove nothing was rewritten. Two trees with the same listing have the
 * same entries with the same content, mode and owner.
 */
export function listTree(root: string, options: { mtimes?: boolean } = {}): string[] {
  const lines: string[] = [];
  const walk = (dir: string, prefix: string) => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      const rel = prefix ? `${prefix}/${name}` : name;
      const stat = lstatSync(path);
      const mode = (stat.mode & 0o7777).toString(8).padStart(4, "0");
      const owner = ` owner=${stat.uid}:${stat.gid}`;
      const mtime = options.mtimes ? ` mtime=${stat.mtimeMs}` : "";
      if (stat.isDirectory()) {
        lines.push(`d ${mode} ${rel}${owner}${mtime}`);
        walk(path, rel);
      } else if (stat.isSymbolicLink()) {
        lines.push(`l ${mode} ${rel} -> ${readlinkSync(path)}${owner}`);
      } else if (stat.isFile()) {
        const sha256 = new Bun.CryptoHasher("sha256").update(readFileSync(path)).digest("hex");
        lines.push(`f ${mode} ${rel} ${sha256}${owner}${mtime}`);
      } else {
        lines.push(`s ${mode} ${rel}${owner}`);
      }
    }
  };
  walk(root, "");
  return lines;
}

/** What differs between two listings: the lines only in `before` (-) and only in `after` (+). */
export function treeDiff(before: string[], after: string[]): string[] {
  const a = new Set(before);
  const b = new Set(after);
  return [
    ...before.filter((line) => !b.has(line)).map((line) => `- ${line}`),
    ...after.filter((line) => !a.has(line)).map((line) => `+ ${line}`),
  ];
}
