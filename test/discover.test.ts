import { afterEach, describe, expect, test } from "bun:test";
import { chmodSync, chownSync, copyFileSync, mkdirSync, renameSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CarpError } from "../src/common/errors.ts";
import { BLOCKING_DISCOVERY_FS, discoverHooks, recheckHook } from "../src/engine/discover.ts";
import { MAX_INTERPRETERS } from "../src/engine/script-security.ts";
import { makeSandbox, type Sandbox, SCRIPTS, setMode } from "./helpers.ts";

let sandbox: Sandbox;
afterEach(() => sandbox.cleanup());

const OPEN = { enforceSecurity: false };
const STRICT = { enforceSecurity: true };

/** The bytes "b", 0xff, "a": a name that is not UTF-8. */
const NOT_UTF8 = Buffer.from([0x62, 0xff, 0x61]);

/** Creates a file whose name is raw bytes, as a shell or an old tar can. */
function addRawNamedHook(dir: string, name: Buffer): void {
  const path = Buffer.concat([Buffer.from(`${dir}/`), name]);
  writeFileSync(path, "#!/bin/sh\nexit 0\n");
  chmodSync(path, 0o755);
}

/** An error as the file system throws it. */
function errno(code: string, message: string): NodeJS.ErrnoException {
  return Object.assign(new Error(message), { code });
}

/** A script at `path` (outside the hooks directory), mode 0755 unless told. */
function writeScript(path: string, mode = 0o755): string {
  copyFileSync(join(SCRIPTS, "pass"), path);
  chmodSync(path, mode);
  return path;
}

/** A directory with exactly this mode (mkdir's mode goes through the umask; Bun 1.3.14's chmod drops the sticky bit). */
function makeDir(path: string, mode: number): string {
  mkdirSync(path);
  setMode(path, mode);
  return path;
}

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
});

describe("discovery fails closed", () => {
  test("a name that is not UTF-8 is a failed service, shown escaped, with how to rename it", async () => {
    sandbox = makeSandbox();
    addRawNamedHook(sandbox.hooksDir, NOT_UTF8);
    const { hooks, notRun } = await discoverHooks(sandbox.hooksDir, OPEN);
    expect(hooks).toEqual([]);
    expect(notRun).toEqual([
      {
        name: "b\\xffa",
        status: "fail",
        reason: `file name is not valid UTF-8; rename it: mv -- "$(printf '${sandbox.hooksDir}/b\\377a')" "${sandbox.hooksDir}/NEW-NAME"`,
      },
    ]);
  });

  test("the rename command survives quotes, percent signs and backslashes in the name", async () => {
    sandbox = makeSandbox();
    addRawNamedHook(sandbox.hooksDir, Buffer.from([0x27, 0x25, 0x5c, 0xc3]));
    const [entry] = (await discoverHooks(sandbox.hooksDir, OPEN)).notRun;
    // The backslash is doubled: it does not read as the start of an escape.
    expect(entry?.name).toBe("'%\\\\\\xc3");
    expect(entry?.reason).toContain(`printf '${sandbox.hooksDir}/\\047%%\\\\\\303'`);
  });

  test("two names that are not UTF-8 never read the same: a backslash in one is doubled", async () => {
    sandbox = makeSandbox();
    // The bytes "\xff" spelled out, then 0xfe; and the bytes 0xff 0xfe. Without the doubled backslash both read \xff\xfe.
    addRawNamedHook(sandbox.hooksDir, Buffer.from([0x5c, 0x78, 0x66, 0x66, 0xfe]));
    addRawNamedHook(sandbox.hooksDir, Buffer.from([0xff, 0xfe]));
    const names = (await discoverHooks(sandbox.hooksDir, OPEN)).notRun.map((n) => n.name);
    expect(names).toEqual(["\\\\xff\\xfe", "\\xff\\xfe"]);
  });

  test("valid non-ASCII UTF-8 names still run", async () => {
    sandbox = makeSandbox();
    sandbox.addHook("dns-ü", { fixture: "pass" });
    addRawNamedHook(sandbox.hooksDir, NOT_UTF8);
    const { hooks, notRun } = await discoverHooks(sandbox.hooksDir, STRICT);
    expect(hooks.map((h) => h.name)).toEqual(["dns-ü"]);
    expect(notRun.map((n) => [n.name, n.status])).toEqual([["b\\xffa", "fail"]]);
  });

  test("keeps the byte order of names as they are on disk", async () => {
    sandbox = makeSandbox();
    sandbox.addHook("ba", { content: "notes\n" }, 0o644);
    sandbox.addHook("b", { content: "notes\n" }, 0o644);
    addRawNamedHook(sandbox.hooksDir, NOT_UTF8);
    // 0x61 < 0xff, though the escaped "\xff" would sort before "a".
    expect((await discoverHooks(sandbox.hooksDir, OPEN)).notRun.map((n) => n.name)).toEqual(["b", "ba", "b\\xffa"]);
  });

  test("a file given as the hooks directory is a system error naming it", async () => {
    sandbox = makeSandbox();
    const file = sandbox.addHook("file", { fixture: "pass" });
    const error = await discoverHooks(file, OPEN).catch((e) => e);
    expect(error).toBeInstanceOf(CarpError);
    expect(error.code).toBe("system");
    expect(error.message).toBe(`Hooks directory "${file}" is not a directory; fix: point "hooksDir" at a directory`);
  });

  test.each([
    ["EACCES", "EACCES: permission denied, scandir"],
    ["EMFILE", "EMFILE: too many open files, scandir"],
  ])("a hooks directory that cannot be read (%s) is a system error naming it and the cause", async (code, message) => {
    sandbox = makeSandbox();
    const readdir = async (dir: string): Promise<Buffer[]> => {
      throw errno(code, `${message} '${dir}'`);
    };
    const error = await discoverHooks(sandbox.hooksDir, { ...OPEN, fs: { readdir } }).catch((e) => e);
    expect(error).toBeInstanceOf(CarpError);
    expect(error.code).toBe("system");
    expect(error.message).toBe(
      `Cannot read hooks directory "${sandbox.hooksDir}": ${message} '${sandbox.hooksDir}'; no service was checked`,
    );
    expect(error.cause.code).toBe(code);
  });

  test("a hooks directory that cannot be looked at is a system error too", async () => {
    sandbox = makeSandbox();
    const stat = async (path: string) => {
      throw errno("EACCES", `EACCES: permission denied, stat '${path}'`);
    };
    await expect(discoverHooks(sandbox.hooksDir, { ...OPEN, fs: { stat } })).rejects.toThrow(
      `Cannot read hooks directory "${sandbox.hooksDir}"`,
    );
  });
});

