import { afterEach, describe, expect, test } from "bun:test";
import { chmodSync, chownSync, mkdirSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { discoverHooks, insecurityOf } from "../src/engine/discover.ts";
import { makeSandbox, type Sandbox } from "./helpers.ts";

let sandbox: Sandbox;
afterEach(() => sandbox.cleanup());

const OPEN = { enforceSecurity: false };
const STRICT = { enforceSecurity: true };

describe("discovery", () => {
  test("runs executable files in byte order of name and ignores dotfiles", async () => {
    sandbox = makeSandbox();
    for (const name of ["b", "a", "B", "_x", "ä", ".hidden", "10", "9"]) sandbox.addHook(name, { fixture: "pass" });
    const { hooks, notRun } = await discoverHooks(sandbox.hooksDir, OPEN);
    expect(hooks.map((h) => h.name)).toEqual(["10", "9", "B", "_x", "a", "b", "ä"]);
    expect(notRun).toEqual([]);
  });

  test("skips what is not a hook, with the reason, and never fails it", async () => {
    sandbox = makeSandbox();
    sandbox.addHook("readme", { content: "notes\n" }, 0o644);
    mkdirSync(join(sandbox.hooksDir, "subdir"));
    symlinkSync("/nonexistent/target", join(sandbox.hooksDir, "dangling"));
    const { hooks, notRun } = await discoverHooks(sandbox.hooksDir, OPEN);
    expect(hooks).toEqual([]);
    expect(notRun).toEqual([
      { name: "dangling", status: "skipped", reason: "broken symbolic link" },
      { name: "readme", status: "skipped", reason: "not executable" },
      { name: "subdir", status: "skipped", reason: "directory" },
    ]);
  });

  test("follows symbolic links to executables", async () => {
    sandbox = makeSandbox();
    const target = sandbox.addHook(".real", { fixture: "pass" });
    symlinkSync(target, join(sandbox.hooksDir, "linked"));
    const { hooks } = await discoverHooks(sandbox.hooksDir, OPEN);
    expect(hooks.map((h) => h.name)).toEqual(["linked"]);
  });

  test("a missing directory is a warning and zero hooks", async () => {
    sandbox = makeSandbox();
    const result = await discoverHooks(join(sandbox.dir, "nope"), OPEN);
    expect(result.hooks).toEqual([]);
    expect(result.warnings[0]).toContain("does not exist");
  });

  test("a file given as the directory is a warning too", async () => {
    sandbox = makeSandbox();
    const file = sandbox.addHook("file", { fixture: "pass" });
    expect((await discoverHooks(file, OPEN)).warnings[0]).toContain("is not a directory");
  });
});

describe("script security", () => {
  test("refuses a world-writable hook and fails it, loudly", async () => {
    sandbox = makeSandbox();
    sandbox.addHook("open", { fixture: "pass" }, 0o777);
    sandbox.addHook("fine", { fixture: "pass" });
    const { hooks, notRun } = await discoverHooks(sandbox.hooksDir, STRICT);
    expect(hooks.map((h) => h.name)).toEqual(["fine"]);
    expect(notRun).toEqual([
      { name: "open", status: "fail", reason: "refused by script security: script is group- or world-writable (mode 0777)" },
    ]);
  });

  test("refuses a group-writable hook", async () => {
    sandbox = makeSandbox();
    sandbox.addHook("grp", { fixture: "pass" }, 0o775);
    expect((await discoverHooks(sandbox.hooksDir, STRICT)).notRun[0]?.status).toBe("fail");
  });

  test("refuses a hook not owned by root", async () => {
    sandbox = makeSandbox();
    chownSync(sandbox.addHook("nobody", { fixture: "pass" }), 65534, 0);
    const { notRun } = await discoverHooks(sandbox.hooksDir, STRICT);
    expect(notRun[0]?.reason).toContain("owned by uid 65534, not root");
  });

  test("refuses every hook of a writable directory", async () => {
    sandbox = makeSandbox();
    sandbox.addHook("a", { fixture: "pass" });
    sandbox.addHook("b", { fixture: "pass" });
    chmodSync(sandbox.hooksDir, 0o777);
    const { hooks, notRun } = await discoverHooks(sandbox.hooksDir, STRICT);
    expect(hooks).toEqual([]);
    expect(notRun.map((n) => [n.name, n.status])).toEqual([
      ["a", "fail"],
      ["b", "fail"],
    ]);
    expect(notRun[0]?.reason).toContain("hooks directory");
  });

  test("is not applied when off (or not root)", async () => {
    sandbox = makeSandbox();
    sandbox.addHook("open", { fixture: "pass" }, 0o777);
    expect((await discoverHooks(sandbox.hooksDir, OPEN)).hooks.map((h) => h.name)).toEqual(["open"]);
  });

  test("names the mode and the owner", () => {
    expect(insecurityOf("script", { uid: 0, mode: 0o100755 })).toBeNull();
    expect(insecurityOf("script", { uid: 0, mode: 0o100757 })).toContain("mode 0757");
    expect(insecurityOf("script", { uid: 1001, mode: 0o100755 })).toContain("uid 1001");
  });
});

describe("script security for symbolic links", () => {
  test("refuses a link whose target lies in a world-writable directory", async () => {
    sandbox = makeSandbox();
    const open = join(sandbox.dir, "open");
    mkdirSync(open);
    chmodSync(open, 0o777);
    const target = join(open, "check");
    await Bun.write(target, "#!/bin/sh\nexit 0\n");
    chmodSync(target, 0o755);
    symlinkSync(target, join(sandbox.hooksDir, "linked"));
    const { hooks, notRun } = await discoverHooks(sandbox.hooksDir, STRICT);
    expect(hooks).toEqual([]);
    expect(notRun[0]?.reason).toContain(`directory "${open}" of the link target is group- or world-writable`);
  });

  test("accepts a link to a trusted script in a trusted directory", async () => {
    sandbox = makeSandbox();
    const safe = join(sandbox.dir, "safe");
    mkdirSync(safe, { mode: 0o755 });
    const target = join(safe, "check");
    await Bun.write(target, "#!/bin/sh\nexit 0\n");
    chmodSync(target, 0o755);
    symlinkSync(target, join(sandbox.hooksDir, "linked"));
    expect((await discoverHooks(sandbox.hooksDir, STRICT)).hooks.map((h) => h.name)).toEqual(["linked"]);
  });
});
