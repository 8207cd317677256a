/**
 * install and uninstall cut short at every point of their plan (a fault injected where apply
 * calls `faults`), then finished or undone: the node always keeps a working carp_service_status,
 * uninstall puts back the exact tree from before install (content, mode, owner, which files
 * exist), and install run again gives the tree an uninterrupted install gives.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { CarpError } from "../src/common/errors.ts";
import { checkStockScript } from "../src/doctor/install-checks.ts";
import { install, reinstateShim } from "../src/install/install.ts";
import { LAYOUT, temporaryOf } from "../src/install/layout.ts";
import { renderShim } from "../src/install/templates.ts";
import { uninstall } from "../src/install/uninstall.ts";
import { FIXTURES } from "./helpers.ts";
import { brokenStockScript, cloneTree, opnsenseRoot, put, removeScratch, standInExecutable } from "./install-scenario.ts";
import { listTree, treeDiff } from "./tree-listing.ts";

afterAll(removeScratch);

class InjectedFault extends Error {}

const quiet = () => {};

/** Every point at which a run of `op` on a copy of `root` calls `faults`, in order. */
function pointsOf(root: string, op: (root: string, faults: (point: string) => void) => unknown): string[] {
  const points: string[] = [];
  op(cloneTree(root), (point) => points.push(point));
  return points;
}

/** Runs `op` on a copy of `root`, failing at `point`; returns the copy, as the failed run left it. */
function interrupted(root: string, op: (root: string, faults: (point: string) => void) => unknown, point: string): string {
  const copy = cloneTree(root);
  expect(() =>
    op(copy, (at) => {
      if (at === point) throw new InjectedFault(`injected fault at ${point}`);
    }),
  ).toThrow(InjectedFault);
  return copy;
}

interface Scenario {
  name: string;
  /** The tree the interrupted run starts from. */
  start: string;
  run: (root: string, faults: (point: string) => void) => unknown;
  /** The tree uninstall must give, and the one a finished install gives. */
  uninstalled: string[];
  installed: string[];
  /** The install run again after the interrupted run. */
  finish: (root: string) => unknown;
  /** The stock script as it must be whenever it is not the shim. */
  stock?: { bytes: Buffer; mode: number };
}

function scenarios(): Scenario[] {
  const executable = standInExecutable();
  const upgrade = standInExecutable("#!/bin/sh\necho a newer executable\n");
  const installTo = (exe: string) => (root: string, faults?: (point: string) => void) =>
    install({ root, executable: exe, replaceStock: true }, quiet, faults);

  const fresh = opnsenseRoot();
  const freshTree = listTree(fresh);
  const done = cloneTree(fresh);
  installTo(executable)(done);
  const installedTree = listTree(done);

  // An upgrade: a newer executable over an install by an older version, whose rc.d script differed.
  const older = cloneTree(done);
  const olderScript = "#!/bin/sh\n# an older rc.d script\n";
  writeFileSync(join(older, LAYOUT.rcScript), olderScript);
  const manifest = JSON.parse(readFileSync(join(older, LAYOUT.manifest), "utf8"));
  manifest.files[LAYOUT.rcScript].sha256 = new Bun.CryptoHasher("sha256").update(olderScript).digest("hex");
  writeFileSync(join(older, LAYOUT.manifest), JSON.stringify(manifest));
  const upgraded = cloneTree(older);
  installTo(upgrade)(upgraded);

  // A firmware update put a newer stock script in place of the shim; install keeps that one instead.
  const updated = cloneTree(done);
  const newerStock = Buffer.from("#!/usr/local/bin/php\n<?php // 26.7 stock\n");
  const updatedUninstalled = cloneTree(fresh);
  for (const root of [updated, updatedUninstalled]) {
    rmSync(join(root, LAYOUT.stockScript));
    put(root, LAYOUT.stockScript, newerStock, 0o755);
  }
  const reinstalled = cloneTree(updated);
  installTo(executable)(reinstalled);
  // The firmware update hook's run after that update: the shim only.
  const reinstated = cloneTree(updated);
  reinstateShim({ root: reinstated }, quiet);
  const afterUpdate = (root: string, faults?: (point: string) => void) => reinstateShim({ root }, quiet, faults);

  return [
    {
      name: "install --replace-stock on a fresh node",
      start: fresh,
      run: installTo(executable),
      finish: installTo(executable),
      uninstalled: freshTree,
      installed: installedTree,
    },
    {
      name: "install --replace-stock of a newer executable",
      start: older,
      run: installTo(upgrade),
      finish: installTo(upgrade),
      uninstalled: freshTree,
      installed: listTree(upgraded),
    },
    {
      name: "install --replace-stock after a firmware update replaced the shim",
      start: updated,
      run: installTo(executable),
      finish: installTo(executable),
      uninstalled: listTree(updatedUninstalled),
      installed: listTree(reinstalled),
      stock: { bytes: newerStock, mode: 0o755 },
    },
    {
      name: "install --after-firmware-update (the update hook) after a firmware update replaced the shim",
      start: updated,
      run: afterUpdate,
      finish: afterUpdate,
      uninstalled: listTree(updatedUninstalled),
      installed: listTree(reinstated),
      stock: { bytes: newerStock, mode: 0o755 },
    },
    {
      name: "uninstall",
      start: done,
      run: (root, faults) => uninstall({ root }, quiet, faults),
      finish: installTo(executable),
      uninstalled: freshTree,
      installed: installedTree,
    },
  ];
}

