/**
 * Group names to gids, from /etc/group. Shared by the config schema (so `config` refuses a group
 * that does not exist) and the socket server (which chowns the socket to it). Small and free of
 * zod, so the socket server does not load the schema for it.
 */
import { readFileSync } from "node:fs";
import { CarpError } from "../common/errors.ts";

/** Where group names are looked up. */
export const GROUP_FILE = "/etc/group";

/** The gid of a group name (from `groupFile`), a numeric string or a number; null for an unknown name. */
export function findGid(group: string | number, groupFile = GROUP_FILE): number | null {
  if (typeof group === "number") return group;
  // A numeric gid needs no entry: the kernel accepts any gid, as chown(8) does.
  if (/^\d+$/.test(group)) return Number(group);
  const line = readFileSync(groupFile, "utf8")
    .split("\n")
    .find((l) => l.split(":")[0] === group);
  const gid = line?.split(":")[2];
  return gid === undefined || !/^\d+$/.test(gid) ? null : Number(gid);
}

/** The gid of a group name or number; throws CarpError("config") naming `socketGroup` for an unknown name. */
export function resolveGroup(group: string | number, groupFile = GROUP_FILE): number {
  const gid = findGid(group, groupFile);
  if (gid === null) throw new CarpError("config", `Unknown socketGroup "${group}": no such group in ${groupFile}`);
  return gid;
}
