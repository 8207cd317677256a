/** install runs doctor first and refuses, writing nothing, when starting the daemon now would demote this node. */
import { afterEach, expect, test } from "bun:test";
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { installWithPreflight } from "../src/cli/install.ts";
import { CarpError } from "../src/common/errors.ts";
import { LAYOUT } from "../src/install/layout.ts";
import { renderSyshook } from "../src/install/templates.ts";
import { makeSandbox, type Sandbox } from "./helpers.ts";
import { listTree } from "./tree-listing.ts";

let sandbox: Sandbox;
const dirs: string[] = [];
afterEach(() => {
  sandbox.cleanup();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A scratch root whose config (at the node's default path) is the sandbox's: its hooks, the fake sysctl. */
function setup(hook: "pass" | "fail") {
  sandbox = makeSandbox();
  sandbox.addHook("svc", { fixture: hook });
  const root = mkdtempSync(join(tmpdir(), "carp-root-"));
  chmodSync(root, 0o755);
  const executable = join(mkdtempSync(join(tmpdir(), "carp-exe-")), "carp-service-status");
  dirs.push(root, dirname(executable));
  writeFileSync(executable, "#!/bin/sh\n", { mode: 0o755 });
  const config = join(root, LAYOUT.config);
  mkdirSync(dirname(config), { recursive: true });
  copyFileSync(sandbox.configFile, config);
  const lines: string[] = [];
  const run = (force: boolean) => installWithPreflight({ root, executable, replaceStock: false, force }, (line) => lines.push(line));
  return { root, lines, run };
}

test("refuses when a hook fails, before anything is written, naming the hook", async () => {
  const t = setup("fail");
  const before = listTree(t.root);
  const error = await t.run(false).catch((e) => e);
  expect(error).toBeInstanceOf(CarpError);
  expect((error as CarpError).code).toBe("usage");
  expect((error as CarpError).message).toBe(
    'Not installing: starting now would DEMOTE this node because: svc (exit 1: service down). Fix that first (see "dry run" above), or pass --force to install anyway',
  );
  expect(listTree(t.root)).toEqual(before);
  expect(t.lines[0]).toBe("Pre-flight checks (carp-service-status doctor):");
  expect(t.lines.join("\n")).toMatch(/dry run +PROBLEM +starting now would DEMOTE this node because: svc/);
  expect(sandbox.demotion()).toBe(0);
});

test("--force installs anyway, and says so", async () => {
  const t = setup("fail");
  const result = await t.run(true);
  expect(result.changes).toBeGreaterThan(0);
  expect(t.lines).toContain("--force: installing although starting the daemon now would demote this node");
  expect(readFileSync(join(t.root, LAYOUT.syshook), "utf8")).toBe(renderSyshook());
});

test("installs when the dry run changes nothing, with doctor's table first", async () => {
  const t = setup("pass");
  const result = await t.run(false);
  expect(result.changes).toBeGreaterThan(0);
  const dryRun = t.lines
    .join("\n")
    .split("\n")
    .find((line) => line.startsWith("dry run"));
  expect(dryRun).toMatch(/dry run +ok +starting now changes nothing: the 1 check passes/);
});

test("refuses when the dry run cannot tell what starting would do (a config that does not load), before anything is written", async () => {
  const t = setup("fail");
  writeFileSync(join(t.root, LAYOUT.config), `${readFileSync(join(t.root, LAYOUT.config), "utf8")}noSuchKey = 1\n`);
  const before = listTree(t.root);
  const error = await t.run(false).catch((e) => e);
  expect(error).toBeInstanceOf(CarpError);
  expect((error as CarpError).message).toStartWith("Not installing: the dry run could not tell what starting would do");
  expect(listTree(t.root)).toEqual(before);
  const forced = await t.run(true);
  expect(forced.changes).toBeGreaterThan(0);
  expect(t.lines).toContain("--force: installing although the dry run could not tell what starting would do");
});