describe("script security", () => {
  test("refuses a world-writable hook and fails it, loudly", async () => {
    sandbox = makeSandbox();
    const open = sandbox.addHook("open", { fixture: "pass" }, 0o777);
    sandbox.addHook("fine", { fixture: "pass" });
    const { hooks, notRun } = await discoverHooks(sandbox.hooksDir, STRICT);
    expect(hooks.map((h) => h.name)).toEqual(["fine"]);
    expect(notRun).toEqual([
      {
        name: "open",
        status: "fail",
        reason: `refused by script security: "${open}" is writable by others (mode 0777); fix: chmod o-w "${open}"`,
      },
    ]);
  });

  test("runs a root-owned 0775 hook of group 0, as git archive or cp leave it", async () => {
    sandbox = makeSandbox();
    sandbox.addHook("grp", { fixture: "pass" }, 0o775);
    const { hooks, notRun } = await discoverHooks(sandbox.hooksDir, STRICT);
    expect(hooks.map((h) => h.name)).toEqual(["grp"]);
    expect(notRun).toEqual([]);
  });

  test("refuses a 0775 hook of group 5, naming it and the fix", async () => {
    sandbox = makeSandbox();
    const path = sandbox.addHook("grp", { fixture: "pass" }, 0o775);
    chownSync(path, 0, 5);
    const { notRun } = await discoverHooks(sandbox.hooksDir, STRICT);
    expect(notRun).toEqual([
      {
        name: "grp",
        status: "fail",
        reason: `refused by script security: "${path}" is group-writable with group 5 (mode 0775); fix: chmod g-w "${path}"`,
      },
    ]);
  });

  test("refuses a hook not owned by root", async () => {
    sandbox = makeSandbox();
    const path = sandbox.addHook("nobody", { fixture: "pass" });
    chownSync(path, 65534, 0);
    const { notRun } = await discoverHooks(sandbox.hooksDir, STRICT);
    expect(notRun[0]?.reason).toBe(`refused by script security: "${path}" is owned by uid 65534, not root; fix: chown root "${path}"`);
  });

  test.each([
    ["setuid", 0o4755],
    ["setgid", 0o2755],
  ])("refuses a %s hook", async (_, mode) => {
    sandbox = makeSandbox();
    const path = sandbox.addHook("suid", { fixture: "pass" }, mode);
    const { hooks, notRun } = await discoverHooks(sandbox.hooksDir, STRICT);
    expect(hooks).toEqual([]);
    expect(notRun[0]?.reason).toContain(`fix: chmod u-s,g-s "${path}"`);
  });

  test("refuses every hook of a writable hooks directory", async () => {
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
    expect(notRun[0]?.reason).toContain(`"${sandbox.hooksDir}" is writable by others (mode 0777); fix: chmod o-w "${sandbox.hooksDir}"`);
  });

  test("refuses every hook of a sticky world-writable hooks directory: anyone could add one", async () => {
    sandbox = makeSandbox();
    sandbox.addHook("a", { fixture: "pass" });
    setMode(sandbox.hooksDir, 0o1777);
    expect((await discoverHooks(sandbox.hooksDir, STRICT)).notRun[0]?.reason).toContain("the sticky bit does not help here");
  });

  test("runs a hook in a 0775 hooks directory of group 0", async () => {
    sandbox = makeSandbox();
    sandbox.addHook("a", { fixture: "pass" });
    chmodSync(sandbox.hooksDir, 0o775);
    expect((await discoverHooks(sandbox.hooksDir, STRICT)).hooks.map((h) => h.name)).toEqual(["a"]);
  });

  test("refuses a hook under a world-writable, non-sticky ancestor, naming that ancestor", async () => {
    sandbox = makeSandbox();
    const open = makeDir(join(sandbox.dir, "open"), 0o777);
    const hooksDir = makeDir(join(open, "hooks"), 0o755);
    writeScript(join(hooksDir, "svc"));
    const { hooks, notRun } = await discoverHooks(hooksDir, STRICT);
    expect(hooks).toEqual([]);
    expect(notRun[0]?.reason).toBe(`refused by script security: "${open}" is writable by others (mode 0777); fix: chmod o-w "${open}"`);
  });

  test("runs a hook under a sticky world-writable ancestor, as /tmp is", async () => {
    sandbox = makeSandbox();
    const sticky = makeDir(join(sandbox.dir, "sticky"), 0o1777);
    const hooksDir = makeDir(join(sticky, "hooks"), 0o755);
    writeScript(join(hooksDir, "svc"));
    expect((await discoverHooks(hooksDir, STRICT)).hooks.map((h) => h.name)).toEqual(["svc"]);
  });

  test("is not applied when off (or not root)", async () => {
    sandbox = makeSandbox();
    sandbox.addHook("open", { fixture: "pass" }, 0o777);
    expect((await discoverHooks(sandbox.hooksDir, OPEN)).hooks.map((h) => h.name)).toEqual(["open"]);
  });
});

