/**
 * The socket protocol, shared by the daemon and its clients: HTTP/1.1 over the Unix socket with
 * JSON bodies, so curl and nc work. Every type that crosses the socket is declared here once.
 *   POST /evaluate     evaluate now; 200 with the Evaluation (as `check --json` prints it); an
 *                      optional JSON body `{"all": true}` reruns checks that `intervalMs` would skip
 *   POST /maintenance  a JSON body `{"on": true, "reason": "..."}` or `{"on": false}`: turns the
 *                      maintenance switch, then evaluates; 200 with a MaintenanceReply
 *   GET  /status       200 with the DaemonStatus
 *   GET  /metrics   200 with the metrics in Prometheus text format (text/plain, not JSON)
 * Errors: a status >= 400 and an ErrorReply. Every reply carries PROTOCOL_HEADER. While a reply
 * takes longer than HEARTBEAT_MS (an evaluation), the daemon sends an HTTP/1.1 client an interim
 * `102 Processing` every HEARTBEAT_MS before the final reply, so a client tells a daemon that is
 * working from one that is stopped by an idle deadline (REPLY_IDLE_TIMEOUT_MS) rather than a total
 * one. This module imports nothing, so the lean clients can load it.
 */

/**
 * "MAJOR.MINOR": a client and a daemon of different majors do not talk; a minor only adds fields.
 * 2.0: interim 102 replies while an evaluation runs, which a client's idle deadline relies on.
 * 2.1: request bodies (JSON): POST /maintenance, `{"all": true}` on POST /evaluate; `maintenance`
 * in Evaluation and DaemonStatus; `ranAt`, `cached` and `ageMs` of a result `intervalMs` kept.
 * 2.2: `errors` and `promotionWithheldBy` in Evaluation: system errors an evaluation went on past
 * (the gateway status), and which unknown withholds a promotion.
 */
export const PROTOCOL_VERSION = "2.2";
/** The reply header that carries the daemon's PROTOCOL_VERSION (absent before 1.0). */
export const PROTOCOL_HEADER = "carp-service-status-protocol";

/** The major of a protocol version as a header gives it; a missing header is a daemon from before 1.0. */
export function protocolMajor(version: string | null): number {
  const major = Number.parseInt(version ?? "0", 10);
  return Number.isNaN(major) ? 0 : major;
}

/** The minor of a protocol version (0 when it has none): what a daemon of this major can do. */
export function protocolMinor(version: string | null): number {
  const minor = Number.parseInt(version?.split(".")[1] ?? "0", 10);
  return Number.isNaN(minor) ? 0 : minor;
}

/** One entry of the hooks directory and what became of it. */
export interface ServiceResult {
  name: string;
  status: "pass" | "fail" | "skipped";
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  durationMs: number;
  /**
   * stdout and stderr, interleaved as they arrived; past outputLimitBytes its first and last
   * halves around a "[… N bytes dropped …]" line.
   */
  output: string;
  outputDroppedBytes: number;
  /** Why it failed without an exit status, or why it was skipped; null for a plain exit. */
  reason: string | null;
  /** What did not decide the result but needs a look: processes it left running, which were killed (since 1.1). */
  warnings: string[];
  /** Flap control: the state that decides, absent for skipped entries (since 1.2). */
  counted?: CountedState;
  /** When the run that gave this result started (wall clock, ISO 8601); absent for entries that did not run (since 2.1). */
  ranAt?: string;
  /**
   * The result is an earlier run's, kept because the check's `intervalMs` has not passed since: it
   * was not run in this evaluation (since 2.1).
   */
  cached?: boolean;
  /**
   * A kept result's age in ms, measured on the monotonic clock: as of the evaluation in an
   * Evaluation, as of the reply in a DaemonStatus; only with `cached` (since 2.1).
   */
  ageMs?: number;
}

/** The maintenance switch while it is on (since 2.1). */
export interface Maintenance {
  /** Why, as given to `maintenance on --reason`; null when none was. */
  reason: string | null;
  /** When it was turned on (ISO 8601, the wall clock of whoever turned it on). */
  since: string;
}

