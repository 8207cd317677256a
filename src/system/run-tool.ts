/**
 * Runs a system tool (sysctl, logger) through run-process.ts: its own process group, a deadline,
 * and done at exit, so a wrapper whose child keeps stdout open cannot hold an evaluation (and the
 * stock script's lock) forever. Hooks have their own runner (engine/hook-runner.ts).
 */
import { CarpError, type ErrorKind, messageOf } from "../common/errors.ts";
import { OutputCapture } from "./output-capture.ts";
import { runProcess } from "./run-process.ts";

export interface CommandResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** Upper bound for one sysctl or logger call; they answer in milliseconds. */
export const TOOL_TIMEOUT_MS = 5_000;
/** Between SIGTERM and SIGKILL of a tool's group. */
const TOOL_KILL_GRACE_MS = 500;
/** sysctl and logger print a line; anything longer is not theirs to say. */
const TOOL_OUTPUT_LIMIT_BYTES = 65_536;

/**
 * Runs argv without a shell. A missing or unrunnable executable, a tool killed by a signal, one that
 * does not finish within TOOL_TIMEOUT_MS and one stopped by `signal` are all CarpError("system"),
 * of the caller's `kind` (a sysctl call stopped by the lock phase's deadline is a sysctl error).
 */
export async function runCommand(
  argv: string[],
  options: { what: string; kind: ErrorKind; signal?: AbortSignal; timeoutMs?: number },
): Promise<CommandResult> {
  const { what, kind, signal, timeoutMs = TOOL_TIMEOUT_MS } = options;
  const stdout = new OutputCapture(TOOL_OUTPUT_LIMIT_BYTES);
  const stderr = new OutputCapture(TOOL_OUTPUT_LIMIT_BYTES);
  let run: Awaited<ReturnType<typeof runProcess>>;
  try {
    run = await runProcess(argv, { stdout, stderr, timeoutMs, killGraceMs: TOOL_KILL_GRACE_MS, signal });
  } catch (error) {
    throw new CarpError("system", `Cannot run ${what} "${argv[0]}": ${messageOf(error)}; set "${what}" in the config`, {
      cause: error,
      kind,
    });
  }
  const command = `${what} "${argv.join(" ")}"`;
  if (run.timedOut) {
    throw new CarpError("system", `${command} did not finish within ${timeoutMs} ms; its process group was killed`, { kind });
  }
  if (run.aborted) {
    throw new CarpError("system", `${command} was stopped: ${messageOf(signal?.reason)}; its process group was killed`, { kind });
  }
  if (run.exitCode === null) throw new CarpError("system", `${command} was killed by ${run.signal}`, { kind });
  return { exitCode: run.exitCode, stdout: stdout.text(), stderr: stderr.text() };
}