describe("script security for symbolic links", () => {
  test("refuses a link whose target lies under a world-writable directory", async () => {
    sandbox = makeSandbox();
    const open = makeDir(join(sandbox.dir, "open"), 0o777);
    const inner = makeDir(join(open, "inner"), 0o755);
    symlinkSync(writeScript(join(inner, "check")), join(sandbox.hooksDir, "linked"));
    const { hooks, notRun } = await discoverHooks(sandbox.hooksDir, STRICT);
    expect(hooks).toEqual([]);
    expect(notRun[0]?.reason).toBe(`refused by script security: "${open}" is writable by others (mode 0777); fix: chmod o-w "${open}"`);
  });

  test("refuses a link whose target is group-writable, naming the target", async () => {
    sandbox = makeSandbox();
    const safe = makeDir(join(sandbox.dir, "safe"), 0o755);
    const target = writeScript(join(safe, "check"), 0o775);
    chownSync(target, 0, 5);
    symlinkSync(target, join(sandbox.hooksDir, "linked"));
    expect((await discoverHooks(sandbox.hooksDir, STRICT)).notRun[0]?.reason).toContain(`fix: chmod g-w "${target}"`);
  });

  test("accepts a link to a trusted script in a trusted directory", async () => {
    sandbox = makeSandbox();
    const safe = makeDir(join(sandbox.dir, "safe"), 0o755);
    symlinkSync(writeScript(join(safe, "check")), join(sandbox.hooksDir, "linked"));
    expect((await discoverHooks(sandbox.hooksDir, STRICT)).hooks.map((h) => h.name)).toEqual(["linked"]);
  });

  test("refuses a chain of links when a link on the way sits in a world-writable directory", async () => {
    sandbox = makeSandbox();
    const safe = makeDir(join(sandbox.dir, "safe"), 0o755);
    const open = makeDir(join(sandbox.dir, "open"), 0o777);
    // hooks/linked -> open/hop -> safe/check: the file and its directories are fine, but
    // anyone can point open/hop elsewhere.
    symlinkSync(writeScript(join(safe, "check")), join(open, "hop"));
    symlinkSync(join(open, "hop"), join(sandbox.hooksDir, "linked"));
    expect((await discoverHooks(sandbox.hooksDir, STRICT)).notRun[0]?.reason).toBe(
      `refused by script security: "${open}" is writable by others (mode 0777); fix: chmod o-w "${open}"`,
    );
  });

  test("refuses hooks reached through a linked hooks directory that sits in a world-writable directory", async () => {
    sandbox = makeSandbox();
    const open = makeDir(join(sandbox.dir, "open"), 0o777);
    const real = makeDir(join(open, "hooks"), 0o755);
    writeScript(join(real, "svc"));
    const linkedDir = join(sandbox.dir, "hooks.d");
    symlinkSync(real, linkedDir);
    expect((await discoverHooks(linkedDir, STRICT)).notRun[0]?.reason).toContain(`fix: chmod o-w "${open}"`);
  });

  test("accepts a relative link to a trusted script", async () => {
    sandbox = makeSandbox();
    const safe = makeDir(join(sandbox.dir, "safe"), 0o755);
    writeScript(join(safe, "check"));
    symlinkSync("../safe/./check", join(sandbox.hooksDir, "linked"));
    const { hooks } = await discoverHooks(sandbox.hooksDir, STRICT);
    expect(hooks.map((h) => [h.name, h.vetted?.path])).toEqual([["linked", join(safe, "check")]]);
  });

  test("accepts a link to a root-owned script in a sticky directory", async () => {
    sandbox = makeSandbox();
    const sticky = makeDir(join(sandbox.dir, "sticky"), 0o1777);
    symlinkSync(writeScript(join(sticky, "check")), join(sandbox.hooksDir, "linked"));
    expect((await discoverHooks(sandbox.hooksDir, STRICT)).hooks.map((h) => h.name)).toEqual(["linked"]);
  });
});

