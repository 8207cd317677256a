/**
 * The daemon's state in Prometheus text format (0.0.4), as a pure function: the metrics file for
 * node_exporter's textfile collector and `GET /metrics` both print this. Names carry the
 * application prefix and base units (seconds), counters end in `_total`, metadata is `_info`;
 * hook names are label values, escaped as the format requires. No timestamps: node_exporter
 * refuses them in text files.
 */
import { explainDemotion } from "../engine/demotion.ts";
import { type DaemonStatus, PROTOCOL_VERSION } from "../protocol/wire.ts";
import { EVALUATION_ERROR_KINDS, type EvaluationErrorKind } from "./error-kind.ts";

/** Every metric name starts with this. */
export const METRIC_PREFIX = "carp_service_status_";

/** What the metrics are made of: the status reply, and what it does not carry. */
export interface MetricsInput {
  status: DaemonStatus;
  /** Evaluations that ended in an error, by kind (error-kind.ts). */
  errorsByKind: Readonly<Record<EvaluationErrorKind, number>>;
  notify: {
    /** What a full notify queue cost: hook and hold events dropped, changes of our bit folded (notify-queue.ts). */
    dropped: Readonly<{ hook: number; change: number }>;
    /** Notify script runs that failed: a non-zero exit, killed, timed out, refused or not started. */
    failures: number;
  };
  /** The last configuration load: whether it was taken, and when one last was (the start counts). */
  reload: { successful: boolean; lastSuccessAt: string };
  /** net.inet.carp.preempt as last read; null when it could not be read (no series then). */
  preempt: number | null;
}

type Labels = Record<string, string>;

interface Sample {
  labels?: Labels;
  value: number;
}

interface Family {
  /** Without the prefix. */
  name: string;
  type: "gauge" | "counter";
  help: string;
  samples: Sample[];
}

