/**
 * The metrics text, read back by parsers of the format rather than compared as strings:
 * parse-prometheus-text-format for the values (it decodes label escapes), and promtool, the
 * Prometheus project's own parser and naming lint, for validity (the JavaScript parser is lenient).
 */
import { describe, expect, test } from "bun:test";
import parsePrometheusTextFormat, { type ParsedFamily } from "parse-prometheus-text-format";
import { zeroErrorCounts } from "../src/daemon/error-kind.ts";
import { escapeLabelValue, renderMetrics } from "../src/daemon/metrics.ts";
import { type DaemonStatus, PROTOCOL_VERSION, type ServiceStatus } from "../src/protocol/wire.ts";
import { serviceResult } from "./wire-builders.ts";

const PROMTOOL = Bun.which("promtool");
const P = "carp_service_status_";

function service(name: string, status: ServiceStatus["status"], extra: Partial<ServiceStatus> = {}): ServiceStatus {
  const skipped = status === "skipped";
  return {
    ...serviceResult(name, status, { durationMs: skipped ? 0 : 1250, reason: skipped ? "directory" : null }),
    since: "2026-11-30T12:00:00.000Z",
    ...extra,
  };
}

/** Hook names a format must survive: quotes, backslashes, newlines, spaces, non-ASCII. */
const ODD = ['say "hi"', "back\\slash", "new\nline", "tab\tand space", "ünïcode ✓", '\\"\n'];

function status(extra: Partial<DaemonStatus> = {}): DaemonStatus {
  return {
    version: "0.1.0",
    pid: 4242,
    startedAt: "2026-11-30T11:00:00.000Z",
    uptimeMs: 3_600_000,
    configFile: null,
    hooksDir: "/h",
    socket: "/s",
    schedule: "*/10 * * * * *",
    running: false,
    lastRun: { startedAt: "2026-11-30T12:00:00.000Z", durationMs: 1500, action: "demoted", failed: ["frr"] },
    lastError: null,
    nextRun: null,
    demotion: 1049056,
    demoted: true,
    anomalies: [],
    warnings: [],
    counters: { evaluations: 12, triggers: 3, scheduled: 9, failedEvaluations: 4, errors: 2, demotions: 1, promotions: 0 },
    services: [
      service("dns", "pass", { durationMs: 3, counted: { state: "pass", streak: 0, needed: 3 } }),
      service("ospf", "fail", { counted: { state: "pass", streak: 2, needed: 3 } }),
      service("examples", "skipped"),
      service("frr", "fail", { since: "2026-11-30T12:00:01.500Z" }),
      ...ODD.map((name, i) => service(name, i % 2 === 0 ? "pass" : "fail")),
    ],
    ...extra,
  };
}

const errors = { ...zeroErrorCounts(), sysctl: 2 };
const dropped = { hook: 17, change: 2 };
const NOTHING_DROPPED = { hook: 0, change: 0 };

function parse(text: string): Map<string, ParsedFamily> {
  return new Map(parsePrometheusTextFormat(text).map((family) => [family.name, family]));
}