describe("the check right before exec", () => {
  test("passes a hook that has not changed since discovery", async () => {
    sandbox = makeSandbox();
    sandbox.addHook("svc", { fixture: "pass" });
    const [hook] = (await discoverHooks(sandbox.hooksDir, STRICT)).hooks;
    expect(hook?.vetted).not.toBeNull();
    expect(await recheckHook(hook!)).toBeNull();
  });

  test("catches a file swapped for another after discovery, by device and inode", async () => {
    sandbox = makeSandbox();
    const path = sandbox.addHook("svc", { fixture: "pass" });
    const [hook] = (await discoverHooks(sandbox.hooksDir, STRICT)).hooks;
    // Same content, owner and mode: only its identity tells the new file apart.
    const replacement = writeScript(join(sandbox.hooksDir, ".svc.new"));
    renameSync(replacement, path);
    const problem = await recheckHook(hook!);
    expect(problem).toStartWith(`changed between discovery and exec: "${path}" now leads to another file`);
    expect(problem).toContain(`inode ${hook!.vetted!.ino})`);
  });

  test("catches a link retargeted after discovery", async () => {
    sandbox = makeSandbox();
    const safe = makeDir(join(sandbox.dir, "safe"), 0o755);
    const link = join(sandbox.hooksDir, "linked");
    symlinkSync(writeScript(join(safe, "one")), link);
    const [hook] = (await discoverHooks(sandbox.hooksDir, STRICT)).hooks;
    const other = writeScript(join(safe, "two"));
    symlinkSync(other, `${link}.new`);
    renameSync(`${link}.new`, link);
    expect(await recheckHook(hook!)).toContain(`now leads to another file ("${other}"`);
  });

  test("catches a hook made writable after discovery", async () => {
    sandbox = makeSandbox();
    const path = sandbox.addHook("svc", { fixture: "pass" });
    const [hook] = (await discoverHooks(sandbox.hooksDir, STRICT)).hooks;
    chmodSync(path, 0o777);
    expect(await recheckHook(hook!)).toBe(
      `changed between discovery and exec: "${path}" is writable by others (mode 0777); fix: chmod o-w "${path}"`,
    );
  });

  test("does nothing for a hook discovered without script security", async () => {
    sandbox = makeSandbox();
    const path = sandbox.addHook("svc", { fixture: "pass" });
    const [hook] = (await discoverHooks(sandbox.hooksDir, OPEN)).hooks;
    chmodSync(path, 0o777);
    expect(hook?.vetted).toBeNull();
    expect(await recheckHook(hook!)).toBeNull();
  });
});

