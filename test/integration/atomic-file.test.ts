/**
 * The metrics file is replaced atomically: a reader in another process, reading as fast as it
 * can while the file is rewritten over and over, only ever sees whole versions. The same reader
 * against plain overwrites shows that it would notice a torn file.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeFileAtomic } from "../../src/system/atomic-file.ts";
import { FIXTURES } from "../helpers.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), "carp-atomic-"));
  dirs.push(dir);
  return dir;
}

/** A self-describing version (see the probe): sizes vary, so a torn read cannot look whole. */
function version(generation: number): string {
  const count = 2000 + (generation % 7) * 500;
  const body = Array.from({ length: count }, (_, i) => `carp_service_status_hook_up{hook="hook-${i}"} ${generation % 2}`);
  return `${[`# generation ${generation} lines ${count + 2}`, ...body, `# end ${generation}`].join("\n")}\n`;
}

/** Rewrites `file` `times` times with `write` while the probe reads it; returns what the probe saw. */
async function race(write: (path: string, text: string) => Promise<void>, times: number) {
  const dir = scratch();
  const file = join(dir, "carp_service_status.prom");
  const stopFile = join(dir, "stop");
  await writeFileAtomic(file, version(0));
  const probe = Bun.spawn([process.execPath, join(FIXTURES, "torn-read-probe.ts"), file, stopFile], { stdout: "pipe" });
  // Let the probe start reading before the writes begin.
  await Bun.sleep(150);
  for (let generation = 1; generation <= times; generation++) await write(file, version(generation));
  writeFileSync(stopFile, "");
  const seen = JSON.parse(await new Response(probe.stdout).text()) as { reads: number; torn: number; missing: number; generations: number };
  await probe.exited;
  return { ...seen, dir, file };
}

describe("writeFileAtomic", () => {
  test("a concurrent reader never sees a partial or missing file during repeated writes", async () => {
    const seen = await race(writeFileAtomic, 300);
    expect(seen.reads).toBeGreaterThan(50);
    expect(seen.generations).toBeGreaterThan(5);
    expect({ torn: seen.torn, missing: seen.missing }).toEqual({ torn: 0, missing: 0 });
    // Nothing left but the file itself: no temporary file survives a write.
    expect(readdirSync(seen.dir).sort()).toEqual(["carp_service_status.prom", "stop"]);
  });

  test("the same reader catches torn files when the writes are plain overwrites", async () => {
    const seen = await race((path, text) => writeFile(path, text), 300);
    expect(seen.torn).toBeGreaterThan(0);
  });

  test("the file is 0644 whatever the umask, so a collector running as another user reads it", async () => {
    const file = join(scratch(), "m.prom");
    const previous = process.umask(0o077);
    try {
      await writeFileAtomic(file, "x 1\n");
    } finally {
      process.umask(previous);
    }
    expect(lstatSync(file).mode & 0o777).toBe(0o644);
  });

  test("a symbolic link planted at the path is replaced, never written through", async () => {
    const dir = scratch();
    const target = join(dir, "victim");
    writeFileSync(target, "precious\n");
    const file = join(dir, "m.prom");
    symlinkSync(target, file);
    await writeFileAtomic(file, "x 1\n");
    expect(readFileSync(target, "utf8")).toBe("precious\n");
    expect(lstatSync(file).isSymbolicLink()).toBe(false);
    expect(readFileSync(file, "utf8")).toBe("x 1\n");
  });

  test("a missing directory is an ENOENT error and leaves nothing behind", async () => {
    const dir = scratch();
    const error = (await writeFileAtomic(join(dir, "missing", "m.prom"), "x 1\n").catch((e: unknown) => e)) as NodeJS.ErrnoException;
    expect(error.code).toBe("ENOENT");
    expect(readdirSync(dir)).toEqual([]);
  });
});