for (const scenario of scenarios()) {
  describe(`${scenario.name}, cut short`, () => {
    const points = pointsOf(scenario.start, scenario.run);

    test("has a point before the journal, and before and after every step", () => {
      expect(points[0]).toBe("journal");
      expect(points.filter((p) => p.startsWith("before ")).length).toBe(points.filter((p) => p.startsWith("landed ")).length);
      expect(points.length).toBeGreaterThan(3);
    });

    for (const point of points) {
      test(`at "${point}": the node keeps a working carp_service_status; uninstall restores the earlier tree, install finishes`, () => {
        const left = interrupted(scenario.start, scenario.run, point);
        expect(brokenStockScript(left, scenario.stock)).toBeNull();
        const undone = cloneTree(left);
        uninstall({ root: undone }, quiet);
        expect(treeDiff(scenario.uninstalled, listTree(undone))).toEqual([]);
        scenario.finish(left);
        expect(treeDiff(scenario.installed, listTree(left))).toEqual([]);
      });
    }
  });
}

describe("what a killed run leaves", () => {
  test("an interrupted install is reported, and what it had done is recorded", () => {
    const root = opnsenseRoot();
    const executable = standInExecutable();
    const lines: string[] = [];
    expect(() =>
      install({ root, executable, replaceStock: true }, quiet, (point) => {
        if (point === "landed keep-stock") throw new InjectedFault(point);
      }),
    ).toThrow(InjectedFault);
    const manifest = JSON.parse(readFileSync(join(root, LAYOUT.manifest), "utf8"));
    expect(manifest.pending.operation).toBe("install");
    expect(manifest.pending.steps.map((s: { op: string }) => s.op)).toEqual(["keep-stock", "write"]);
    install({ root, executable, replaceStock: true }, (line) => lines.push(line));
    expect(lines[0]).toBe(
      `Found an interrupted install in "${join(root, LAYOUT.manifest)}": of the 2 steps it had left, 1 had landed (now recorded); the rest is planned again from what is on disk`,
    );
    expect(JSON.parse(readFileSync(join(root, LAYOUT.manifest), "utf8")).pending).toBeNull();
  });

  test("a temporary file is removed by the next run, and a link there is removed, never followed", () => {
    const root = opnsenseRoot();
    const victim = put(root, "victim", "precious\n");
    put(root, temporaryOf(LAYOUT.rcScript), "half a script");
    put(root, "usr/local/bin/.keep", "");
    symlinkSync(victim, join(root, temporaryOf(LAYOUT.binary)));
    const lines: string[] = [];
    install({ root, executable: standInExecutable(), replaceStock: false }, (line) => lines.push(line));
    expect(readFileSync(victim, "utf8")).toBe("precious\n");
    expect(lines).toContain(`Removed "${join(root, temporaryOf(LAYOUT.binary))}", a temporary file left by an interrupted run`);
    expect(listTree(root).filter((line) => line.includes(".carp-service-status.tmp"))).toEqual([]);
  });
});

function carpError(fn: () => unknown): CarpError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(CarpError);
    return error as CarpError;
  }
  throw new Error("expected a CarpError");
}

