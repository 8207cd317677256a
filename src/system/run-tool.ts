/**
 * Runs a short-lived system tool (sysctl, logger) and collects its output. Hooks have their own
 * runner (hook-runner.ts); these tools are trusted, quick and quiet.
 */
import { CarpError, messageOf } from "../common/errors.ts";

export interface CommandResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** Upper bound for one sysctl or logger call; they answer in milliseconds. */
const COMMAND_TIMEOUT_MS = 10_000;

/** Runs argv without a shell; a missing or unrunnable executable is a CarpError("system"). */
export async function runCommand(argv: string[], what: string): Promise<CommandResult> {
  let proc: Bun.Subprocess<"ignore", "pipe", "pipe">;
  try {
    proc = Bun.spawn(argv, { stdin: "ignore", stdout: "pipe", stderr: "pipe", timeout: COMMAND_TIMEOUT_MS });
  } catch (error) {
    throw new CarpError("system", `Cannot run ${what} "${argv[0]}": ${messageOf(error)}; set "${what}" in the config`, {
      cause: error,
    });
  }
  const [stdout, stderr, exitCode] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (proc.signalCode) {
    throw new CarpError("system", `${what} "${argv.join(" ")}" was killed by ${proc.signalCode}`);
  }
  return { exitCode, stdout, stderr };
}
