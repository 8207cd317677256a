/**
 * Starting a process as another user, seen from the supervising side: the command line of the
 * helper that drops privileges and execs it (exec-as.ts), the environment it carries, and the
 * helper's own failure told apart from the process's output. The helper is our own runtime: the
 * compiled executable itself, the bundle under the Bun that runs it, or, from the source tree,
 * exec-as.ts under this Bun.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { EXEC_AS_COMMAND, EXEC_AS_ENV, EXEC_AS_FAILED, EXEC_AS_PREFIX } from "./exec-as.ts";

/** The user a process runs as: what the helper sets (exec-as.ts). */
export interface RunAs {
  name: string;
  uid: number;
  gid: number;
  /** initgroups' list: the primary gid, then every group listing the user. */
  groups: readonly number[];
}

/** Where a compiled executable runs its code from (see cli/install.ts). */
const COMPILED_PREFIXES = ["/$bunfs/", "B:/~BUN/"];

/**
 * What a Bun run as root must not pick up from the directory it starts in or the environment: a
 * bunfig.toml's preload, a .env, auto-install (the port's wrapper passes the same).
 */
const BUN_FLAGS = ["--config=/dev/null", "--no-env-file", "--no-install"];

/**
 * The command that runs the helper, before its EXEC_AS_COMMAND argument. `where` is for tests:
 * this module's path, the entry script (Bun.main) and this runtime.
 */
export function helperCommand(
  where: { modulePath: string; moduleDir: string; main: string; execPath: string } = {
    modulePath: import.meta.path,
    moduleDir: import.meta.dir,
    main: Bun.main,
    execPath: process.execPath,
  },
): string[] {
  const source = join(where.moduleDir, "exec-as.ts");
  // The compiled executable first: in CommonJS output import.meta.path is still the source's path.
  if (COMPILED_PREFIXES.some((prefix) => where.main.startsWith(prefix))) return [where.execPath];
  if (where.main.endsWith(".ts") && where.modulePath.endsWith(".ts") && existsSync(source)) return [where.execPath, ...BUN_FLAGS, source];
  // The bundle (dist/cli.js): its entry handles EXEC_AS_COMMAND first.
  return [where.execPath, ...BUN_FLAGS, where.main];
}

/** The helper's argv and environment for running `argv` as `user` with `env`. */
export function runAsCommand(
  user: RunAs,
  argv: readonly string[],
  env: Record<string, string>,
  nonce: string,
): { argv: string[]; env: Record<string, string> } {
  const [path, ...args] = argv;
  return {
    argv: [
      ...helperCommand(),
      EXEC_AS_COMMAND,
      nonce,
      user.name,
      String(user.uid),
      String(user.gid),
      user.groups.join(","),
      "--",
      path!,
      ...args,
    ],
    env: { [EXEC_AS_ENV]: JSON.stringify(env) },
  };
}

/**
 * Pure: the helper's failure (the process never ran), from its exit status and the output it
 * wrote, or null when the process ran (whatever it did).
 */
export function helperFailure(exitCode: number | null, output: string, nonce: string): { code: string; message: string } | null {
  if (exitCode !== EXEC_AS_FAILED) return null;
  const prefix = `${EXEC_AS_PREFIX} ${nonce}: `;
  const line = output.split("\n").find((l) => l.startsWith(prefix));
  if (line === undefined) return null;
  const rest = line.slice(prefix.length);
  const colon = rest.indexOf(": ");
  return colon < 0 ? { code: "EIO", message: rest } : { code: rest.slice(0, colon), message: rest.slice(colon + 2) };
}