/** A hook's counted state under flap control (`fall`, `rise`): `status` is the last raw result. */
export interface CountedState {
  /** Whether the hook counts as passing or failing: this, not the raw result, decides. */
  state: "pass" | "fail";
  /** Consecutive runs whose raw result differs from `state`, towards a change. */
  streak: number;
  /** Runs that change it: `fall` while it counts as passing, `rise` while failing. */
  needed: number;
}

/** A promotion waiting for the hold-down (`promoteDelayMs`). */
export interface PromotionHold {
  /** Since when every hook has counted as passing without a failed run (wall clock, as it read then). */
  passingSince: string;
  /** When the 2^20 bit comes off, unless a check fails before (the daemon's wall clock, as it reads now). */
  until: string;
  /**
   * What is left of it, measured on the monotonic clock: as of the evaluation in an Evaluation, as
   * of the reply in a DaemonStatus. Show this, never `until` against another clock.
   */
  remainingMs: number;
  /** This evaluation started the hold-down (since 1.3). */
  started?: boolean;
}

export type Action = "demoted" | "promoted" | "none";

/** The result of one evaluation, as `check --json` prints it and `POST /evaluate` replies with it. */
export interface Evaluation {
  /** What was done: always "none" with --dry-run. */
  action: Action;
  /** What the decision was, done or not. */
  decision: "demote" | "promote" | "none";
  dryRun: boolean;
  /** Names of the services that count as failed (flap control), in byte order, as in the syslog line. */
  failed: string[];
  demotionBefore: number;
  demotionAfter: number;
  /** The 2^20 bit is set after this evaluation. */
  demoted: boolean;
  /** The syslog line sent, or that would be sent with --dry-run; null when nothing changed. */
  message: string | null;
  services: ServiceResult[];
  /** The bit is set, every check passes, and the hold-down has not passed yet (since 1.2). */
  promotionHeld?: PromotionHold | null;
  /**
   * Why the bit stays set although every check passes: what this run could not know. The flap
   * history could not be read or kept, so it could not count towards rise and promoteDelayMs (only
   * a local evaluation: the daemon keeps the history in memory); the maintenance switch cannot be
   * told; or the gateway status could not be read (since 2.2). `check` exits 3.
   */
  promotionWithheld?: string | null;
  /** Which of those withholds it: "history", "maintenance" (the switch) or "gateways" (since 2.2). */
  promotionWithheldBy?: WithheldReason | null;
  /**
   * System errors the evaluation went on past, each with its kind (common/errors.ts ERROR_KINDS):
   * the gateway status could not be read, so the gateway checks were not judged (since 2.2).
   * `check` and `trigger` exit 3 when there is one.
   */
  errors?: EvaluationError[];
  /** The maintenance switch as this evaluation read it: on (it holds the 2^20 bit), or null for off (since 2.1). */
  maintenance?: Maintenance | null;
  /** Something about the demotion value that needs a human (stacked or negative). */
  anomalies: string[];
  /** Things that did not stop the evaluation (unreadable hooks dir, syslog failure). */
  warnings: string[];
  hooksDir: string;
  startedAt: string;
  durationMs: number;
}

/** What an evaluation could not know, which withholds a promotion (since 2.2). */
export type WithheldReason = "history" | "maintenance" | "gateways";

/** A system error an evaluation went on past (since 2.2). */
export interface EvaluationError {
  /** What failed, as ERROR_KINDS names it ("gateways"). */
  kind: string;
  /** What failed and the fix, for people. */
  message: string;
}

/** A hook's last result and since when it has been in that state. */
export interface ServiceStatus extends ServiceResult {
  /** When it entered the state it counts as (or skipped). */
  since: string;
  /** Runs that failed (raw result), since the daemon started or the hook appeared (since 1.3). */
  failures?: number;
  /** Changes of the raw result between pass and fail, since then; the first run is none (since 1.3). */
  transitions?: number;
}

export interface Counters {
  evaluations: number;
  /** Evaluate requests received on the socket. */
  triggers: number;
  /** Scheduled ticks. */
  scheduled: number;
  /** The evaluation at the daemon's start (since 1.3). */
  starts?: number;
  /** Runs due when a hold-down ended (since 1.3). */
  holdEnds?: number;
  /** Evaluations in which a service failed. */
  failedEvaluations: number;
  /** Evaluations that could not finish (sysctl, lock). */
  errors: number;
  demotions: number;
  promotions: number;
}

