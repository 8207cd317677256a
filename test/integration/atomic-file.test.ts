/**
 * The one atomic writer. The metrics file is replaced atomically: a reader in another process,
 * reading as fast as it can while the file is rewritten over and over, only ever sees whole
 * versions (the same reader against plain overwrites shows that it would notice a torn file). The
 * synchronous writer creates its temporary file exclusively and never through a link, gives the
 * file its mode, owner and times exactly, and, when durable, fsyncs the file before the rename and
 * the directory after (seen with strace, for the writer, the state file and the install manifest).
 */
import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { LAYOUT, STAGING } from "../../src/install/layout.ts";
import { writeFileAtomic, writeFileAtomicSync } from "../../src/system/atomic-file.ts";
import { FIXTURES, REPO } from "../helpers.ts";
import { tool } from "../tools.ts";

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

/**
 * Rewrites `file` up to `times` times with `write` while the probe reads it (with `untilTorn`, only
 * until the probe has seen a torn file); returns what the probe saw.
 */
async function race(write: (path: string, text: string) => Promise<void>, times: number, { untilTorn = false } = {}) {
  const dir = scratch();
  const file = join(dir, "carp_service_status.prom");
  const stopFile = join(dir, "stop");
  await writeFileAtomic(file, version(0));
  const probe = Bun.spawn([process.execPath, join(FIXTURES, "torn-read-probe.ts"), file, stopFile], { stdout: "pipe" });
  // The writes begin once the probe has read the file a first time.
  while (!existsSync(`${stopFile}.reading`)) await Bun.sleep(5);
  for (let generation = 1; generation <= times; generation++) {
    if (untilTorn && existsSync(`${stopFile}.torn`)) break;
    await write(file, version(generation));
  }
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
    expect(readdirSync(seen.dir).sort()).toEqual(["carp_service_status.prom", "stop", "stop.reading"]);
  });

  test("the same reader catches torn files when the writes are plain overwrites", async () => {
    const seen = await race((path, text) => writeFile(path, text), 5000, { untilTorn: true });
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

describe("writeFileAtomicSync", () => {
  test("the temporary file is created with O_EXCL: a link planted at its name is never written through", () => {
    const dir = scratch();
    const victim = join(dir, "victim");
    writeFileSync(victim, "precious\n");
    const temporary = join(dir, ".state.tmp");
    symlinkSync(victim, temporary);
    const error = (() => {
      try {
        writeFileAtomicSync(join(dir, "state"), "x\n", { temporary });
      } catch (e) {
        return e as NodeJS.ErrnoException;
      }
      throw new Error("expected EEXIST");
    })();
    expect(error.code).toBe("EEXIST");
    expect(readFileSync(victim, "utf8")).toBe("precious\n");
    expect(readdirSync(dir).sort()).toEqual([".state.tmp", "victim"]);
  });

  test("gives the file its mode whatever the umask, setgid included, and its owner and times", () => {
    const dir = scratch();
    const previous = process.umask(0o077);
    try {
      writeFileAtomicSync(join(dir, "private"), "x\n", { mode: 0o600 });
      writeFileAtomicSync(join(dir, "readable"), "x\n", { mode: 0o644 });
    } finally {
      process.umask(previous);
    }
    const mtime = new Date("2024-01-02T03:04:05Z");
    writeFileAtomicSync(join(dir, "kept"), Buffer.from([0xff, 0x00]), {
      mode: 0o2750,
      owner: { uid: 0, gid: 5 },
      times: { atime: mtime, mtime },
    });
    expect(lstatSync(join(dir, "private")).mode & 0o7777).toBe(0o600);
    expect(lstatSync(join(dir, "readable")).mode & 0o7777).toBe(0o644);
    const kept = lstatSync(join(dir, "kept"));
    expect({ mode: kept.mode & 0o7777, uid: kept.uid, gid: kept.gid, mtime: kept.mtimeMs }).toEqual({
      mode: 0o2750,
      uid: 0,
      gid: 5,
      mtime: mtime.getTime(),
    });
    expect(readFileSync(join(dir, "kept"))).toEqual(Buffer.from([0xff, 0x00]));
  });

  test("copies another file byte for byte, in chunks", () => {
    const dir = scratch();
    const source = join(dir, "source");
    const bytes = Buffer.from(Array.from({ length: 3 * 1048576 + 17 }, (_, i) => (i * 7) % 256));
    writeFileSync(source, bytes);
    writeFileAtomicSync(join(dir, "copy"), { copyOf: source }, { mode: 0o755 });
    expect(readFileSync(join(dir, "copy")).equals(bytes)).toBe(true);
  });

  test("a failed write leaves the target as it was and no temporary file", () => {
    const dir = scratch();
    writeFileSync(join(dir, "state"), "old\n");
    expect(() => writeFileAtomicSync(join(dir, "state"), { copyOf: join(dir, "missing") })).toThrow();
    expect(readdirSync(dir)).toEqual(["state"]);
    expect(readFileSync(join(dir, "state"), "utf8")).toBe("old\n");
  });
});

const STRACE = tool("strace", "strace");

/** The fsync, rename and create calls a script makes (strace -y names each descriptor's file). */
function fileCalls(script: string): string[] {
  const dir = scratch();
  const out = join(dir, "trace");
  const file = join(dir, "script.ts");
  writeFileSync(file, script);
  const run = Bun.spawnSync([STRACE!, "-qq", "-y", "-o", out, "-e", "trace=openat,fsync,rename", process.execPath, file], {
    stderr: "pipe",
  });
  expect(run.stderr.toString()).toBe("");
  return readFileSync(out, "utf8")
    .split("\n")
    .filter((line) => /^(fsync|rename)\(/.test(line) || (line.startsWith("openat(") && line.includes("O_CREAT")));
}

/** Asserts a durable replacement of `path`: file synced, then renamed over it, then its directory synced. */
function expectDurable(calls: string[], path: string): void {
  const rename = calls.findIndex((line) => line.startsWith("rename(") && line.includes(`, "${path}")`));
  expect(rename).toBeGreaterThan(0);
  const temporary = /^rename\("([^"]+)"/.exec(calls[rename]!)![1]!;
  const created = calls.findIndex((line) => line.startsWith("openat(") && line.includes(`"${temporary}"`));
  expect(created).toBeGreaterThanOrEqual(0);
  expect(calls[created]).toContain("O_EXCL");
  expect(calls[created]).toContain("O_NOFOLLOW");
  expect(calls.slice(created, rename).some((line) => line.startsWith("fsync(") && line.includes(`<${temporary}>`))).toBe(true);
  expect(calls[rename + 1]).toStartWith("fsync(");
  expect(calls[rename + 1]).toContain(`<${dirname(path)}>`);
}

describe.skipIf(!STRACE)("durable writes, seen with strace", () => {
  test("strace is installed (apt-get install strace; .ci/run does)", () => {
    expect(STRACE).not.toBeNull();
  });

  test("a durable write fsyncs the temporary file before the rename and the directory after", () => {
    const target = join(scratch(), "state");
    const calls = fileCalls(
      `import { writeFileAtomicSync } from ${JSON.stringify(join(REPO, "src/system/atomic-file.ts"))};\n` +
        `writeFileAtomicSync(${JSON.stringify(target)}, "x\\n", { durable: true });\n`,
    );
    expectDurable(calls, target);
  });

  test("the flap state file is written durably", () => {
    const target = join(scratch(), "carp_service_status.state");
    const calls = fileCalls(
      `import { writeHistory } from ${JSON.stringify(join(REPO, "src/engine/state-file.ts"))};\n` +
        `import { systemClock } from ${JSON.stringify(join(REPO, "src/system/clock.ts"))};\n` +
        `const history = { hooks: {}, passingSince: null, bitSet: null, observedAt: null };\n` +
        `const warning = writeHistory(${JSON.stringify(target)}, history, systemClock().read());\n` +
        "if (warning) throw new Error(warning);\n",
    );
    expectDurable(calls, target);
  });

  test("the install manifest is written durably, before and after each step", () => {
    const root = scratch();
    const executable = join(scratch(), "exe");
    writeFileSync(executable, "#!/bin/sh\n");
    const calls = fileCalls(
      `import { install } from ${JSON.stringify(join(REPO, "src/install/install.ts"))};\n` +
        `install({ root: ${JSON.stringify(root)}, executable: ${JSON.stringify(executable)}, replaceStock: false }, () => {});\n`,
    );
    const manifest = join(root, LAYOUT.manifest);
    expectDurable(calls, join(root, LAYOUT.binary));
    const renames = calls.filter((line) => line.startsWith("rename("));
    const toManifest = (line: string) => line.endsWith(`, "${manifest}") = 0`);
    const toStaging = (line: string) => line.includes(STAGING);
    const firstChange = renames.findIndex((line) => !toManifest(line) && !toStaging(line));
    // The journal is in place (its staging directory renamed to usr) before the first file lands.
    expect(renames.slice(0, firstChange).some((line) => line.startsWith(`rename("${join(root, STAGING)}", "${join(root, "usr")}")`))).toBe(
      true,
    );
    // Every file that lands is recorded at once; the manifest is the last thing written.
    renames.forEach((line, i) => {
      if (i >= firstChange && !toManifest(line)) expect(toManifest(renames[i + 1] ?? "")).toBe(true);
    });
    expect(toManifest(renames.at(-1)!)).toBe(true);
  });
});
