/** The shapes of the command table (src/cli.ts) and of the flags each command receives, and readers of flags commands share. */
import { resolve } from "node:path";
import { CarpError } from "../common/errors.ts";

export type OptionSpec = { type: "string" | "boolean"; description: string; valueName?: string };

/** Parsed flags as every command receives them. */
export type Flags = Record<string, string | boolean | undefined>;

/** A command's one positional argument: its name (the flag it is passed as) and the values it takes. */
export type ArgumentSpec = { name: string; choices: readonly string[] };

/** One subcommand: its help, its options, and its module, imported only when it runs. */
export interface CommandSpec {
  summary: string;
  argument?: ArgumentSpec;
  options: Record<string, OptionSpec>;
  load(): Promise<{ run(flags: Flags): Promise<number> }>;
}

/** `--root` (doctor, install, uninstall), resolved; "/" when absent. */
export function rootOf(flags: Flags): string {
  const root = flags.root;
  if (root === "") throw new CarpError("usage", "--root needs a directory");
  return resolve(typeof root === "string" ? root : "/");
}