/** The stock script as the daemon last saw it (install/stock-state.ts reads it). */
export interface StockScriptObservation {
  state: "shim" | "stock-back" | "not-replaced";
  /** The stock script's path on this node. */
  path: string;
}

/** The reply to `GET /status`, as `status --json` prints it. */
export interface DaemonStatus {
  version: string;
  pid: number;
  startedAt: string;
  uptimeMs: number;
  configFile: string | null;
  hooksDir: string;
  socket: string | null;
  schedule: string | false;
  running: boolean;
  lastRun: { startedAt: string; durationMs: number; action: Action; failed: string[] } | null;
  lastError: { at: string; message: string } | null;
  nextRun: string | null;
  demotion: number | null;
  demoted: boolean | null;
  /** The last evaluation's held promotion, if any, its remainingMs as of this reply (since 1.2). */
  promotionHeld?: PromotionHold | null;
  /** The maintenance switch as the last evaluation read it; null for off (since 2.1). */
  maintenance?: Maintenance | null;
  /**
   * Where `install --replace-stock` put our shim over the stock script, whether it is still there
   * (`shim`) or a firmware update brought the stock script back (`stock-back`, also one of the
   * anomalies); absent where install did not replace it (since 2.1).
   */
  stockScript?: StockScriptObservation;
  anomalies: string[];
  warnings: string[];
  counters: Counters;
  services: ServiceStatus[];
}

export type ErrorReplyCode = "system" | "not_found" | "method_not_allowed" | "shutting_down" | "bad_request";

/** The body of every reply with a status >= 400, in every protocol version. */
export interface ErrorReply {
  error: { code: ErrorReplyCode; message: string };
}

/** The reply to `POST /maintenance`: the switch as it is now, and the evaluation that followed. */
export interface MaintenanceReply {
  maintenance: Maintenance | null;
  evaluation: Evaluation;
}

/** The body of `POST /evaluate` (optional): `all` reruns every check, whatever its `intervalMs` (since 2.1). */
export interface EvaluateRequest {
  all?: boolean;
}

/** The body of `POST /maintenance` (since 2.1). */
export interface MaintenanceRequest {
  on: boolean;
  /** With `on`: why (at most 200 characters); kept from before when absent and the switch was on already. */
  reason?: string | null;
}

/** A maintenance reason is a line for people (the log, syslog, the GUI), not a document. */
export const MAINTENANCE_REASON_MAX_CHARS = 200;

/** Why a maintenance reason cannot be taken, or null. */
export function reasonProblem(reason: string): string | null {
  if ([...reason].length > MAINTENANCE_REASON_MAX_CHARS) return `The reason is longer than ${MAINTENANCE_REASON_MAX_CHARS} characters`;
  if (reason.includes("\0")) return "The reason contains a NUL character";
  return null;
}

/** The body each route takes; `undefined` for none. */
export interface RouteRequests {
  evaluate: EvaluateRequest | undefined;
  status: undefined;
  metrics: undefined;
  maintenance: MaintenanceRequest;
}

/** The routes: method and path of each request, and the body of its 200 reply. */
export interface RouteReplies {
  evaluate: Evaluation;
  /** Since 2.1. */
  maintenance: MaintenanceReply;
  status: DaemonStatus;
  /** Prometheus text format, as the metrics file holds it (since 1.2). */
  metrics: string;
}
export type RouteName = keyof RouteReplies;

/** The protocol minor that brought a route, where it is not 0: an older daemon of the same major answers it 404. */
export const ROUTE_SINCE_MINOR: Partial<Record<RouteName, number>> = { maintenance: 1 };

/** The media type of Prometheus text format 0.0.4, which every scraper and node_exporter read. */
export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** Each route's request; a route with a `contentType` replies with that text instead of JSON. */
export const ROUTES = {
  evaluate: { method: "POST", path: "/evaluate" },
  status: { method: "GET", path: "/status" },
  metrics: { method: "GET", path: "/metrics", contentType: METRICS_CONTENT_TYPE },
  maintenance: { method: "POST", path: "/maintenance" },
} as const satisfies Record<RouteName, { method: string; path: string; contentType?: string }>;

/** Largest request body accepted: a maintenance reason and its JSON fit many times. */
export const MAX_REQUEST_BODY_BYTES = 1024;
/**
 * How long the daemon waits for a whole request: from the moment a connection opens, or its
 * previous reply was taken, until the request's last byte. Bytes trickled in do not extend it.
 */