describe("script security for interpreters", () => {
  /** A hook whose first line is `line`. */
  function hookWith(line: string): string {
    return sandbox.addHook("svc", { content: `${line}\nexit 0\n` });
  }

  /** A script at `path` that could stand in for an interpreter (a copy of the pass fixture). */
  function interpreter(path: string, mode = 0o755): string {
    return writeScript(path, mode);
  }

  test("refuses a root 0755 hook whose interpreter lies in a world-writable directory (the interpreter is the attacker's)", async () => {
    sandbox = makeSandbox();
    const w = makeDir(join(sandbox.dir, "w"), 0o777);
    const interp = interpreter(join(w, "interp"), 0o777);
    hookWith(`#!${interp}`);
    const { hooks, notRun } = await discoverHooks(sandbox.hooksDir, STRICT);
    expect(hooks).toEqual([]);
    expect(notRun).toEqual([
      {
        name: "svc",
        status: "fail",
        reason: `refused by script security: its interpreter "${interp}" (#! line): "${w}" is writable by others (mode 0777); fix: chmod o-w "${w}"`,
      },
    ]);
  });

  test.each([
    ["writable by others", 0o757, 0, 0, "fix: chmod o-w"],
    ["group-writable with group 5", 0o775, 0, 5, "fix: chmod g-w"],
    ["owned by another uid", 0o755, 65534, 0, "fix: chown root"],
    ["setuid", 0o4755, 0, 0, "fix: chmod u-s,g-s"],
  ])("refuses an interpreter %s in a trusted directory", async (_, mode, uid, gid, fix) => {
    sandbox = makeSandbox();
    const safe = makeDir(join(sandbox.dir, "safe"), 0o755);
    const interp = interpreter(join(safe, "interp"));
    chownSync(interp, uid, gid);
    setMode(interp, mode);
    hookWith(`#!${interp}`);
    expect((await discoverHooks(sandbox.hooksDir, STRICT)).notRun[0]?.reason).toBe(
      `refused by script security: its interpreter "${interp}" (#! line): ${
        uid !== 0
          ? `"${interp}" is owned by uid ${uid}, not root; ${fix} "${interp}"`
          : mode & 0o4000
            ? `"${interp}" is setuid or setgid (mode 4755); ${fix} "${interp}"`
            : `"${interp}" is ${gid ? `group-writable with group ${gid}` : "writable by others"} (mode 0${mode.toString(8)}); ${fix} "${interp}"`
      }`,
    );
  });

  test("runs a hook whose interpreter is trusted, and one reached through a trusted link", async () => {
    sandbox = makeSandbox();
    const safe = makeDir(join(sandbox.dir, "safe"), 0o755);
    symlinkSync(interpreter(join(safe, "interp")), join(safe, "linked"));
    sandbox.addHook("direct", { content: `#!${join(safe, "interp")}\n` });
    sandbox.addHook("linked", { content: `#!${join(safe, "linked")} -x\n` });
    sandbox.addHook("sh", { content: "#!/bin/sh\nexit 0\n" });
    const { hooks, notRun } = await discoverHooks(sandbox.hooksDir, STRICT);
    expect(notRun).toEqual([]);
    expect(hooks.map((h) => h.name)).toEqual(["direct", "linked", "sh"]);
  });

  test("refuses an interpreter reached through a link that sits in a world-writable directory", async () => {
    sandbox = makeSandbox();
    const safe = makeDir(join(sandbox.dir, "safe"), 0o755);
    const open = makeDir(join(sandbox.dir, "open"), 0o777);
    symlinkSync(interpreter(join(safe, "interp")), join(open, "hop"));
    hookWith(`#!${join(open, "hop")}`);
    expect((await discoverHooks(sandbox.hooksDir, STRICT)).notRun[0]?.reason).toEndWith(`fix: chmod o-w "${open}"`);
  });

  test("checks an interpreter that is a script itself, and its interpreter, down the chain", async () => {
    sandbox = makeSandbox();
    const safe = makeDir(join(sandbox.dir, "safe"), 0o755);
    const w = makeDir(join(sandbox.dir, "w"), 0o777);
    const inner = interpreter(join(w, "inner"));
    const outer = join(safe, "outer");
    writeFileSync(outer, `#!${inner}\n`);
    chmodSync(outer, 0o755);
    hookWith(`#!${outer}`);
    expect((await discoverHooks(sandbox.hooksDir, STRICT)).notRun[0]?.reason).toBe(
      `refused by script security: its interpreter "${outer}" (#! line): its interpreter "${inner}" (#! line): "${w}" is writable by others (mode 0777); fix: chmod o-w "${w}"`,
    );
  });

  test(`refuses interpreters nested more than ${MAX_INTERPRETERS} deep, and a loop`, async () => {
    sandbox = makeSandbox();
    const safe = makeDir(join(sandbox.dir, "safe"), 0o755);
    const chain = Array.from({ length: MAX_INTERPRETERS + 1 }, (_, i) => join(safe, `i${i}`));
    chain.forEach((path, i) => {
      writeFileSync(path, `#!${chain[i + 1] ?? "/bin/sh"}\n`);
      chmodSync(path, 0o755);
    });
    sandbox.addHook("deep", { content: `#!${chain[0]}\n` });
    const loop = join(safe, "loop");
    writeFileSync(loop, `#!${loop}\n`);
    chmodSync(loop, 0o755);
    sandbox.addHook("loop", { content: `#!${loop}\n` });
    const { notRun } = await discoverHooks(sandbox.hooksDir, STRICT);
    expect(notRun.map((n) => [n.name, n.reason.match(/more than \d+ levels of interpreters/)?.[0]])).toEqual([
      ["deep", `more than ${MAX_INTERPRETERS} levels of interpreters`],
      ["loop", `more than ${MAX_INTERPRETERS} levels of interpreters`],
    ]);
  });

  test("a missing interpreter in a trusted directory is no refusal: the exec fails and says so", async () => {
    sandbox = makeSandbox();
    sandbox.addHook("bad", { fixture: "bad-shebang" });
    expect((await discoverHooks(sandbox.hooksDir, STRICT)).hooks.map((h) => h.name)).toEqual(["bad"]);
  });

  test("a missing interpreter in a directory anyone can add to is refused: anyone could create it", async () => {
    sandbox = makeSandbox();
    const sticky = makeDir(join(sandbox.dir, "sticky"), 0o1777);
    hookWith(`#!${join(sticky, "not-yet")}`);
    expect((await discoverHooks(sandbox.hooksDir, STRICT)).notRun[0]?.reason).toBe(
      `refused by script security: its interpreter "${join(sticky, "not-yet")}" (#! line): "${sticky}" is writable by others (mode 1777; the sticky bit does not help here, as anyone could add the name looked up there); fix: chmod o-w "${sticky}"`,
    );
  });

  test("runs a root-owned interpreter in a sticky directory: nobody else can replace it", async () => {
    sandbox = makeSandbox();
    const sticky = makeDir(join(sandbox.dir, "sticky"), 0o1777);
    hookWith(`#!${interpreter(join(sticky, "interp"))}`);
    expect((await discoverHooks(sandbox.hooksDir, STRICT)).hooks.map((h) => h.name)).toEqual(["svc"]);
  });
});

