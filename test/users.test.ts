/** Users from the password and group files: what a check run as `user` gets, and what config refuses. */
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CarpError } from "../src/common/errors.ts";
import { parseConfig } from "../src/config/config.ts";
import { findAccount, parseMemberships, parsePasswdEntry } from "../src/config/users.ts";

const PASSWD = `# $FreeBSD$
#
root:*:0:0:Charlie &:/root:/bin/csh
nobody:*:65534:65534:Unprivileged user:/nonexistent:/usr/sbin/nologin
frr:*:101:101:FRR:/var/run/frr:/usr/sbin/nologin
+ldapuser::::::
broken:*:x:1::/:/bin/sh
`;
const GROUP = `# $FreeBSD$
wheel:*:0:root
nogroup:*:65533:
nobody:*:65534:
frr:*:101:
frrvty:*:102:frr,root
monitor:*:900:nobody,frr
`;

let dir = "";
afterEach(() => rmSync(dir, { recursive: true, force: true }));
function files() {
  dir = mkdtempSync(join(tmpdir(), "carp-users-"));
  const passwdFile = join(dir, "passwd");
  const groupFile = join(dir, "group");
  writeFileSync(passwdFile, PASSWD);
  writeFileSync(groupFile, GROUP);
  return { passwdFile, groupFile };
}

describe("the password database", () => {
  test("a user's uid, primary gid and home; comments, NIS lines and broken entries are not users", () => {
    expect(parsePasswdEntry(PASSWD, "frr")).toEqual({ uid: 101, gid: 101, home: "/var/run/frr" });
    expect(parsePasswdEntry(PASSWD, "#")).toBeNull();
    expect(parsePasswdEntry(PASSWD, "+ldapuser")).toBeNull();
    expect(parsePasswdEntry(PASSWD, "broken")).toBeNull();
    expect(parsePasswdEntry(PASSWD, "nosuch")).toBeNull();
  });

  test("a user's groups are initgroups' list: the primary one first, then every group naming the user, each once", () => {
    expect(parseMemberships(GROUP, "frr")).toEqual([102, 900]);
    expect(findAccount("frr", files())).toEqual({ name: "frr", uid: 101, gid: 101, home: "/var/run/frr", groups: [101, 102, 900] });
    expect(findAccount("nobody", files())).toEqual({ name: "nobody", uid: 65534, gid: 65534, home: "/nonexistent", groups: [65534, 900] });
    expect(findAccount("nosuch", files())).toBeNull();
  });

  test("config refuses a check's user that does not exist, naming it and the table", () => {
    const where = files();
    expect(parseConfig({ hooks: { frr_ospf: { user: "frr" } } }, { platform: "freebsd", ...where }).hooks.frr_ospf?.user).toBe("frr");
    let message = "";
    try {
      parseConfig({ hooks: { frr_ospf: { user: "frrr", intervalMs: 60_000 } } }, { platform: "freebsd", ...where });
    } catch (error) {
      expect((error as CarpError).code).toBe("config");
      message = (error as Error).message;
    }
    expect(message).toContain(`no user "frrr" in "${where.passwdFile}"; create the user, or leave user out to run the check as root`);
    expect(message).toContain("→ at hooks.frr_ospf.user");
  });

  test("intervalMs is whole milliseconds from 1000 to 24 hours", () => {
    for (const intervalMs of [999, 86_400_001, 1.5]) {
      expect(() => parseConfig({ hooks: { slow: { intervalMs } } })).toThrow(CarpError);
    }
    expect(parseConfig({ hooks: { slow: { intervalMs: 1000 } } }).hooks.slow?.intervalMs).toBe(1000);
  });
});
