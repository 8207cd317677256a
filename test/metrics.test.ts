/**
 * The metrics text, read back by parsers of the format rather than compared as strings:
 * parse-prometheus-text-format for the values (it decodes label escapes), and promtool, the
 * Prometheus project's own parser and naming lint, for validity (the JavaScript parser is lenient).
 */
import { describe, expect, test } from "bun:test";
import parsePrometheusTextFormat, { type ParsedFamily } from "parse-prometheus-text-format";
import { zeroErrorCounts } from "../src/daemon/error-kind.ts";
import { escapeLabelValue, type MetricsInput, renderMetrics } from "../src/daemon/metrics.ts";
import { type DaemonStatus, PROTOCOL_VERSION, type ServiceStatus } from "../src/protocol/wire.ts";
import { tool } from "./tools.ts";
import { serviceResult } from "./wire-builders.ts";

const PROMTOOL = tool("promtool", "prometheus");
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
    counters: {
      evaluations: 12,
      triggers: 3,
      scheduled: 9,
      starts: 1,
      holdEnds: 2,
      failedEvaluations: 4,
      errors: 2,
      demotions: 1,
      promotions: 0,
    },
    services: [
      service("dns", "pass", { durationMs: 3, counted: { state: "pass", streak: 0, needed: 3 }, failures: 0, transitions: 0 }),
      service("ospf", "fail", { counted: { state: "pass", streak: 2, needed: 3 }, exitCode: 2, failures: 7, transitions: 9 }),
      service("examples", "skipped"),
      service("frr", "fail", {
        since: "2026-11-30T12:00:01.500Z",
        exitCode: null,
        timedOut: true,
        reason: "timed out after 2000 ms",
        failures: 1,
        transitions: 1,
      }),
      ...ODD.map((name, i) => service(name, i % 2 === 0 ? "pass" : "fail")),
    ],
    ...extra,
  };
}

/** Our bit set, every hook passing, a hold-down 30 s from its end. */
function heldStatus(): DaemonStatus {
  return status({
    demotion: 1048576,
    promotionHeld: { passingSince: "2026-11-30T11:59:30.000Z", until: "2026-11-30T12:00:30.000Z", remainingMs: 30_000 },
    services: [service("dns", "pass", { counted: { state: "pass", streak: 0, needed: 1 } })],
  });
}

const errors = { ...zeroErrorCounts(), sysctl: 2 };
const dropped = { hook: 17, change: 2 };
const NOTHING_DROPPED = { hook: 0, change: 0 };