describe("script security for #!/usr/bin/env", () => {
  /** A PATH of these directories, then the system's. */
  const pathOf = (...dirs: string[]) => [...dirs, "/usr/bin", "/bin"].join(":");

  test("resolves the name on the hooks' PATH and vets the file found", async () => {
    sandbox = makeSandbox();
    const safe = makeDir(join(sandbox.dir, "safe"), 0o755);
    const found = writeScript(join(safe, "interp"), 0o777);
    sandbox.addHook("svc", { content: "#!/usr/bin/env interp\n" });
    expect((await discoverHooks(sandbox.hooksDir, { ...STRICT, searchPath: pathOf(safe) })).notRun[0]?.reason).toBe(
      `refused by script security: its interpreter "/usr/bin/env" (#! line) looks "interp" up on PATH: "${found}" is writable by others (mode 0777); fix: chmod o-w "${found}"`,
    );
  });

  test("runs what env finds when all is trusted: a system binary, or a trusted script on a trusted PATH", async () => {
    sandbox = makeSandbox();
    const safe = makeDir(join(sandbox.dir, "safe"), 0o755);
    writeScript(join(safe, "interp"));
    sandbox.addHook("a", { content: "#!/usr/bin/env sh\n" });
    sandbox.addHook("b", { content: "#!/usr/bin/env -S interp -e\n" });
    const { hooks, notRun } = await discoverHooks(sandbox.hooksDir, { ...STRICT, searchPath: pathOf(safe) });
    expect(notRun).toEqual([]);
    expect(hooks.map((h) => h.name)).toEqual(["a", "b"]);
  });

  test.each([
    ["world-writable", 0o777, ""],
    ["world-writable and sticky, like /tmp", 0o1777, "; the sticky bit does not help here, as anyone could add the name looked up there"],
  ])("refuses a PATH with a %s directory before the one env finds: anyone could add the name there", async (_, mode, note) => {
    sandbox = makeSandbox();
    const open = makeDir(join(sandbox.dir, "open"), mode);
    sandbox.addHook("svc", { content: "#!/usr/bin/env sh\n" });
    expect((await discoverHooks(sandbox.hooksDir, { ...STRICT, searchPath: pathOf(open) })).notRun[0]?.reason).toBe(
      `refused by script security: its interpreter "/usr/bin/env" (#! line) looks "sh" up on PATH: "${open}" is writable by others (mode ${mode.toString(8).padStart(4, "0")}${note}); fix: chmod o-w "${open}"`,
    );
  });

  test("vets the interpreter of the script env finds, too", async () => {
    sandbox = makeSandbox();
    const safe = makeDir(join(sandbox.dir, "safe"), 0o755);
    const w = makeDir(join(sandbox.dir, "w"), 0o777);
    const inner = writeScript(join(w, "inner"));
    const found = join(safe, "interp");
    writeFileSync(found, `#!${inner}\n`);
    chmodSync(found, 0o755);
    sandbox.addHook("svc", { content: "#!/usr/bin/env interp\n" });
    expect((await discoverHooks(sandbox.hooksDir, { ...STRICT, searchPath: pathOf(safe) })).notRun[0]?.reason).toBe(
      `refused by script security: its interpreter "/usr/bin/env" (#! line) runs "interp", found at "${found}": its interpreter "${inner}" (#! line): "${w}" is writable by others (mode 0777); fix: chmod o-w "${w}"`,
    );
  });

  test("a PATH directory after the one env finds does not matter", async () => {
    sandbox = makeSandbox();
    const open = makeDir(join(sandbox.dir, "open"), 0o777);
    sandbox.addHook("svc", { content: "#!/usr/bin/env sh\n" });
    expect((await discoverHooks(sandbox.hooksDir, { ...STRICT, searchPath: `/usr/bin:/bin:${open}` })).hooks).toHaveLength(1);
  });

  test("passes over what env cannot execute, and over a directory that is missing, as execvp does", async () => {
    sandbox = makeSandbox();
    const first = makeDir(join(sandbox.dir, "first"), 0o755);
    const second = makeDir(join(sandbox.dir, "second"), 0o755);
    writeScript(join(first, "interp"), 0o644);
    const runs = writeScript(join(second, "interp"));
    sandbox.addHook("svc", { content: "#!/usr/bin/env interp\n" });
    const searchPath = pathOf(join(sandbox.dir, "missing"), first, second);
    const [hook] = (await discoverHooks(sandbox.hooksDir, { ...STRICT, searchPath })).hooks;
    expect(hook?.vetted?.searchPath).toBe(searchPath);
    // The one found is the one vetted: loosen it, and the check before exec refuses.
    chmodSync(runs, 0o777);
    expect(await recheckHook(hook!)).toContain(`looks "interp" up on PATH: "${runs}" is writable by others`);
  });

  test.each([
    ["an option", "#!/usr/bin/env -i sh", 'env option "-i"'],
    ["an assignment after -S", "#!/usr/bin/env -S PATH=/tmp sh", 'env assignment "PATH=/tmp"'],
    ["no program", "#!/usr/bin/env", "names no program"],
  ])("refuses %s, naming it", async (_, line, named) => {
    sandbox = makeSandbox();
    sandbox.addHook("svc", { content: `${line}\n` });
    const reason = (await discoverHooks(sandbox.hooksDir, { ...STRICT, searchPath: pathOf() })).notRun[0]?.reason;
    expect(reason).toStartWith('refused by script security: its interpreter "/usr/bin/env" (#! line): ');
    expect(reason).toContain(named);
    expect(reason).toEndWith("fix: name the interpreter by its full path in the #! line");
  });

  test("follows the hooks' PATH as the config sets it, not the daemon's", async () => {
    sandbox = makeSandbox();
    const open = makeDir(join(sandbox.dir, "open"), 0o777);
    sandbox.addHook("svc", { content: "#!/usr/bin/env sh\n" });
    expect((await discoverHooks(sandbox.hooksDir, { ...STRICT, searchPath: "/usr/bin:/bin" })).hooks).toHaveLength(1);
    expect((await discoverHooks(sandbox.hooksDir, { ...STRICT, searchPath: `${open}:/usr/bin:/bin` })).hooks).toHaveLength(0);
  });
});

