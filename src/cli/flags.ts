/** The shapes of the command table (src/cli.ts) and of the flags each command receives. */

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
