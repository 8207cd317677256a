/**
 * Real install and uninstall processes killed (SIGKILL) or failed (ENOSPC) by strace at each system
 * call that changes the tree (strace -e inject), then undone and finished in-process: the node
 * keeps a working carp_service_status, uninstall restores the exact earlier tree, install completes
 * it. Which calls those are comes from a reference run under strace, so the points follow the code.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, truncateSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { compile } from "../../scripts/build.ts";
import { install } from "../../src/install/install.ts";
import { LAYOUT, PLUGIN_FILES, pluginOnlyDirs, temporaryOf } from "../../src/install/layout.ts";
import { isShim } from "../../src/install/templates.ts";
import { uninstall } from "../../src/install/uninstall.ts";
import { FIXTURES } from "../helpers.ts";
import { brokenStockScript, cloneTree, opnsenseRoot, removeScratch, scratch, standInExecutable } from "../install-scenario.ts";
import { tool } from "../tools.ts";
import { listTree, treeDiff } from "../tree-listing.ts";

const STRACE = tool("strace", "strace");
const DRIVER = join(FIXTURES, "install-driver.ts");
/** Calls that change the tree. A kill before each one covers every state a run can stop in. */
const CHANGES = ["rename", "renameat", "renameat2", "mkdir", "mkdirat", "unlink", "unlinkat", "rmdir"];

afterAll(removeScratch);

const quiet = () => {};

interface Call {
  name: string;
  /** Its number among the calls of that name (strace's `when=`), from 1. */
  index: number;
  line: string;
}

interface Run {
  exitCode: number | null;
  signalCode: string | null;
  stderr: string;
  calls: Call[];
}

/** Bun's transpiler cache, private to this file: it writes its own files (off the main thread). */
const CACHE = scratch("carp-bun-cache-");

/**
 * An injection at one call of a reference run, in another copy of its tree: strace's `-P` keeps
 * to the calls on that call's path, and `when=` counts among those. Counted among all the calls
 * of its name instead, the point would move whenever Bun opens a file of its own earlier or later.
 */
interface Injection {
  /** strace's `inject=` argument, without `when=`. */
  tamper: string;
  call: Call;
  /** The root of the reference run, and the one of this run. */
  from: string;
  to: string;
  reference: Run;
}

/** The call's first path under `root`, relative to it. */
function relativePathOf(call: Call, root: string): string {
  const found = [...call.line.matchAll(/"([^"]*)"/g)].map((m) => m[1]!).find((path) => path.startsWith(`${root}/`));
  if (found === undefined) throw new Error(`no path under "${root}" in ${call.line}`);
  return found.slice(root.length + 1);
}

/** `-P PATH -e inject=...:when=N` for the injection, N the call's number among those of its name on its path. */
function injectionArgs({ tamper, call, from, to, reference }: Injection): string[] {
  const path = relativePathOf(call, from);
  const onPath = (c: Call) => c.name === call.name && c.line.includes(`"${join(from, path)}"`);
  const when = reference.calls.filter(onPath).indexOf(call) + 1;
  return ["-P", join(to, path), "-e", `inject=${tamper}:when=${when}`];
}

/**
 * Runs the driver under strace (its main thread only: that is where the synchronous file system
 * calls happen, and no child is followed), with an optional injection.
 */