export const REQUEST_TIMEOUT_MS = 10_000;
/** How long a reply may wait for the client to take it (read it) before the daemon closes the connection. */
export const WRITE_TIMEOUT_MS = 10_000;
/** The interval of the daemon's interim `102 Processing` replies while a reply is being prepared. */
export const HEARTBEAT_MS = 1_000;
/** How long a client waits for the daemon to accept its connection. */
export const CONNECT_TIMEOUT_MS = 2_000;
/**
 * How long a client waits for the next byte of the reply (interim replies count): five missed
 * heartbeats. A stopped or wedged daemon costs a client this, however long an evaluation may take.
 */
export const REPLY_IDLE_TIMEOUT_MS = 5 * HEARTBEAT_MS;
/**
 * How long `status` waits for the whole reply, which the daemon has at hand: a silent daemon meets
 * the idle deadline first; this ends one that keeps sending without ever finishing.
 */
export const STATUS_TIMEOUT_MS = 2 * REPLY_IDLE_TIMEOUT_MS;

/** The state that decides for a hook: the counted one under flap control, else the raw result (skipped). */
export function countedStateOf(service: ServiceResult): ServiceResult["status"] {
  return service.counted?.state ?? service.status;
}

/**
 * Whether a hook counts as failed: the one notion behind `failed`, the syslog line, the logs,
 * doctor, status, watch, metrics and notify. A hook that passed its last run may still count as
 * failed (`rise` not reached), and one that failed it may still count as passing (`fall`).
 */
export function countsAsFailed(service: ServiceResult): boolean {
  return countedStateOf(service) === "fail";
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null;
}

/** The first key of `body` not in `known`, or null. */
function unknownKey(body: Record<string, unknown>, known: readonly string[]): string | null {
  return Object.keys(body).find((key) => !known.includes(key)) ?? null;
}

/**
 * Why a request's body (parsed JSON; undefined when it has none) is not what its route takes, or
 * null. Routes without a body ignore one.
 */
export function requestProblem(route: RouteName, body: unknown): string | null {
  if (route === "evaluate") {
    if (body === undefined) return null;
    if (!isObject(body) || Array.isArray(body)) return 'The body of POST /evaluate is a JSON object: {"all": true}, or none';
    const extra = unknownKey(body, ["all"]);
    if (extra !== null) return `Unknown field "${extra}" in the body of POST /evaluate; it takes {"all": true}`;
    return body.all === undefined || typeof body.all === "boolean" ? null : '"all" is true or false';
  }
  if (route !== "maintenance") return null;
  if (!isObject(body) || Array.isArray(body)) {
    return 'POST /maintenance takes a JSON body: {"on": true, "reason": "..."} or {"on": false}';
  }
  const extra = unknownKey(body, ["on", "reason"]);
  if (extra !== null) return `Unknown field "${extra}" in the body of POST /maintenance; it takes "on" and "reason"`;
  if (typeof body.on !== "boolean") return '"on" is true or false';
  if (body.reason === undefined || body.reason === null) return null;
  if (typeof body.reason !== "string") return '"reason" is a string';
  if (!body.on) return '"reason" goes with {"on": true} only';
  return reasonProblem(body.reason);
}

export function isErrorReply(body: unknown): body is ErrorReply {
  return isObject(body) && isObject(body.error) && typeof body.error.message === "string";
}

/**
 * Shape checks of each route's reply: enough to tell a reply of this protocol from anything else
 * answering on the socket, without loading a schema library on the client path.
 */
export const REPLY_GUARDS: { [R in RouteName]: (body: unknown) => body is RouteReplies[R] } = {
  evaluate: (body): body is Evaluation =>
    isObject(body) && typeof body.action === "string" && Array.isArray(body.services) && typeof body.demotionAfter === "number",
  status: (body): body is DaemonStatus =>
    isObject(body) && typeof body.version === "string" && isObject(body.counters) && Array.isArray(body.services),
  metrics: (body): body is string => typeof body === "string",
  maintenance: (body): body is MaintenanceReply =>
    isObject(body) && "maintenance" in body && isObject(body.evaluation) && Array.isArray(body.evaluation.services),
};
