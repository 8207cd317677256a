/**
 * The gateway checks of one evaluation: each `[gateways."NAME"]` is the check `gateway:NAME`,
 * judged on one read of the gateway status (gateway-status.ts). The command runs as every process
 * we start runs (run-process.ts: no shell, its own process tree, a deadline, bounded output,
 * nothing of it left running), and as root it is vetted like a hook (script-security.ts).
 *
 * A status that cannot be read (a command that cannot run, fails, hangs or prints anything but the
 * status) is a system error (kind "gateways", exit 3) that the evaluation carries on past: the hooks
 * still count and can demote, each gateway check keeps the state it counted last (it is not judged
 * this run), and nothing is promoted on that incomplete picture. A listed gateway missing from a
 * good read fails its check: fail closed.
 */
import { CarpError, type ErrorKind, messageOf } from "../common/errors.ts";
import type { Config } from "../config/config.ts";
import { gatewayCheckName, gatewayTable } from "../config/gateways.ts";
import type { ServiceResult } from "../protocol/wire.ts";
import { OutputCapture } from "../system/output-capture.ts";
import { type ProcessRun, runProcess } from "../system/run-process.ts";
import { notRunResult } from "./discover.ts";
import { type GatewayRead, judgeGateway, parseGatewayStatus } from "./gateway-status.ts";
import { vetHook } from "./script-security.ts";

/** The most of the status read: about 200 bytes a gateway, so thousands of them; more is not the script's output. */
export const GATEWAY_STATUS_LIMIT_BYTES = 1_048_576;
/** What is kept of its stderr, for the message when it fails. */
const STDERR_LIMIT_BYTES = 4096;
/** Spawn failures that say we, not the command, ran out of something. */
const RESOURCE_ERRORS = new Set(["EMFILE", "ENFILE", "EAGAIN", "ENOMEM"]);

export interface GatewayStatusOptions {
  timeoutMs: number;
  killGraceMs: number;
  /** The command's environment (the hooks' PATH and HOME). */
  env: Record<string, string>;
  /** As root with scriptSecurity: refuse a command anyone but root could change, as a hook is refused. */
  enforceSecurity: boolean;
  /** The PATH `#!/usr/bin/env NAME` is looked up on, when vetted. */
  searchPath?: string;
  /** Aborting kills it and all it started. */
  signal?: AbortSignal;
}

/** The fix for a command that ran but did not print the status. */
const RUN_IT_BY_HAND = "fix: run it by hand: it must exit 0 and print gateway_status.php's JSON (gatewayStatusCommand)";

function failure(command: string, what: string, kind: ErrorKind = "gateways", cause?: unknown): CarpError {
  return new CarpError("system", `The gateway status command "${command}" ${what}`, { kind, cause });
}

/** A failure readGatewayStatus did not foresee, as one it did. */
function failureOf(command: string, error: unknown): CarpError {
  return failure(command, `failed: ${messageOf(error)}`, "gateways", error);
}

/** The first line worth showing of what a failed command said. */
function firstLine(text: string): string {
  const line =
    text
      .split("\n")
      .find((candidate) => candidate.trim() !== "")
      ?.trim() ?? "";
  return line.length > 200 ? `${line.slice(0, 199)}…` : line;
}

/**
 * Runs the gateway status command once and reads what it printed. Throws CarpError("system") of
 * kind "gateways" (or "resources", when we could not start it for want of descriptors or
 * processes) whenever it did not print the status: refused, not started, failed, timed out, killed,
 * or printed something else.
 */
export async function readGatewayStatus(command: string, options: GatewayStatusOptions): Promise<GatewayRead & { run: ProcessRun }> {
  if (options.enforceSecurity) {
    const vetted = await vetHook(command, { searchPath: options.searchPath });
    if ("problem" in vetted) throw failure(command, `is refused by script security: ${vetted.problem}`);
  }
  const stdout = new OutputCapture(GATEWAY_STATUS_LIMIT_BYTES);
  const stderr = new OutputCapture(STDERR_LIMIT_BYTES);
  let run: ProcessRun;
  try {
    run = await runProcess([command], {
      cwd: "/",
      env: options.env,
      stdout,
      stderr,
      timeoutMs: options.timeoutMs,
      killGraceMs: options.killGraceMs,
      signal: options.signal,
    });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? "";
    const resources = RESOURCE_ERRORS.has(code);
    const fix = resources
      ? "this process is out of resources, which says nothing about the gateways"
      : 'set "gatewayStatusCommand" in the config';
    throw failure(command, `cannot be run: ${messageOf(error)}; ${fix}`, resources ? "resources" : "gateways", error);
  }
  if (run.aborted) throw failure(command, `was stopped: ${messageOf(options.signal?.reason)}; it and all it started were killed`);
  if (run.timedOut) {
    throw failure(
      command,
      `did not finish within ${options.timeoutMs} ms (gatewayStatusTimeoutMs); it and all it started were killed; fix: run it by hand to see why it hangs, or raise gatewayStatusTimeoutMs`,
    );
  }
  const said = firstLine(stderr.text()) || firstLine(stdout.text());
  if (run.exitCode === null) throw failure(command, `was killed by ${run.signal}${said ? `: ${said}` : ""}; ${RUN_IT_BY_HAND}`);
  if (run.exitCode !== 0) throw failure(command, `exited with status ${run.exitCode}${said ? `: ${said}` : ""}; ${RUN_IT_BY_HAND}`);
  if (stdout.droppedBytes > 0)
    throw failure(command, `printed more than ${GATEWAY_STATUS_LIMIT_BYTES} bytes: that is not the gateway status; ${RUN_IT_BY_HAND}`);
  try {
    return { command, durationMs: run.durationMs, reports: parseGatewayStatus(stdout.text()), run };
  } catch (error) {
    throw failure(command, `did not print the gateway status: ${messageOf(error)}; ${RUN_IT_BY_HAND}`);
  }
}

