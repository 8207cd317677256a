/** The script security rule for one path, table-driven, and the walk that applies it. */
import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, type Stats, writeFileSync } from "node:fs";
import { lstat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  envCommandOf,
  type FirstLine,
  HEAD_BYTES,
  insecurityOf,
  type Ownership,
  type PathRole,
  parseFirstLine,
  type SecurityFs,
  vetHook,
} from "../src/engine/script-security.ts";

const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;
const S_IFMT = 0o170000;

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
  ["a root 0755 interpreter is trusted", file(0o755), "interpreter", null],
  ["an interpreter of uid 1000 is refused", file(0o755, 1000), "interpreter", "fix: chown root"],
  ["a setuid interpreter is refused", file(0o4755), "interpreter", "fix: chmod u-s,g-s"],
  ["a 0777 interpreter is refused", file(0o777), "interpreter", "fix: chmod o-w"],
  [
    "a PATH directory anyone can add to is refused, sticky or not",
    dir(0o1777),
    "search directory",
    "anyone could add the name looked up there",
  ],
  ["a 0755 PATH directory is trusted", dir(0o755), "search directory", null],
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

/** What a fake file holds when a test does not say: a binary, which has no interpreter. */
const ELF = "\x7fELF";

/** A fake file system: each path's owner, group and mode, or a link's target, and a file's first bytes. */
function fakeFs(entries: Record<string, Partial<Ownership> & { link?: string; error?: string; content?: string }>): SecurityFs {
  const find = (path: string) => {
    const entry = entries[path];
    if (entry === undefined) throw Object.assign(new Error(`ENOENT: no such file or directory, lstat '${path}'`), { code: "ENOENT" });
    if (entry.error) throw Object.assign(new Error(`${entry.error}, lstat '${path}'`), { code: entry.error.split(":")[0] });
    return entry;
  };
  return {
    async lstat(path) {
      const { uid = 0, gid = 0, mode = S_IFDIR | 0o755, link } = find(path);
      const type = link === undefined ? mode & S_IFMT : S_IFLNK;
      return {
        uid,
        gid,
        mode,
        dev: 1,
        ino: path.length,
        isSymbolicLink: () => type === S_IFLNK,
        isDirectory: () => type === S_IFDIR,
        isFile: () => type === S_IFREG,
      } as Stats;
    },
    async readlink(path) {
      return find(path).link!;
    },
    async readHead(path, length) {
      const bytes = Buffer.from(find(path).content ?? ELF, "latin1").subarray(0, length);
      return { bytes, dev: 1, ino: path.length };
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

describe("the first line, as the kernel reads it", () => {
  const table: Array<[what: string, head: string, read: FirstLine]> = [
    ["a binary has no interpreter", "\x7fELF\x02\x01", { kind: "binary" }],
    ["no #! runs under /bin/sh", "exit 0\n", { kind: "no interpreter" }],
    ["#! naming nothing is no interpreter either", "#!  \nexit 0\n", { kind: "no interpreter" }],
    ["an interpreter alone", "#!/bin/sh\nexit 0\n", { kind: "interpreter", interpreter: "/bin/sh", argument: null }],
    ["spaces around are dropped", "#! \t/bin/sh \t\n", { kind: "interpreter", interpreter: "/bin/sh", argument: null }],
    [
      "the rest of the line is one argument, inner spaces kept",
      "#!/usr/bin/env -S  python3 -u \n",
      { kind: "interpreter", interpreter: "/usr/bin/env", argument: "-S  python3 -u" },
    ],
    ["a NUL ends the line", "#!/bin/sh\0 -x\n", { kind: "interpreter", interpreter: "/bin/sh", argument: null }],
    [
      "a CR stays in the name (a CRLF script does not run)",
      "#!/bin/sh\r\n",
      { kind: "interpreter", interpreter: "/bin/sh\r", argument: null },
    ],
    ["a file of one line without a newline", "#!/bin/sh", { kind: "interpreter", interpreter: "/bin/sh", argument: null }],
  ];
  test.each(table)("%s", (_, head, read) => {
    expect(parseFirstLine(Buffer.from(head, "latin1"))).toEqual(read);
  });

  test(`a #! line longer than ${HEAD_BYTES - 1} bytes cannot be told for certain (Linux cuts it)`, () => {
    const read = parseFirstLine(Buffer.from(`#!/bin/sh ${"x".repeat(HEAD_BYTES)}\n`).subarray(0, HEAD_BYTES));
    expect(read).toEqual({ kind: "unreadable", problem: expect.stringContaining("fix: shorten the #! line") });
  });

  test("a #! line that is not UTF-8 is refused", () => {
    expect(parseFirstLine(Buffer.from([0x23, 0x21, 0x2f, 0xff, 0x0a])).kind).toBe("unreadable");
  });
});

describe("what #!/usr/bin/env runs", () => {
  const table: Array<[what: string, argument: string | null, found: string | RegExp]> = [
    ["a plain name", "python3", "python3"],
    ["a path", "/usr/local/bin/python3", "/usr/local/bin/python3"],
    ["-S and a name with arguments", "-S python3 -u", "python3"],
    ["-S glued to the name", "-Spython3 -u", "python3"],
    ["nothing: env would run the script itself", null, /names no program/],
    ["-S and nothing", "-S ", /names no program/],
    ["-i (the default path differs between libcs)", "-i python3", /env option "-i"/],
    ["-P (FreeBSD: another search path)", "-P/tmp/w python3", /env option "-P\/tmp\/w"/],
    ["an option after -S", "-S -u HOME python3", /env option "-u"/],
    ["an assignment (it may set PATH)", "-S PATH=/tmp/w python3", /env assignment "PATH=\/tmp\/w"/],
    ["an assignment without -S", "PATH=/tmp/w", /env assignment/],
    ["a name and arguments without -S are one name", "python3 -u", /as one program name.*fix: #!\/usr\/bin\/env -S python3 -u/],
    ["a variable after -S", "-S $HOME/python3", /quotes, escapes or variables/],
    ["a quote after -S", "-S 'python3'", /quotes, escapes or variables/],
  ];
  test.each(table)("%s", (_, argument, found) => {
    const command = envCommandOf(argument);
    if (typeof found === "string") expect(command).toEqual({ name: found });
    else expect("problem" in command ? command.problem : "").toMatch(found);
  });
});

describe("interpreters, on a fake file system", () => {
  test("a script without #! is vetted with /bin/sh, which runs it", async () => {
    const fs = fakeFs({
      "/": {},
      "/h": {},
      "/h/svc": { mode: S_IFREG | 0o755, content: "exit 0\n" },
      "/bin": { mode: S_IFDIR | 0o777 },
      "/bin/sh": { mode: S_IFREG | 0o755 },
    });
    expect(await vetHook("/h/svc", { fs })).toEqual({
      problem: 'it has no #! line and runs under "/bin/sh": "/bin" is writable by others (mode 0777); fix: chmod o-w "/bin"',
    });
  });

  test("a binary hook has no interpreter to vet", async () => {
    const fs = fakeFs({ "/": {}, "/h": {}, "/h/svc": { mode: S_IFREG | 0o755 }, "/bin": { mode: S_IFDIR | 0o777 } });
    expect(await vetHook("/h/svc", { fs })).toEqual({ file: { path: "/h/svc", dev: 1, ino: 6 } });
  });

  test("a file swapped between its stat and its read is refused", async () => {
    const fs = fakeFs({ "/": {}, "/h": {}, "/h/svc": { mode: S_IFREG | 0o755 } });
    const swapped: SecurityFs = { ...fs, readHead: async (path, length) => ({ ...(await fs.readHead(path, length)), ino: 99 }) };
    expect(await vetHook("/h/svc", { fs: swapped })).toEqual({ problem: '"/h/svc" was replaced while it was checked' });
  });

  test("a first line that cannot be read is a refusal, not a pass", async () => {
    const fs = fakeFs({ "/": {}, "/h": {}, "/h/svc": { mode: S_IFREG | 0o755 } });
    const failing: SecurityFs = {
      ...fs,
      readHead: async () => {
        throw new Error("EIO: i/o error, read");
      },
    };
    expect(await vetHook("/h/svc", { fs: failing })).toEqual({ problem: 'cannot read the #! line of "/h/svc": EIO: i/o error, read' });
  });

  test("without a PATH, what env would find is refused", async () => {
    const fs = fakeFs({
      "/": {},
      "/h": {},
      "/h/svc": { mode: S_IFREG | 0o755, content: "#!/usr/bin/env python3\n" },
      "/usr": {},
      "/usr/bin": {},
      "/usr/bin/env": { mode: S_IFREG | 0o755 },
    });
    expect(await vetHook("/h/svc", { fs })).toEqual({
      problem: 'its interpreter "/usr/bin/env" (#! line) looks "python3" up on PATH: no PATH is known to look it up on',
    });
  });
});

describe("what script security reads from the runtime", () => {
  test("lstat reports setuid, setgid and the sticky bit as chmod(1) set them", async () => {
    const dir = mkdtempSync(join(tmpdir(), "carp-modes-"));
    try {
      for (const mode of [0o4755, 0o2755, 0o1777, 0o6755]) {
        const path = join(dir, mode.toString(8));
        writeFileSync(path, "");
        expect(Bun.spawnSync(["chmod", mode.toString(8), path]).exitCode).toBe(0);
        expect(((await lstat(path)).mode & 0o7777).toString(8)).toBe(mode.toString(8));
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("a check run as another user (user)", () => {
  const frr = { name: "frr", uid: 101, groups: [101, 0, 900] };
  const cases: Array<[string, Ownership, PathRole, string | null]> = [
    ["root 0755 is trusted", file(0o755), "hook", null],
    [
      "group-writable by group 0, a group of the user, is refused (root alone would trust it)",
      file(0o775),
      "hook",
      '"/p" is group-writable with group 0, a group of user "frr", whom the check runs as (mode 0775); fix: chmod g-w "/p"',
    ],
    ["a directory writable by a group of the user is refused", dir(0o775), "hooks directory", 'a group of user "frr"'],
    ["an interpreter writable by a group of the user is refused", file(0o775), "interpreter", 'a group of user "frr"'],
    [
      "a sticky ancestor writable by the user's groups is still trusted (the user cannot replace root's entries)",
      dir(0o1775),
      "ancestor",
      null,
    ],
  ];
  for (const [what, info, role, expected] of cases) {
    test(what, () => {
      const problem = insecurityOf("/p", info, role, frr);
      if (expected === null) expect(problem).toBeNull();
      else expect(problem).toContain(expected);
    });
  }

  test("the walk vets the hook's path for the user: a directory above it writable by the user's group refuses it", async () => {
    const root = mkdtempSync(join(tmpdir(), "carp-runner-"));
    try {
      const hooks = join(root, "hooks");
      Bun.spawnSync(["mkdir", "-m", "0775", hooks]);
      Bun.spawnSync(["chmod", "0755", root]);
      writeFileSync(join(hooks, "svc"), "#!/bin/sh\nexit 0\n", { mode: 0o755 });
      expect(await vetHook(join(hooks, "svc"))).toMatchObject({ file: expect.anything() });
      expect(await vetHook(join(hooks, "svc"), { runner: frr })).toEqual({
        problem: `"${hooks}" is group-writable with group 0, a group of user "frr", whom the check runs as (mode 0775); fix: chmod g-w "${hooks}"`,
      });
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