/** The value of the one sample of `name` whose labels include `labels`; throws when there is none. */
function sampleValue(families: Map<string, ParsedFamily>, name: string, labels: Record<string, string> = {}): number {
  const family = families.get(`${P}${name}`);
  if (!family) throw new Error(`no family ${P}${name}`);
  const matching = family.metrics.filter((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  if (matching.length !== 1) throw new Error(`${matching.length} samples of ${name} with ${JSON.stringify(labels)}`);
  return Number(matching[0]!.value);
}

function hookValues(families: Map<string, ParsedFamily>, name: string): Record<string, number> {
  return Object.fromEntries((families.get(`${P}${name}`)?.metrics ?? []).map((m) => [m.labels!.hook!, Number(m.value)]));
}

async function promtoolCheck(text: string): Promise<{ exitCode: number; output: string }> {
  const proc = Bun.spawn([PROMTOOL!, "check", "metrics"], { stdin: new Blob([text]), stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, exitCode] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { exitCode, output: stdout + stderr };
}

describe("renderMetrics, parsed back", () => {
  const families = parse(renderMetrics({ status: status(), errorsByKind: errors, notifyDropped: dropped }));

  test("a passing hook is up 1, a failing one 0, with its last duration in seconds", () => {
    expect(sampleValue(families, "hook_up", { hook: "dns" })).toBe(1);
    expect(sampleValue(families, "hook_up", { hook: "frr" })).toBe(0);
    expect(sampleValue(families, "hook_duration_seconds", { hook: "dns" })).toBe(0.003);
    expect(sampleValue(families, "hook_duration_seconds", { hook: "frr" })).toBe(1.25);
    expect(sampleValue(families, "hook_state_since_timestamp_seconds", { hook: "frr" })).toBe(
      Date.parse("2026-11-30T12:00:01.500Z") / 1000,
    );
  });

  test("flap control: the counted state, and the run of results towards a change with what changes it", () => {
    expect(sampleValue(families, "hook_up", { hook: "ospf" })).toBe(0);
    expect(sampleValue(families, "hook_counted_up", { hook: "ospf" })).toBe(1);
    expect(sampleValue(families, "hook_consecutive_results", { hook: "ospf" })).toBe(2);
    expect(sampleValue(families, "hook_consecutive_results_needed", { hook: "ospf" })).toBe(3);
    expect(sampleValue(families, "hook_counted_up", { hook: "dns" })).toBe(1);
    expect(hookValues(families, "hook_counted_up")).not.toHaveProperty("frr");
  });

  test("a skipped entry is no hook: it has no up or duration, only hook_skipped 1 and its since", () => {
    expect(hookValues(families, "hook_up")).not.toHaveProperty("examples");
    expect(hookValues(families, "hook_duration_seconds")).not.toHaveProperty("examples");
    expect(hookValues(families, "hook_skipped")).toEqual({ examples: 1 });
    expect(sampleValue(families, "hook_state_since_timestamp_seconds", { hook: "examples" })).toBe(
      Date.parse("2026-11-30T12:00:00Z") / 1000,
    );
  });

  test("odd hook names come back exactly as they are: quotes, backslashes, newlines, tabs, non-ASCII", () => {
    const up = hookValues(families, "hook_up");
    expect(Object.keys(up).sort()).toEqual(["dns", "frr", "ospf", ...ODD].sort());
    ODD.forEach((name, i) => {
      expect(up[name]).toBe(i % 2 === 0 ? 1 : 0);
    });
  });

  test("the demotion, our bit, the counters and the last evaluation, value by value", () => {
    expect(sampleValue(families, "demotion")).toBe(1049056);
    expect(sampleValue(families, "demoted")).toBe(1);
    expect(sampleValue(families, "evaluations_total")).toBe(12);
    expect(sampleValue(families, "evaluations_with_failed_hooks_total")).toBe(4);
    expect(sampleValue(families, "demotions_total")).toBe(1);
    expect(sampleValue(families, "promotions_total")).toBe(0);
    expect(sampleValue(families, "evaluation_requests_total", { source: "socket" })).toBe(3);
    expect(sampleValue(families, "evaluation_requests_total", { source: "schedule" })).toBe(9);
    expect(sampleValue(families, "last_evaluation_timestamp_seconds")).toBe(Date.parse("2026-11-30T12:00:01.500Z") / 1000);
    expect(sampleValue(families, "last_evaluation_duration_seconds")).toBe(1.5);
    // Printed as people write it, not as a sum of floats (1796053380.7180002).
    const odd = renderMetrics({
      status: status({ lastRun: { startedAt: "2026-11-30T15:43:00.709Z", durationMs: 9, action: "none", failed: [] } }),
      errorsByKind: errors,
      notifyDropped: dropped,
    });
    expect(odd).toContain("\ncarp_service_status_last_evaluation_timestamp_seconds 1796053380.718\n");
    expect(sampleValue(families, "last_evaluation_success")).toBe(1);
    expect(sampleValue(families, "start_time_seconds")).toBe(Date.parse("2026-11-30T11:00:00Z") / 1000);
  });

  test("errors are counted by kind, every kind present from zero", () => {
    const byKind = Object.fromEntries(families.get(`${P}evaluation_errors_total`)!.metrics.map((m) => [m.labels!.kind, Number(m.value)]));
    expect(byKind).toEqual({ hooks_dir: 0, lock: 0, sysctl: 2, resources: 0, other: 0 });
  });

  test("notify events a full queue cost are counted by kind: hook events dropped, changes of our bit folded", () => {
    expect(sampleValue(families, "notify_events_dropped_total", { kind: "hook" })).toBe(17);
    expect(sampleValue(families, "notify_events_dropped_total", { kind: "change" })).toBe(2);
    const none = parse(renderMetrics({ status: status(), errorsByKind: errors, notifyDropped: NOTHING_DROPPED }));
    expect(sampleValue(none, "notify_events_dropped_total", { kind: "hook" })).toBe(0);
  });

  test("build info is 1 and carries the version and the protocol", () => {
    expect(sampleValue(families, "build_info", { version: "0.1.0", protocol: PROTOCOL_VERSION })).toBe(1);
  });

  test("types follow the conventions: _total names are counters, everything else a gauge", () => {
    for (const family of families.values()) {
      expect(family.name.startsWith(P)).toBe(true);
      expect([family.name, family.type]).toEqual([family.name, family.name.endsWith("_total") ? "COUNTER" : "GAUGE"]);
      expect(family.help.length).toBeGreaterThan(10);
    }
  });
});

describe("renderMetrics at the edges", () => {
  test("before the first evaluation there are no hooks and no demotion, not zeros pretending to be values", () => {
    const families = parse(
      renderMetrics({
        status: status({ lastRun: null, demotion: null, demoted: null, services: [], counters: { ...status().counters, evaluations: 0 } }),
        errorsByKind: zeroErrorCounts(),
        notifyDropped: NOTHING_DROPPED,
      }),
    );
    for (const name of ["demotion", "demoted", "hook_up", "hook_duration_seconds", "last_evaluation_timestamp_seconds"]) {
      expect(families.has(`${P}${name}`)).toBe(false);
    }
    expect(sampleValue(families, "evaluations_total")).toBe(0);
  });

  test("an error after the last good evaluation sets last_evaluation_success to 0; a good run after it, back to 1", () => {
    const failedLast = status({ lastError: { at: "2026-11-30T12:00:10.000Z", message: "sysctl failed" } });
    expect(
      sampleValue(parse(renderMetrics({ status: failedLast, errorsByKind: errors, notifyDropped: dropped })), "last_evaluation_success"),
    ).toBe(0);
    const recovered = status({ lastError: { at: "2026-11-30T11:59:50.000Z", message: "sysctl failed" } });
    expect(
      sampleValue(parse(renderMetrics({ status: recovered, errorsByKind: errors, notifyDropped: dropped })), "last_evaluation_success"),
    ).toBe(1);
    const neverRan = status({ lastRun: null, lastError: { at: "2026-11-30T11:59:50.000Z", message: "sysctl failed" } });
    expect(
      sampleValue(parse(renderMetrics({ status: neverRan, errorsByKind: errors, notifyDropped: dropped })), "last_evaluation_success"),
    ).toBe(0);
  });

  test("label values escape exactly backslash, double quote and line feed", () => {
    expect(escapeLabelValue('a\\b"c\nd\te')).toBe('a\\\\b\\"c\\nd\te');
  });

  test("the text ends in a newline and has no timestamps (node_exporter refuses them in text files)", () => {
    const text = renderMetrics({ status: status(), errorsByKind: errors, notifyDropped: dropped });
    expect(text.endsWith("\n")).toBe(true);
    for (const family of parsePrometheusTextFormat(text)) {
      for (const sample of family.metrics) expect(sample.timestamp_ms).toBeUndefined();
    }
  });
});

describe.skipIf(!PROMTOOL)("promtool check metrics", () => {
  test("finds neither a parse error nor a naming problem, odd names included", async () => {
    expect(await promtoolCheck(renderMetrics({ status: status(), errorsByKind: errors, notifyDropped: dropped }))).toEqual({
      exitCode: 0,
      output: "",
    });
  });

  test("accepts the text before the first evaluation too", async () => {
    const empty = status({ lastRun: null, demotion: null, demoted: null, services: [] });
    expect(await promtoolCheck(renderMetrics({ status: empty, errorsByKind: zeroErrorCounts(), notifyDropped: NOTHING_DROPPED }))).toEqual({
      exitCode: 0,
      output: "",
    });
  });

  test("is strict where the JavaScript parser is lenient: an unescaped newline in a label is an error", async () => {
    const broken = `${P}hook_up{hook="new\nline"} 1\n`;
    expect(() => parsePrometheusTextFormat(broken)).not.toThrow();
    const { exitCode, output } = await promtoolCheck(broken);
    expect(exitCode).toBe(1);
    expect(output).toContain("unescaped new-line");
  });
});