/** A label value as the format requires: backslash, double quote and line feed escaped. */
export function escapeLabelValue(value: string): string {
  return value.replace(/[\\"\n]/g, (char) => (char === "\n" ? "\\n" : `\\${char}`));
}

function formatLabels(labels: Labels | undefined): string {
  if (labels === undefined) return "";
  const pairs = Object.entries(labels).map(([name, value]) => `${name}="${escapeLabelValue(value)}"`);
  return pairs.length === 0 ? "" : `{${pairs.join(",")}}`;
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (!Number.isFinite(value)) return value > 0 ? "+Inf" : "-Inf";
  return String(value);
}

function formatFamily(family: Family): string[] {
  const name = `${METRIC_PREFIX}${family.name}`;
  return [
    `# HELP ${name} ${family.help}`,
    `# TYPE ${name} ${family.type}`,
    ...family.samples.map((sample) => `${name}${formatLabels(sample.labels)} ${formatValue(sample.value)}`),
  ];
}

const seconds = (ms: number): number => ms / 1000;
const unixSeconds = (iso: string): number => Date.parse(iso) / 1000;

/** Whether the latest evaluation finished: an error recorded after the last good run says it did not. */
function lastEvaluationSucceeded(status: DaemonStatus): boolean {
  if (status.lastError === null) return true;
  return status.lastRun !== null && Date.parse(status.lastError.at) < Date.parse(status.lastRun.startedAt);
}

/** The families about the daemon process: what runs, since when, with which configuration. */
function processFamilies({ status, reload, preempt }: MetricsInput): Family[] {
  return [
    {
      name: "build_info",
      type: "gauge",
      help: "Always 1; its labels say what runs: the version of carp-service-status and of its socket protocol (MAJOR.MINOR).",
      samples: [{ labels: { version: status.version, protocol: PROTOCOL_VERSION }, value: 1 }],
    },
    {
      name: "start_time_seconds",
      type: "gauge",
      help: "When the daemon started, in seconds since the epoch.",
      samples: [{ value: unixSeconds(status.startedAt) }],
    },
    {
      name: "config_last_reload_successful",
      type: "gauge",
      help: "Whether the last reload of the configuration (SIGHUP) was taken (1) or refused, the running one kept (0); 1 before any.",
      samples: [{ value: reload.successful ? 1 : 0 }],
    },
    {
      name: "config_last_reload_success_timestamp_seconds",
      type: "gauge",
      help: "When the configuration running now was loaded (at start, or by the last reload taken), in seconds since the epoch.",
      samples: [{ value: unixSeconds(reload.lastSuccessAt) }],
    },
    ...(preempt === null
      ? []
      : [
          {
            name: "preempt",
            type: "gauge",
            help: "net.inet.carp.preempt as last read (every minute at most): with 0 on the peer, a demotion moves no mastership.",
            samples: [{ value: preempt }],
          } satisfies Family,
        ]),
  ];
}

/** The families about the demotion as the last evaluation left it; none before the first read. */
function demotionFamilies(status: DaemonStatus): Family[] {
  if (status.demotion === null) return [];
  const families: Family[] = [
    {
      name: "demotion",
      type: "gauge",
      help: "net.inet.carp.demotion as the last evaluation left it: our 2^20 bit plus the kernel's contributors (240 each).",
      samples: [{ value: status.demotion }],
    },
    {
      name: "demotion_kernel",
      type: "gauge",
      help: "The demotion without our 2^20 bits: the kernel's contributors (240 each: a CARP interface down, send errors, pfsync bulk update, maintenance mode) and any tunable or manual write.",
      samples: [{ value: explainDemotion(status.demotion).rest }],
    },
    {
      name: "demoted",
      type: "gauge",
      help: "Whether our 2^20 bit is set in the demotion (1) or not (0): a check counts as failed, or the hold-down keeps it (promotion_held).",
      samples: [{ value: status.demoted ? 1 : 0 }],
    },
    {
      name: "promotion_held",
      type: "gauge",
      help: "Whether the hold-down (promoteDelayMs) keeps our bit set although every check passes (1) or not (0).",
      samples: [{ value: status.promotionHeld ? 1 : 0 }],
    },
    {
      name: "maintenance",
      type: "gauge",
      help: "Whether the maintenance switch (carp-service-status maintenance on) holds this node demoted (1) or not (0), as the last evaluation read it.",
      samples: [{ value: status.maintenance ? 1 : 0 }],
    },
  ];
  if (status.maintenance) {
    families.push({
      name: "maintenance_since_timestamp_seconds",
      type: "gauge",
      help: "When the maintenance switch was turned on, in seconds since the epoch; only while it is on.",
      samples: [{ value: unixSeconds(status.maintenance.since) }],
    });
  }
  if (status.promotionHeld) {
    families.push({
      name: "promotion_held_until_timestamp_seconds",
      type: "gauge",
      help: "When the hold-down ends and our bit comes off unless a check fails, in seconds since the epoch; only while it lasts.",
      samples: [{ value: unixSeconds(status.promotionHeld.until) }],
    });
  }
  return families;
}

/** Whether the shim install put over the stock script is still there; none where install did not replace it. */
function stockScriptFamilies(status: DaemonStatus): Family[] {
  if (!status.stockScript) return [];
  return [
    {
      name: "stock_script_back",
      type: "gauge",
      help: "Where install --replace-stock put our shim over the stock script: 1 when a firmware update brought the stock script back (the boot hook and plugins then run it, not the daemon; fix: carp-service-status install --replace-stock), 0 while the shim is in place.",
      samples: [{ value: status.stockScript.state === "stock-back" ? 1 : 0 }],
    },
  ];
}

/** The families about the last evaluation that finished; none before it. */
function lastRunFamilies(lastRun: DaemonStatus["lastRun"]): Family[] {
  if (lastRun === null) return [];
  return [
    {
      name: "last_evaluation_timestamp_seconds",
      type: "gauge",
      help: "When the last evaluation that finished ended, in seconds since the epoch.",
      // Added in milliseconds: seconds plus seconds would print 1796053380.7180002.
      samples: [{ value: seconds(Date.parse(lastRun.startedAt) + lastRun.durationMs) }],
    },
    {
      name: "last_evaluation_duration_seconds",
      type: "gauge",
      help: "How long the last evaluation that finished took, hooks included.",
      samples: [{ value: seconds(lastRun.durationMs) }],
    },
  ];
}

/** The counters since the daemon started: evaluations, their errors and requests, changes of our bit, notify scripts. */
function counterFamilies({ status, errorsByKind, notify }: MetricsInput): Family[] {
  const { counters } = status;
  return [
    {
      name: "last_evaluation_success",
      type: "gauge",
      help: "Whether the latest evaluation finished (1) or ended in an error, such as sysctl failing (0).",
      samples: [{ value: lastEvaluationSucceeded(status) ? 1 : 0 }],
    },
    {
      name: "evaluations_total",
      type: "counter",
      help: "Evaluations started by the daemon, finished or not.",
      samples: [{ value: counters.evaluations }],
    },
    {
      name: "evaluations_with_failed_hooks_total",
      type: "counter",
      help: "Evaluations in which at least one hook counted as failed (flap control's state, as the decision sees it).",
      samples: [{ value: counters.failedEvaluations }],
    },
    {
      name: "evaluation_errors_total",
      type: "counter",
      help: `Evaluations that ended in an error, or went on past one (the gateway status not read), by kind: ${EVALUATION_ERROR_KINDS.join(", ")}.`,
      samples: EVALUATION_ERROR_KINDS.map((kind) => ({ labels: { kind }, value: errorsByKind[kind] })),
    },
    {
      name: "evaluation_requests_total",
      type: "counter",
      help: "Evaluations asked for, by source: socket (trigger, configd), schedule, start (the daemon's first), hold_end (a hold-down ended). Requests arriving together share one evaluation.",
      samples: [
        { labels: { source: "socket" }, value: counters.triggers },
        { labels: { source: "schedule" }, value: counters.scheduled },
        { labels: { source: "start" }, value: counters.starts ?? 0 },
        { labels: { source: "hold_end" }, value: counters.holdEnds ?? 0 },
      ],
    },
    {
      name: "demotions_total",
      type: "counter",
      help: "Times the daemon added our 2^20 bit to the demotion.",
      samples: [{ value: counters.demotions }],
    },
    {
      name: "promotions_total",
      type: "counter",
      help: "Times the daemon took our 2^20 bit off the demotion.",
      samples: [{ value: counters.promotions }],
    },
    {
      name: "notify_events_dropped_total",
      type: "counter",
      help: "Notify events not told one by one as the queue was full: hook and hold-down events dropped (hook), changes of our bit folded into a later one (change).",
      samples: [
        { labels: { kind: "hook" }, value: notify.dropped.hook },
        { labels: { kind: "change" }, value: notify.dropped.change },
      ],
    },
    {
      name: "notify_script_failures_total",
      type: "counter",
      help: "Notify script runs that failed: a non-zero exit, killed by a signal, timed out, refused by script security, or not started.",
      samples: [{ value: notify.failures }],
    },
  ];
}

/** The families about the node and the daemon as a whole. */
function daemonFamilies(input: MetricsInput): Family[] {
  return [
    ...processFamilies(input),
    ...demotionFamilies(input.status),
    ...stockScriptFamilies(input.status),
    ...lastRunFamilies(input.status.lastRun),
    ...counterFamilies(input),
  ];
}

/** The families with one sample per entry of the hooks directory. */
function hookFamilies(services: DaemonStatus["services"]): Family[] {
  const ran = services.filter((s) => s.status !== "skipped");
  return [
    {
      name: "hook_up",
      type: "gauge",
      help: "Whether the hook passed (1) or failed (0) in the last evaluation; skipped entries have none.",
      samples: ran.map((s) => ({ labels: { hook: s.name }, value: s.status === "pass" ? 1 : 0 })),
    },
    {
      name: "hook_duration_seconds",
      type: "gauge",
      help: "How long the hook ran in the last evaluation (for a check with intervalMs: its last run).",
      samples: ran.map((s) => ({ labels: { hook: s.name }, value: seconds(s.durationMs) })),
    },
    {
      name: "hook_last_run_timestamp_seconds",
      type: "gauge",
      help: "When the last run of a check with intervalMs started, whose result counts until it runs again, in seconds since the epoch.",
      samples: ran.flatMap((s) => (s.ranAt === undefined ? [] : [{ labels: { hook: s.name }, value: unixSeconds(s.ranAt) }])),
    },
    {
      name: "hook_skipped",
      type: "gauge",
      help: "Entries of the hooks directory that are not checks (a directory, no execute bit), 1 each.",
      samples: services.filter((s) => s.status === "skipped").map((s) => ({ labels: { hook: s.name }, value: 1 })),
    },
    {
      name: "hook_state_since_timestamp_seconds",
      type: "gauge",
      help: "When the entry entered its current state (counted pass or fail, or skipped), in seconds since the epoch.",
      samples: services.map((s) => ({ labels: { hook: s.name }, value: unixSeconds(s.since) })),
    },
    {
      name: "hook_timed_out",
      type: "gauge",
      help: "Whether the hook's last run was killed at its timeout (1) or not (0).",
      samples: ran.map((s) => ({ labels: { hook: s.name }, value: s.timedOut ? 1 : 0 })),
    },
    {
      name: "hook_last_exit_code",
      type: "gauge",
      help: "The exit status of the hook's last run; -1 when it had none (killed by a signal, timed out, not started, refused).",
      samples: ran.map((s) => ({ labels: { hook: s.name }, value: s.exitCode ?? -1 })),
    },
    {
      name: "hook_failures_total",
      type: "counter",
      help: "Runs of the hook that failed (raw result, fall or not), since the daemon started or the hook appeared.",
      samples: ran.map((s) => ({ labels: { hook: s.name }, value: s.failures ?? 0 })),
    },
    {
      name: "hook_transitions_total",
      type: "counter",
      help: "Changes of the hook's raw result between pass and fail (flapping, even below fall), since the daemon started or the hook appeared.",
      samples: ran.map((s) => ({ labels: { hook: s.name }, value: s.transitions ?? 0 })),
    },
    ...flapFamilies(ran),
  ];
}

/** Flap control (fall, rise): the state that decides, and the consecutive runs towards a change. */
function flapFamilies(ran: DaemonStatus["services"]): Family[] {
  const counted = ran.flatMap((s) => (s.counted ? [{ hook: s.name, ...s.counted }] : []));
  return [
    {
      name: "hook_counted_up",
      type: "gauge",
      help: "Whether the hook counts as passing (1) or failed (0) under flap control: this, not hook_up, decides the demotion.",
      samples: counted.map((c) => ({ labels: { hook: c.hook }, value: c.state === "pass" ? 1 : 0 })),
    },
    {
      name: "hook_consecutive_results",
      type: "gauge",
      help: "Consecutive runs whose result differs from the counted state; the state changes when this reaches hook_consecutive_results_needed.",
      samples: counted.map((c) => ({ labels: { hook: c.hook }, value: c.streak })),
    },
    {
      name: "hook_consecutive_results_needed",
      type: "gauge",
      help: "Runs in a row that change the counted state: fall while the hook counts as passing, rise while failed.",
      samples: counted.map((c) => ({ labels: { hook: c.hook }, value: c.needed })),
    },
  ];
}

/**
 * The metrics text, ending in a newline. Families without samples (hooks before the first
 * evaluation, the demotion before it was read) are left out rather than shown as zero.
 */
export function renderMetrics(input: MetricsInput): string {
  const families = [...daemonFamilies(input), ...hookFamilies(input.status.services)];
  return `${families
    .filter((family) => family.samples.length > 0)
    .flatMap(formatFamily)
    .join("\n")}\n`;
}