describe("the check right before exec, for interpreters", () => {
  test("catches an interpreter loosened after discovery", async () => {
    sandbox = makeSandbox();
    const safe = makeDir(join(sandbox.dir, "safe"), 0o755);
    const interp = writeScript(join(safe, "interp"));
    sandbox.addHook("svc", { content: `#!${interp}\n` });
    const [hook] = (await discoverHooks(sandbox.hooksDir, STRICT)).hooks;
    chmodSync(safe, 0o777);
    expect(await recheckHook(hook!)).toBe(
      `changed between discovery and exec: its interpreter "${interp}" (#! line): "${safe}" is writable by others (mode 0777); fix: chmod o-w "${safe}"`,
    );
  });

  test("lets an interpreter replaced by an upgrade (another file, as trusted) run: an upgrade must not fail a check", async () => {
    sandbox = makeSandbox();
    const safe = makeDir(join(sandbox.dir, "safe"), 0o755);
    const interp = writeScript(join(safe, "interp"));
    sandbox.addHook("svc", { content: `#!${interp}\n` });
    const [hook] = (await discoverHooks(sandbox.hooksDir, STRICT)).hooks;
    renameSync(writeScript(join(safe, ".interp.new")), interp);
    expect(await recheckHook(hook!)).toBeNull();
  });
});