/** What the daemon knows beside its status: the notify queue's costs, the last reload, preempt. */
function observed(notifyDropped: { hook: number; change: number }, extra: Partial<Omit<MetricsInput, "status" | "errorsByKind">> = {}) {
  return {
    notify: { dropped: notifyDropped, failures: 3 },
    reload: { successful: true, lastSuccessAt: "2026-11-30T11:00:00.000Z" },
    preempt: 1,
    ...extra,
  };
}

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
  const families = parse(renderMetrics({ status: status(), errorsByKind: errors, ...observed(dropped) }));

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
      ...observed(dropped),
    });
    expect(odd).toContain("\ncarp_service_status_last_evaluation_timestamp_seconds 1796053380.718\n");
    expect(sampleValue(families, "last_evaluation_success")).toBe(1);
    expect(sampleValue(families, "start_time_seconds")).toBe(Date.parse("2026-11-30T11:00:00Z") / 1000);
  });

  test("errors are counted by kind, every kind present from zero", () => {
    const byKind = Object.fromEntries(families.get(`${P}evaluation_errors_total`)!.metrics.map((m) => [m.labels!.kind, Number(m.value)]));
    expect(byKind).toEqual({ hooks_dir: 0, lock: 0, sysctl: 2, gateways: 0, resources: 0, other: 0 });
  });

  test("notify events a full queue cost are counted by kind: hook events dropped, changes of our bit folded", () => {
    expect(sampleValue(families, "notify_events_dropped_total", { kind: "hook" })).toBe(17);
    expect(sampleValue(families, "notify_events_dropped_total", { kind: "change" })).toBe(2);
    const none = parse(renderMetrics({ status: status(), errorsByKind: errors, ...observed(NOTHING_DROPPED) }));
    expect(sampleValue(none, "notify_events_dropped_total", { kind: "hook" })).toBe(0);
  });

  test("build info is 1 and carries the version and the protocol; its HELP says which is always 1", () => {
    expect(sampleValue(families, "build_info", { version: "0.1.0", protocol: PROTOCOL_VERSION })).toBe(1);
    const help = families.get(`${P}build_info`)!.help;
    expect(help).toStartWith("Always 1;");
    expect(help).not.toContain("(always 1)");
  });

  test("flapping is counted per hook: failed runs and changes of the raw result, even while it counts as passing", () => {
    expect(hookValues(families, "hook_failures_total")).toMatchObject({ dns: 0, ospf: 7, frr: 1 });
    expect(hookValues(families, "hook_transitions_total")).toMatchObject({ dns: 0, ospf: 9, frr: 1 });
    expect(hookValues(families, "hook_failures_total")).not.toHaveProperty("examples");
  });

  test("each hook's last run: timed out or not, and its exit status (-1 when it had none)", () => {
    expect(hookValues(families, "hook_timed_out")).toMatchObject({ dns: 0, ospf: 0, frr: 1 });
    expect(hookValues(families, "hook_last_exit_code")).toMatchObject({ dns: 0, ospf: 2, frr: -1 });
    expect(hookValues(families, "hook_timed_out")).not.toHaveProperty("examples");
  });

  test("the kernel's part of the demotion is its own series: the value without our bit", () => {
    expect(sampleValue(families, "demotion_kernel")).toBe(480);
    const stacked = parse(renderMetrics({ status: status({ demotion: 2 * 1048576 + 240 }), errorsByKind: errors, ...observed(dropped) }));
    expect(sampleValue(stacked, "demotion_kernel")).toBe(240);
  });

  test("every source of an evaluation is counted, the start and the end of a hold-down too", () => {
    const bySource = Object.fromEntries(
      families.get(`${P}evaluation_requests_total`)!.metrics.map((m) => [m.labels!.source, Number(m.value)]),
    );
    expect(bySource).toEqual({ socket: 3, schedule: 9, start: 1, hold_end: 2 });
  });

  test("notify script failures, the last reload and preempt", () => {
    expect(sampleValue(families, "notify_script_failures_total")).toBe(3);
    expect(sampleValue(families, "config_last_reload_successful")).toBe(1);
    expect(sampleValue(families, "config_last_reload_success_timestamp_seconds")).toBe(Date.parse("2026-11-30T11:00:00Z") / 1000);
    expect(sampleValue(families, "preempt")).toBe(1);
    const refused = parse(
      renderMetrics({
        status: status(),
        errorsByKind: errors,
        ...observed(dropped, { reload: { successful: false, lastSuccessAt: "2026-11-30T11:00:00.000Z" }, preempt: null }),
      }),
    );
    expect(sampleValue(refused, "config_last_reload_successful")).toBe(0);
    // Not readable: no series rather than a made-up value.
    expect(refused.has(`${P}preempt`)).toBe(false);
  });

  test("no hold-down: promotion_held 0 and no until", () => {
    expect(sampleValue(families, "promotion_held")).toBe(0);
    expect(families.has(`${P}promotion_held_until_timestamp_seconds`)).toBe(false);
  });

  test("a hold-down: promotion_held 1, until when, with our bit set and every hook up", () => {
    const held = parse(renderMetrics({ status: heldStatus(), errorsByKind: errors, ...observed(dropped) }));
    expect(sampleValue(held, "promotion_held")).toBe(1);
    expect(sampleValue(held, "promotion_held_until_timestamp_seconds")).toBe(Date.parse("2026-11-30T12:00:30.000Z") / 1000);
    expect(sampleValue(held, "demoted")).toBe(1);
    expect(hookValues(held, "hook_up")).toEqual({ dns: 1 });
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
        ...observed(NOTHING_DROPPED),
      }),
    );
    for (const name of [
      "demotion",
      "demotion_kernel",
      "demoted",
      "promotion_held",
      "hook_up",
      "hook_failures_total",
      "hook_duration_seconds",
      "last_evaluation_timestamp_seconds",
    ]) {
      expect(families.has(`${P}${name}`)).toBe(false);
    }
    expect(sampleValue(families, "evaluations_total")).toBe(0);
  });

  test("an error after the last good evaluation sets last_evaluation_success to 0; a good run after it, back to 1", () => {
    const failedLast = status({ lastError: { at: "2026-11-30T12:00:10.000Z", message: "sysctl failed" } });
    expect(
      sampleValue(parse(renderMetrics({ status: failedLast, errorsByKind: errors, ...observed(dropped) })), "last_evaluation_success"),
    ).toBe(0);
    const recovered = status({ lastError: { at: "2026-11-30T11:59:50.000Z", message: "sysctl failed" } });
    expect(
      sampleValue(parse(renderMetrics({ status: recovered, errorsByKind: errors, ...observed(dropped) })), "last_evaluation_success"),
    ).toBe(1);
    const neverRan = status({ lastRun: null, lastError: { at: "2026-11-30T11:59:50.000Z", message: "sysctl failed" } });
    expect(
      sampleValue(parse(renderMetrics({ status: neverRan, errorsByKind: errors, ...observed(dropped) })), "last_evaluation_success"),
    ).toBe(0);
  });

  test("label values escape exactly backslash, double quote and line feed", () => {
    expect(escapeLabelValue('a\\b"c\nd\te')).toBe('a\\\\b\\"c\\nd\te');
  });

  test("the text ends in a newline and has no timestamps (node_exporter refuses them in text files)", () => {
    const text = renderMetrics({ status: status(), errorsByKind: errors, ...observed(dropped) });
    expect(text.endsWith("\n")).toBe(true);
    for (const family of parsePrometheusTextFormat(text)) {
      for (const sample of family.metrics) expect(sample.timestamp_ms).toBeUndefined();
    }
  });
});

