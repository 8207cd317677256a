/**
 * User names to accounts, from the password and group files (/etc/passwd and /etc/group, which
 * FreeBSD's pwd_mkdb and OPNsense's user manager keep): the uid, the primary gid, HOME, and the
 * groups initgroups(3) would give (the primary one, and every group that lists the name). Shared
 * by the config schema (so `config` refuses a `user` that does not exist) and the evaluation
 * (which looks the account up again at every run, so a changed group membership applies). Pure
 * parsers, one small effect (reading the files); free of zod.
 */
import { readFileSync } from "node:fs";
import { GROUP_FILE } from "./group.ts";

/** Where user names are looked up. */
export const PASSWD_FILE = "/etc/passwd";

/** Where the files are read; tests point them at their own. */
export interface AccountFiles {
  passwdFile?: string;
  groupFile?: string;
}

/** A user as a check runs with it. */
export interface Account {
  name: string;
  uid: number;
  /** The primary group (passwd's gid field). */
  gid: number;
  /** The home directory, HOME of the check. */
  home: string;
  /** What initgroups(3) sets: the primary gid first, then every group listing the user, each once. */
  groups: number[];
}

const ID = /^\d+$/;

/** The fields of `name`'s entry in a passwd(5) text (comments and NIS `+`/`-` lines skipped), or null. */
export function parsePasswdEntry(text: string, name: string): { uid: number; gid: number; home: string } | null {
  for (const line of text.split("\n")) {
    if (line.startsWith("#") || line.startsWith("+") || line.startsWith("-")) continue;
    const fields = line.split(":");
    if (fields[0] !== name || fields.length < 7) continue;
    const [, , uid = "", gid = "", , home = ""] = fields;
    if (!ID.test(uid) || !ID.test(gid)) return null;
    return { uid: Number(uid), gid: Number(gid), home: home === "" ? "/" : home };
  }
  return null;
}

/** The gids of every group in a group(5) text that lists `name` as a member, in file order. */
export function parseMemberships(text: string, name: string): number[] {
  const gids: number[] = [];
  for (const line of text.split("\n")) {
    if (line.startsWith("#") || line.startsWith("+") || line.startsWith("-")) continue;
    const [, , gid = "", members = ""] = line.split(":");
    if (ID.test(gid) && members.split(",").includes(name)) gids.push(Number(gid));
  }
  return gids;
}

/** The account of `name`, or null when the password file has no such user. Throws when a file cannot be read. */
export function findAccount(name: string, files: AccountFiles = {}): Account | null {
  const passwdFile = files.passwdFile ?? PASSWD_FILE;
  const entry = parsePasswdEntry(readFileSync(passwdFile, "utf8"), name);
  if (entry === null) return null;
  const memberOf = parseMemberships(readFileSync(files.groupFile ?? GROUP_FILE, "utf8"), name);
  const groups = [entry.gid, ...memberOf.filter((gid) => gid !== entry.gid)];
  return { name, ...entry, groups: [...new Set(groups)] };
}

/** Why `user` cannot run a check, or null: the config's words for an unknown user. */
export function userProblem(name: string, files: AccountFiles = {}): string | null {
  const passwdFile = files.passwdFile ?? PASSWD_FILE;
  try {
    if (findAccount(name, files) !== null) return null;
    return `no user "${name}" in "${passwdFile}"; create the user, or leave user out to run the check as root`;
  } catch (error) {
    return `cannot look up user "${name}": ${(error as Error).message}`;
  }
}