describe("the stock script is never lost", () => {
  test("with no manifest, our shim and a kept copy beside it: uninstall restores the copy, with its mode and owner", () => {
    const root = opnsenseRoot();
    const before = listTree(root);
    install({ root, executable: standInExecutable(), replaceStock: true }, quiet);
    rmSync(join(root, LAYOUT.manifest));
    const lines: string[] = [];
    uninstall({ root }, (line) => lines.push(line));
    expect(lines).toContain(`Restored the stock script "${join(root, LAYOUT.stockScript)}" from "${join(root, LAYOUT.keptStock)}"`);
    expect(lines.at(-1)).toBe(`Removed manifest "${join(root, LAYOUT.manifest)}"`);
    const stockLines = (tree: string[]) => tree.filter((line) => line.includes(LAYOUT.stockScript));
    expect(stockLines(listTree(root))).toEqual(stockLines(before));
    expect(existsSync(join(root, LAYOUT.keptStock))).toBe(false);
  });

  test("our shim with no stock copy anywhere: uninstall refuses and removes nothing, so the shim keeps its executable", () => {
    const root = opnsenseRoot();
    const executable = standInExecutable();
    install({ root, executable, replaceStock: false }, quiet);
    // The shim put in place by hand (or by a version that lost its copy), nothing kept.
    put(root, LAYOUT.stockScript, renderShim(), 0o755);
    const before = listTree(root);
    const error = carpError(() => uninstall({ root }, quiet));
    expect(error.message).toBe(
      `Cannot restore the stock script: "${join(root, LAYOUT.stockScript)}" is our shim and no stock copy was kept ("${join(root, LAYOUT.keptStock)}" is missing); nothing was removed. Reinstall it (opnsense-revert opnsense) and run uninstall again`,
    );
    expect(listTree(root)).toEqual(before);
    expect(brokenStockScript(root, { bytes: Buffer.from(renderShim()), mode: 0o755 })).toBeNull();
  });

  test("an install by the previous version (manifest format 1) is uninstalled, and upgraded by install", () => {
    const root = opnsenseRoot();
    const before = listTree(root);
    const executable = standInExecutable();
    install({ root, executable, replaceStock: true }, quiet);
    const current = JSON.parse(readFileSync(join(root, LAYOUT.manifest), "utf8"));
    const formatOne = {
      format: 1,
      version: "0.0.9",
      directories: current.directories,
      files: current.files,
      stock: { path: LAYOUT.stockScript, kept: LAYOUT.keptStock, sha256: current.stock.sha256, mode: current.stock.mode },
    };
    const older = cloneTree(root);
    writeFileSync(join(root, LAYOUT.manifest), JSON.stringify(formatOne));
    writeFileSync(join(older, LAYOUT.manifest), JSON.stringify(formatOne));
    install({ root, executable, replaceStock: true }, quiet);
    expect(JSON.parse(readFileSync(join(root, LAYOUT.manifest), "utf8")).format).toBe(2);
    uninstall({ root: older }, quiet);
    expect(treeDiff(before, listTree(older))).toEqual([]);
  });

  test("a FIFO in place of the manifest is an error naming it, not a hang", async () => {
    const root = opnsenseRoot();
    const manifest = join(root, LAYOUT.manifest);
    mkdirSync(dirname(manifest), { recursive: true });
    expect(Bun.spawnSync(["mkfifo", manifest]).exitCode).toBe(0);
    const proc = Bun.spawn([process.execPath, join(FIXTURES, "install-driver.ts"), "uninstall", root], { stdout: "pipe", stderr: "pipe" });
    const deadline = setTimeout(() => proc.kill("SIGKILL"), 10_000);
    const [stderr, exitCode] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
    clearTimeout(deadline);
    expect(stderr).toBe(`Cannot read install manifest "${manifest}": it is a FIFO (named pipe), not a regular file\n`);
    expect(exitCode).toBe(3);
  });

  test("doctor says when an install was cut short, and how to finish or undo it", () => {
    const root = opnsenseRoot();
    expect(() =>
      install({ root, executable: standInExecutable(), replaceStock: true }, quiet, (point) => {
        if (point === "before keep-stock") throw new InjectedFault(point);
      }),
    ).toThrow(InjectedFault);
    expect(checkStockScript(root)).toEqual({
      check: "stock script",
      status: "warn",
      detail: `"${join(root, LAYOUT.manifest)}" records an install that was cut short: some of its steps are done, some not`,
      fix: "carp-service-status install (finishes it), or carp-service-status uninstall (undoes it)",
    });
  });
});