describe("names of gateway checks", () => {
  test('an entry named "gateway:..." is listed as ./gateway:...: a hook fails with how to rename it, anything else is skipped', async () => {
    sandbox = makeSandbox();
    sandbox.addHook("gateway:WAN_GW", { fixture: "pass" });
    sandbox.addHook("gateway:it's", { fixture: "pass" });
    sandbox.addHook("gateway:notes", { content: "notes\n" }, 0o644);
    sandbox.addHook("gateway_ok", { fixture: "pass" });
    const { hooks, notRun } = await discoverHooks(sandbox.hooksDir, OPEN);
    expect(hooks.map((h) => h.name)).toEqual(["gateway_ok"]);
    const dir = sandbox.hooksDir;
    expect(notRun).toEqual([
      {
        name: "./gateway:WAN_GW",
        status: "fail",
        reason: `its name is reserved: "gateway:NAME" is the check of the gateway NAME ([gateways."NAME"]); rename it: mv -- '${dir}/gateway:WAN_GW' '${dir}/gateway_WAN_GW'`,
      },
      {
        name: "./gateway:it's",
        status: "fail",
        reason: `its name is reserved: "gateway:NAME" is the check of the gateway NAME ([gateways."NAME"]); rename it: mv -- '${dir}/gateway:it'\\''s' '${dir}/gateway_it'\\''s'`,
      },
      { name: "./gateway:notes", status: "skipped", reason: "not executable" },
    ]);
  });

  test("the rename command works in sh", async () => {
    sandbox = makeSandbox();
    sandbox.addHook("gateway:it's", { fixture: "pass" });
    const { notRun } = await discoverHooks(sandbox.hooksDir, OPEN);
    const command = notRun[0]!.reason.slice(notRun[0]!.reason.indexOf("rename it: ") + "rename it: ".length);
    expect(Bun.spawnSync(["/bin/sh", "-c", command]).exitCode).toBe(0);
    const after = await discoverHooks(sandbox.hooksDir, OPEN);
    expect(after.hooks.map((h) => h.name)).toEqual(["gateway_it's"]);
  });
});

/** Drains microtasks only: a promise that waits for the thread pool cannot settle in here. */
async function settlesOnMicrotasks<T>(promise: Promise<T>): Promise<boolean> {
  const state = { settled: false };
  void promise.then(() => {
    state.settled = true;
  });
  for (let i = 0; i < 1000 && !state.settled; i++) await Promise.resolve();
  return state.settled;
}

// A cold `check` pays for every thread pool round trip: with BLOCKING_DISCOVERY_FS (one-shot
// commands) discovery and script security make their (local, metadata-only) calls synchronously,
// so they settle on microtasks alone, with no turn of the event loop in between.
test("one-shot: discovery with script security settles without a turn of the event loop (no thread pool round trips)", async () => {
  sandbox = makeSandbox();
  sandbox.addHook("a", { fixture: "pass" });
  sandbox.addHook("b", { fixture: "pass" });
  const discovering = discoverHooks(sandbox.hooksDir, { ...STRICT, fs: BLOCKING_DISCOVERY_FS });
  expect(await settlesOnMicrotasks(discovering)).toBe(true);
  const { hooks } = await discovering;
  expect(hooks.map((hook) => hook.name)).toEqual(["a", "b"]);
  const rechecking = recheckHook(hooks[0]!, BLOCKING_DISCOVERY_FS);
  expect(await settlesOnMicrotasks(rechecking)).toBe(true);
  expect(await rechecking).toBeNull();
});

// The daemon's default: a file system that hangs under the hooks directory holds a pool thread,
// not the event loop, so the socket and signals are still served while discovery waits.
test("by default discovery goes through the thread pool: the event loop turns while it waits", async () => {
  sandbox = makeSandbox();
  sandbox.addHook("a", { fixture: "pass" });
  const discovering = discoverHooks(sandbox.hooksDir, STRICT);
  expect(await settlesOnMicrotasks(discovering)).toBe(false);
  const { hooks } = await discovering;
  expect(hooks.map((hook) => hook.name)).toEqual(["a"]);
  expect(await settlesOnMicrotasks(recheckHook(hooks[0]!))).toBe(false);
});
