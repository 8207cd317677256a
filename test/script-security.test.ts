/** The script security rule for one path, table-driven, and the walk that applies it. */
import { describe, expect, test } from "bun:test";
import type { Stats } from "node:fs";
import { insecurityOf, type Ownership, type PathRole, type SecurityFs, vetHook } from "../src/engine/script-security.ts";

const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;

function file(mode: number, uid = 0, gid = 0): Ownership {
  return { uid, gid, mode: S_IFREG | mode };
}

function dir(mode: number, uid = 0, gid = 0): Ownership {
  return { uid, gid, mode: S_IFDIR | mode };
}

/** What, its stat, its role, and the problem (a part of it), or null when trusted. */
const cases: Array<[string, Ownership, PathRole, string | null]> = [
  ["root 0755 hook is trusted", file(0o755), "hook", null],
  ["a hook of uid 1000 is refused", file(0o755, 1000), "hook", '"/p" is owned by uid 1000, not root; fix: chown root "/p"'],
  ["0775 with group 0 (wheel) is trusted, as keepalived trusts it", file(0o775), "hook", null],
  ["0775 with group 5 is refused", file(0o775, 0, 5), "hook", '"/p" is group-writable with group 5 (mode 0775); fix: chmod g-w "/p"'],
  ["0757 is refused", file(0o757), "hook", '"/p" is writable by others (mode 0757); fix: chmod o-w "/p"'],
  ["a 01777 ancestor is trusted (sticky, as /tmp)", dir(0o1777), "ancestor", null],
  ["01777 as the hook's own file is refused", file(0o1777), "hook", '"/p" is writable by others (mode 1777)'],
  ["a 01777 hooks directory is refused: any new entry runs", dir(0o1777), "hooks directory", "fix: chmod o-w"],
  ["a sticky ancestor owned by uid 1000 is refused", dir(0o1777, 1000), "ancestor", "fix: chown root"],
  ["a 0777 ancestor is refused", dir(0o777), "ancestor", '"/p" is writable by others (mode 0777); fix: chmod o-w "/p"'],
  ["a 0775 ancestor of group 5 is refused", dir(0o775, 0, 5), "ancestor", "fix: chmod g-w"],
  ["a 0775 ancestor of group 0 is trusted", dir(0o775), "ancestor", null],
  ["a setuid hook (04755) is refused", file(0o4755), "hook", '"/p" is setuid or setgid (mode 4755); fix: chmod u-s,g-s "/p"'],
  ["a setgid hook (02755) is refused", file(0o2755), "hook", "(mode 2755); fix: chmod u-s,g-s"],
  ["a setgid directory (02755) is trusted", dir(0o2755), "ancestor", null],
];

describe("script security rule", () => {
  test.each(cases)("%s", (_, info, role, expected) => {
    const problem = insecurityOf("/p", info, role);
    if (expected === null) expect(problem).toBeNull();
    else expect(problem).toContain(expected);
  });

  test("says why the sticky bit does not excuse the hooks directory", () => {
    expect(insecurityOf("/h", dir(0o1777), "hooks directory")).toBe(
      '"/h" is writable by others (mode 1777; the sticky bit does not help here, as every new entry runs); fix: chmod o-w "/h"',
    );
  });
});

/** A fake file system: each path's owner, group and mode, or a link's target. */
function fakeFs(entries: Record<string, Partial<Ownership> & { link?: string; error?: string }>): SecurityFs {
  const find = (path: string) => {
    const entry = entries[path];
    if (entry === undefined) throw Object.assign(new Error(`ENOENT: no such file or directory, lstat '${path}'`), { code: "ENOENT" });
    if (entry.error) throw Object.assign(new Error(`${entry.error}, lstat '${path}'`), { code: entry.error.split(":")[0] });
    return entry;
  };
  return {
    async lstat(path) {
      const { uid = 0, gid = 0, mode = S_IFDIR | 0o755, link } = find(path);
      return { uid, gid, mode, dev: 1, ino: path.length, isSymbolicLink: () => link !== undefined } as Stats;
    },
    async readlink(path) {
      return find(path).link!;
    },
  };
}

describe("the walk", () => {
  test("vets the file reached and records its identity", async () => {
    const fs = fakeFs({ "/": {}, "/h": {}, "/h/svc": { mode: S_IFREG | 0o755 } });
    expect(await vetHook("/h/svc", { fs })).toEqual({ file: { path: "/h/svc", dev: 1, ino: 6 } });
  });

  test("a directory that cannot be looked at is a refusal, not a pass", async () => {
    const fs = fakeFs({ "/": {}, "/h": { error: "EACCES: permission denied" }, "/h/svc": { mode: S_IFREG | 0o755 } });
    expect(await vetHook("/h/svc", { fs })).toEqual({ problem: `cannot check "/h/svc": EACCES: permission denied, lstat '/h'` });
  });

  test("a loop of links is refused", async () => {
    const fs = fakeFs({ "/": {}, "/h": {}, "/h/a": { link: "b" }, "/h/b": { link: "/h/a" } });
    expect(await vetHook("/h/a", { fs })).toEqual({ problem: 'cannot resolve "/h/a": more than 32 symbolic links' });
  });

  test("vets the directories a link target passes through, not one only left by ..", async () => {
    const fs = fakeFs({
      "/": {},
      "/h": {},
      "/h/svc": { link: "../lib/x/../open/check" },
      "/lib": {},
      "/lib/x": { mode: S_IFDIR | 0o777 },
      "/lib/open": { mode: S_IFDIR | 0o777 },
      "/lib/open/check": { mode: S_IFREG | 0o755 },
    });
    // Writing /lib/x cannot change what its ".." is; writing /lib/open can replace "check".
    expect(await vetHook("/h/svc", { fs })).toEqual({
      problem: '"/lib/open" is writable by others (mode 0777); fix: chmod o-w "/lib/open"',
    });
  });
});
