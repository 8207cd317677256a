/**
 * The daemon's state in Prometheus text format (0.0.4), as a pure function: the metrics file for
 * node_exporter's textfile collector and `GET /metrics` both print this. Names carry the
 * application prefix and base units (seconds), counters end in `_total`, metadata is `_info`;
 * hook names are label values, escaped as the format requires. No timestamps: node_exporter
 * refuses them in text files.
 */
import { type DaemonStatus, PROTOCOL_VERSION } from "../protocol/wire.ts";
import { ERROR_KINDS, type ErrorKind } from "./error-kind.ts";

/** Every metric name starts with this. */
export const METRIC_PREFIX = "carp_service_status_";

/** What the metrics are made of: the status reply, and what it does not carry. */
export interface MetricsInput {
  status: DaemonStatus;
  /** Evaluations that ended in an error, by kind (error-kind.ts). */
  errorsByKind: Readonly<Record<ErrorKind, number>>;
  /** What a full notify queue cost: hook events dropped, changes of our bit folded (notify-queue.ts). */
  notifyDropped: Readonly<{ hook: number; change: number }>;
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

/** The families about the node and the daemon as a whole. */
function daemonFamilies({ status, errorsByKind, notifyDropped }: MetricsInput): Family[] {
  const { counters, lastRun } = status;
  const families: Family[] = [
    {
      name: "build_info",
      type: "gauge",
      help: "The running carp-service-status: its version and socket protocol version (always 1).",
      samples: [{ labels: { version: status.version, protocol: PROTOCOL_VERSION }, value: 1 }],
    },
    {
      name: "start_time_seconds",
      type: "gauge",
      help: "When the daemon started, in seconds since the epoch.",
      samples: [{ value: unixSeconds(status.startedAt) }],
    },
  ];
  if (status.demotion !== null) {
    families.push(
      {
        name: "demotion",
        type: "gauge",
        help: "net.inet.carp.demotion as the last evaluation left it: our 2^20 bit plus the kernel's contributors (240 each).",
        samples: [{ value: status.demotion }],
      },
      {
        name: "demoted",
        type: "gauge",
        help: "Whether our 2^20 bit is set in the demotion (1) or not (0): a service check failed.",
        samples: [{ value: status.demoted ? 1 : 0 }],
      },
    );
  }
  if (lastRun !== null) {
    families.push(
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
    );
  }
  families.push(
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
      help: "Evaluations in which at least one hook failed.",
      samples: [{ value: counters.failedEvaluations }],
    },
    {
      name: "evaluation_errors_total",
      type: "counter",
      help: "Evaluations that ended in an error, by kind: hooks_dir, lock, sysctl, resources, other.",
      samples: ERROR_KINDS.map((kind) => ({ labels: { kind }, value: errorsByKind[kind] })),
    },
    {
      name: "evaluation_requests_total",
      type: "counter",
      help: "Evaluations asked for, by source: socket (trigger, configd) or schedule.",
      samples: [
        { labels: { source: "socket" }, value: counters.triggers },
        { labels: { source: "schedule" }, value: counters.scheduled },
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
      help: "Notify events not told one by one as the queue was full: hook events dropped (hook), changes of our bit folded into a later one (change).",
      samples: [
        { labels: { kind: "hook" }, value: notifyDropped.hook },
        { labels: { kind: "change" }, value: notifyDropped.change },
      ],
    },
  );
  return families;
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
      help: "How long the hook ran in the last evaluation.",
      samples: ran.map((s) => ({ labels: { hook: s.name }, value: seconds(s.durationMs) })),
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
      help: "When the entry entered its current state (pass, fail or skipped), in seconds since the epoch.",
      samples: services.map((s) => ({ labels: { hook: s.name }, value: unixSeconds(s.since) })),
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
