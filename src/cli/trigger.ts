/**
 * `trigger`: ask the daemon to evaluate now; evaluate here when no daemon answers: none listening,
 * the connection reset or refused, or the daemon silent past the client's deadlines (stopped).
 */
import { CarpError } from "../common/errors.ts";
import { findSocket } from "../config/socket.ts";
import { callDaemon, DaemonUnreachable } from "../protocol/client.ts";
import type { Flags } from "./flags.ts";
import { exitCodeOfEvaluation, printEvaluation } from "./report.ts";

export async function run(flags: Flags): Promise<number> {
  const configFile = flags.config as string | undefined;
  const socket = findSocket(configFile);
  try {
    if (socket === false) throw new DaemonUnreachable("The config sets no socket");
    // A body only for --all: a daemon of protocol 2.0 takes none (and has no intervals to skip).
    const evaluation = await callDaemon(socket, "evaluate", flags.all === true ? { body: { all: true } } : {});
    printEvaluation(evaluation, flags.json === true);
    return exitCodeOfEvaluation(evaluation);
  } catch (error) {
    if (!(error instanceof DaemonUnreachable)) throw error;
    if (flags["no-fallback"]) throw new CarpError("system", `${error.message}; not evaluating here (--no-fallback)`, { kind: "socket" });
    console.error(`carp-service-status: ${error.message}: evaluating here`);
    // Loaded only now: the engine (zod, pino) is what the daemon path avoids.
    const { checkHere } = await import("./evaluate-here.ts");
    return await checkHere({ configFile, json: flags.json === true, all: flags.all === true });
  }
}
