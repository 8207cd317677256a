/** The shapes of the command table (src/cli.ts) and of the flags each command receives. */

export type OptionSpec = { type: "string" | "boolean"; description: string; valueName?: string };

/** Parsed flags as every command receives them. */
export type Flags = Record<string, string | boolean | undefined>;

/** One subcommand: its help, its options, and its module, imported only when it runs. */
export interface CommandSpec {
  summary: string;
  options: Record<string, OptionSpec>;
  load(): Promise<{ run(flags: Flags): Promise<number> }>;
}