describe.skipIf(!PROMTOOL)("promtool check metrics", () => {
  test("finds neither a parse error nor a naming problem, odd names included", async () => {
    expect(await promtoolCheck(renderMetrics({ status: status(), errorsByKind: errors, ...observed(dropped) }))).toEqual({
      exitCode: 0,
      output: "",
    });
  });

  test("accepts the text during a hold-down, and without preempt", async () => {
    expect(
      await promtoolCheck(renderMetrics({ status: heldStatus(), errorsByKind: errors, ...observed(dropped, { preempt: null }) })),
    ).toEqual({
      exitCode: 0,
      output: "",
    });
  });

  test("accepts the text before the first evaluation too", async () => {
    const empty = status({ lastRun: null, demotion: null, demoted: null, services: [] });
    expect(await promtoolCheck(renderMetrics({ status: empty, errorsByKind: zeroErrorCounts(), ...observed(NOTHING_DROPPED) }))).toEqual({
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

describe("the maintenance switch and intervalMs in the metrics", () => {
  test("maintenance 1 and since when while it is on; 0 and no since while it is off", () => {
    const on = parse(
      renderMetrics({
        status: status({ maintenance: { reason: "x", since: "2026-12-06T08:00:00.000Z" } }),
        errorsByKind: errors,
        ...observed(dropped),
      }),
    );
    expect(sampleValue(on, "maintenance")).toBe(1);
    expect(sampleValue(on, "maintenance_since_timestamp_seconds")).toBe(Date.parse("2026-12-06T08:00:00.000Z") / 1000);
    const off = parse(renderMetrics({ status: status({ maintenance: null }), errorsByKind: errors, ...observed(dropped) }));
    expect(sampleValue(off, "maintenance")).toBe(0);
    expect(off.has(`${P}maintenance_since_timestamp_seconds`)).toBe(false);
  });

  test("a check with intervalMs: when its last run started, the one whose result counts", () => {
    const kept = service("slow", "pass", { ranAt: "2026-12-06T08:00:00.000Z", cached: true, ageMs: 30_000 });
    const families = parse(
      renderMetrics({ status: status({ services: [kept, service("dns", "pass")] }), errorsByKind: errors, ...observed(dropped) }),
    );
    expect(hookValues(families, "hook_last_run_timestamp_seconds")).toEqual({ slow: Date.parse("2026-12-06T08:00:00.000Z") / 1000 });
  });
});