function traced(command: string[], inject?: Injection): Run {
  const out = join(scratch("carp-strace-"), "trace");
  const argv = [STRACE!, "-qq", "-o", out, "-e", `trace=openat,${CHANGES.join(",")}`];
  if (inject) argv.push(...injectionArgs(inject));
  const result = Bun.spawnSync([...argv, ...command], {
    env: { ...process.env, BUN_RUNTIME_TRANSPILER_CACHE_PATH: CACHE },
    stdout: "pipe",
    stderr: "pipe",
  });
  const counts = new Map<string, number>();
  const calls = readFileSync(out, "utf8")
    .split("\n")
    .filter(Boolean)
    .flatMap((line) => {
      const name = /^(\w+)\(/.exec(line)?.[1];
      if (!name) return [];
      const index = (counts.get(name) ?? 0) + 1;
      counts.set(name, index);
      return [{ name, index, line }];
    });
  const signalCode = typeof result.signalCode === "string" ? result.signalCode : null;
  return { exitCode: result.exitCode, signalCode, stderr: result.stderr.toString(), calls };
}

/** The calls of a reference run that change something under root. */
function changesUnder(root: string, run: Run): Call[] {
  return run.calls.filter((call) => CHANGES.includes(call.name) && call.line.includes(root));
}

/** What the plugin's files and the directories only they need are called in a trace: their paths and temporaries. */
const PLUGIN_PATHS = new Set([...PLUGIN_FILES.flatMap((file) => [file.path, temporaryOf(file.path)]), ...pluginOnlyDirs()]);
const MANIFEST_PATHS = new Set([LAYOUT.manifest, temporaryOf(LAYOUT.manifest)]);

function pathsOf(call: Call, root: string): string[] {
  return [...call.line.matchAll(/"([^"]*)"/g)].flatMap((m) => (m[1]!.startsWith(`${root}/`) ? [m[1]!.slice(root.length + 1)] : []));
}

/**
 * The calls to cut a run short at, in order, with the plugin's many like steps sampled: a step is
 * a call that changes the tree and the journal writes that record it; of the steps on the plugin's
 * files (or on directories only they need), the first and the last of each kind (the system call
 * that begins them: mkdir, a file's creation, unlink, rmdir) are kept. The others are the same code
 * on other paths, and the in-process journal test (install-journal.test.ts) cuts each of them short.
 */
function sampled(calls: Call[], root: string): Call[] {
  const steps: { calls: Call[]; plugin: boolean }[] = [];
  let recording = true;
  for (const call of calls) {
    const paths = pathsOf(call, root);
    const journal = paths.length > 0 && paths.every((path) => MANIFEST_PATHS.has(path));
    if (steps.length === 0 || (!journal && recording)) steps.push({ calls: [], plugin: false });
    const step = steps.at(-1)!;
    step.calls.push(call);
    if (!journal && paths.some((path) => PLUGIN_PATHS.has(path))) step.plugin = true;
    recording = journal;
  }
  const plugin = steps.filter((step) => step.plugin);
  const kind = (step: { calls: Call[] }) => step.calls[0]!.name;
  const ends = new Set(
    [...new Set(plugin.map(kind))].flatMap((name) => [plugin.find((s) => kind(s) === name), plugin.findLast((s) => kind(s) === name)]),
  );
  return steps.filter((step) => !step.plugin || ends.has(step)).flatMap((step) => step.calls);
}

/** The path a call names, relative to root, for test names. */
function shortly(call: Call, root: string): string {
  const paths = [...call.line.matchAll(/"([^"]*)"/g)].map((m) => m[1]!.replace(`${root}/`, ""));
  return `${call.name} #${call.index} ${paths.join(" -> ")}`;
}

interface Scenario {
  name: string;
  start: string;
  args: (root: string) => string[];
  uninstalled: string[];
  installed: string[];
  finish: (root: string) => unknown;
}

function scenarios(): Scenario[] {
  const executable = standInExecutable();
  const finish = (root: string) => install({ root, executable, replaceStock: true }, quiet);
  const fresh = opnsenseRoot();
  const done = cloneTree(fresh);
  finish(done);
  return [
    {
      name: "install --replace-stock",
      start: fresh,
      args: (root) => [process.execPath, DRIVER, "install", root, executable, "--replace-stock"],
      uninstalled: listTree(fresh),
      installed: listTree(done),
      finish,
    },
    {
      name: "uninstall",
      start: done,
      args: (root) => [process.execPath, DRIVER, "uninstall", root],
      uninstalled: listTree(fresh),
      installed: listTree(done),
      finish,
    },
  ];
}

/** What must hold after a run cut short: a working stock script, then uninstall and install both right. */
function expectRecoverable(scenario: Scenario, left: string): void {
  expect(brokenStockScript(left)).toBeNull();
  const undone = cloneTree(left);
  uninstall({ root: undone }, quiet);
  expect(treeDiff(scenario.uninstalled, listTree(undone))).toEqual([]);
  scenario.finish(left);
  expect(treeDiff(scenario.installed, listTree(left))).toEqual([]);
}

describe.skipIf(!STRACE)("cut short by strace", () => {
  test("strace is installed (apt-get install strace; .ci/run does)", () => {
    expect(STRACE).not.toBeNull();
  });

  for (const scenario of STRACE ? scenarios() : []) {
    const reference = cloneTree(scenario.start);
    const run = traced(scenario.args(reference));
    const all = changesUnder(reference, run);
    const creations = run.calls.filter((c) => c.name === "openat" && c.line.includes("O_CREAT") && c.line.includes(reference));
    const kept = new Set(
      sampled(
        [...all, ...creations].sort((a, b) => run.calls.indexOf(a) - run.calls.indexOf(b)),
        reference,
      ),
    );
    const points = all.filter((call) => kept.has(call));

    describe(scenario.name, () => {
      test("the reference run succeeds and changes the tree", () => {
        expect(run.stderr).toBe("");
        expect(run.exitCode).toBe(0);
        expect(points.length).toBeGreaterThan(10);
      });

      for (const call of points) {
        test(`killed at ${shortly(call, reference)}`, () => {
          const root = cloneTree(scenario.start);
          const killed = traced(scenario.args(root), {
            tamper: `${call.name}:signal=SIGKILL`,
            call,
            from: reference,
            to: root,
            reference: run,
          });
          expect(killed.signalCode).toBe("SIGKILL");
          expectRecoverable(scenario, root);
        });
      }

      test("the plugin's files are among the calls cut short at, first and last of each kind", () => {
        const named = (calls: Call[]) => calls.filter((call) => pathsOf(call, reference).some((path) => PLUGIN_PATHS.has(path)));
        expect(named(points).length).toBeGreaterThan(0);
        expect(named(points).length).toBeLessThan(named(all).length);
      });

      for (const call of scenario.name === "uninstall" ? [] : creations.filter((c) => kept.has(c))) {
        test(`no space left at ${shortly(call, reference)}`, () => {
          const root = cloneTree(scenario.start);
          const failed = traced(scenario.args(root), { tamper: "openat:error=ENOSPC", call, from: reference, to: root, reference: run });
          expect(failed.exitCode).toBe(3);
          expect(failed.stderr).toContain("no space left on device");
          expectRecoverable(scenario, root);
        });
      }
    });
  }
});

/** Mounts a small tmpfs at `dir` for the test; returns how to unmount it. */
function mountTmpfs(dir: string): () => void {
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const mounted = Bun.spawnSync(["mount", "-t", "tmpfs", "-o", "size=256k,mode=0755", "tmpfs", dir], { stderr: "pipe" });
  if (mounted.exitCode !== 0) throw new Error(`this test mounts a tmpfs, as root: ${mounted.stderr.toString()}`);
  return () => void Bun.spawnSync(["umount", dir]);
}

/** Fills the file system of `dir` up to one free page, with a file that can be removed to free it. */
function fillUpToOnePage(dir: string): string {
  const filler = join(dir, "filler");
  const fd = openSync(filler, "w");
  const page = Buffer.alloc(4096, 1);
  try {
    for (;;) writeSync(fd, page);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOSPC") throw error;
  } finally {
    closeSync(fd);
  }
  truncateSync(filler, statSync(filler).size - page.length);
  return filler;
}

test("a full share directory: install --replace-stock stops with the stock script in place, and uninstall restores the earlier tree", () => {
  const root = opnsenseRoot();
  const executable = standInExecutable();
  const unmount = mountTmpfs(join(root, LAYOUT.dataDir));
  try {
    const before = listTree(root);
    install({ root, executable, replaceStock: false }, quiet);
    const filler = fillUpToOnePage(join(root, LAYOUT.dataDir));
    expect(() => install({ root, executable, replaceStock: true }, quiet)).toThrow("no space left on device");
    expect(brokenStockScript(root)).toBeNull();
    rmSync(filler);
    uninstall({ root }, quiet);
    expect(treeDiff(before, listTree(root))).toEqual([]);
    install({ root, executable, replaceStock: true }, quiet);
    expect(isShim(readFileSync(join(root, LAYOUT.stockScript), "utf8"))).toBe(true);
  } finally {
    unmount();
  }
});

describe.skipIf(!STRACE)("the compiled executable, killed by strace", () => {
  const canRun = process.platform === "linux" && process.arch === "x64";
  test.skipIf(!canRun)(
    "killed right after the shim lands: uninstall restores the earlier tree, install finishes",
    async () => {
      const binary = join(mkdtempSync(join(tmpdir(), "carp-compiled-")), "carp-service-status");
      const built = await compile("bun-linux-x64", binary);
      expect(built.log).not.toContain("error:");
      const run = (root: string, command: "install" | "uninstall", inject?: Injection) =>
        traced([binary, command, "--root", root, ...(command === "install" ? ["--replace-stock"] : [])], inject);
      try {
        const fresh = opnsenseRoot();
        const reference = cloneTree(fresh);
        const referenceRun = run(reference, "install");
        expect(referenceRun.exitCode).toBe(0);
        const shim = referenceRun.calls.find((c) => c.name === "rename" && c.line.includes(`"${join(reference, LAYOUT.stockScript)}"`));
        expect(shim).toBeDefined();
        // The rename after the shim's: the journal recording that the shim landed.
        const next = referenceRun.calls.find((c) => c.name === "rename" && c.index === shim!.index + 1);
        expect(next).toBeDefined();

        const root = cloneTree(fresh);
        const killed = run(root, "install", {
          tamper: "rename:signal=SIGKILL",
          call: next!,
          from: reference,
          to: root,
          reference: referenceRun,
        });
        expect(killed.signalCode).toBe("SIGKILL");
        expect(isShim(readFileSync(join(root, LAYOUT.stockScript), "utf8"))).toBe(true);
        expect(brokenStockScript(root)).toBeNull();

        const undone = cloneTree(root);
        expect(run(undone, "uninstall").exitCode).toBe(0);
        expect(treeDiff(listTree(fresh), listTree(undone))).toEqual([]);
        expect(run(root, "install").exitCode).toBe(0);
        expect(treeDiff(listTree(reference), listTree(root))).toEqual([]);
      } finally {
        rmSync(dirname(binary), { recursive: true, force: true });
      }
    },
    120_000,
  );
});