/** The gateway checks of an evaluation, and what it should say about the command beside them. */
export interface GatewayChecks {
  services: ServiceResult[];
  warnings: string[];
  /**
   * Why the status could not be read (a CarpError("system") of kind "gateways" or "resources"), or
   * null. Then every enabled gateway's check is listed as not judged (unreadGateway).
   */
  failure: CarpError | null;
  /** The names of the checks that were not judged for it: each keeps its counted state. */
  unread: string[];
}

/** Said of a gateway check when the status could not be read. */
export const UNREAD_REASON = "not judged: the gateway status could not be read (see the error); it counts as it did before";

/** An enabled gateway whose check could not be judged this run: it keeps its counted state (flap.ts `unobserved`). */
function unreadGateway(gateway: string): ServiceResult {
  return notRunResult({ name: gatewayCheckName(gateway), status: "skipped", reason: UNREAD_REASON });
}

/** A disabled gateway, as the hooks table lists a disabled hook. */
function skippedGateway(gateway: string): ServiceResult {
  return notRunResult({
    name: gatewayCheckName(gateway),
    status: "skipped",
    reason: `disabled in the config (${gatewayTable(gateway)} enabled = false)`,
  });
}

/** The names of the gateways that are checked (not `enabled = false`). */
export function enabledGateways(config: Pick<Config, "gateways">): string[] {
  return Object.entries(config.gateways)
    .filter(([, settings]) => settings.enabled !== false)
    .map(([gateway]) => gateway);
}

/**
 * Reads the gateway status once and judges every listed gateway; disabled ones are listed as
 * skipped. The command is not run when no gateway is checked. Never rejects: a read that fails
 * (as readGatewayStatus throws) is its `failure`, with each enabled gateway listed as not judged.
 * The promise is marked as handled at once all the same: the evaluation awaits it after its hooks.
 */
export function readGatewayChecks(
  config: Config,
  options: Omit<GatewayStatusOptions, "timeoutMs" | "killGraceMs">,
): Promise<GatewayChecks> {
  const checks = (async (): Promise<GatewayChecks> => {
    const entries = Object.entries(config.gateways);
    const checked = entries.filter(([, settings]) => settings.enabled !== false);
    const skipped = entries.filter(([, settings]) => settings.enabled === false).map(([gateway]) => skippedGateway(gateway));
    if (checked.length === 0) return { services: skipped, warnings: [], failure: null, unread: [] };
    let read: Awaited<ReturnType<typeof readGatewayStatus>>;
    try {
      read = await readGatewayStatus(config.gatewayStatusCommand, {
        ...options,
        timeoutMs: config.gatewayStatusTimeoutMs,
        killGraceMs: config.killGraceMs,
      });
    } catch (error) {
      const failure = error instanceof CarpError ? error : failureOf(config.gatewayStatusCommand, error);
      const unread = checked.map(([gateway]) => unreadGateway(gateway));
      return { services: [...unread, ...skipped], warnings: [], failure, unread: unread.map((s) => s.name) };
    }
    const listed = entries.map(([gateway]) => gateway);
    const services = checked.map(([gateway, { failOn }]) => judgeGateway(read, { gateway, failOn, listed }));
    const warnings = read.run.leftProcesses
      ? [
          `The gateway status command "${read.command}" left processes running: ${read.run.leftBehind.join(", ")}; they were killed (nothing it starts may outlive its run)`,
        ]
      : [];
    return { services: [...services, ...skipped], warnings, failure: null, unread: [] };
  })();
  checks.catch(() => {});
  return checks;
}
