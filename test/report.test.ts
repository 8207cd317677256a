/** The tables for people: whatever a hook prints or is called, no control character reaches the terminal. */
import { describe, expect, test } from "bun:test";
import { formatEvaluation, formatStatus } from "../src/cli/report.ts";
import type { DaemonStatus, Evaluation, ServiceResult } from "../src/protocol/wire.ts";
import { evaluationOf, serviceResult } from "./wire-builders.ts";

const ESC = "\u001b";

function service(name: string, extra: Partial<ServiceResult> = {}): ServiceResult {
  return serviceResult(name, "fail", { durationMs: 3, ...extra });
}

function evaluation(services: ServiceResult[], extra: Partial<Evaluation> = {}): Evaluation {
  return evaluationOf(services, {
    demotionBefore: 1048576,
    demotionAfter: 1048576,
    demoted: true,
    hooksDir: "/hooks",
    startedAt: "2026-01-01T00:00:00.000Z",
    durationMs: 5,
    ...extra,
  });
}

/** The rows of the hook table: every line before the blank one. */
function tableRows(text: string): string[] {
  return text.split("\n\n")[0]!.split("\n");
}

describe("formatEvaluation", () => {
  test("a hook's own warning is shown under the table, naming the hook", () => {
    const text = formatEvaluation(evaluation([service("frr", { status: "pass", exitCode: 0, warnings: ["left processes running"] })]));
    expect(text.split("\n")).toContain('warning: hook "frr" left processes running');
  });

  test("a hook printing terminal sequences shows them escaped, in one row", () => {
    const text = formatEvaluation(evaluation([service("svc", { output: `${ESC}[2J${ESC}[31mboom\nsecond` })]));
    expect(text).not.toContain(ESC);
    const rows = tableRows(text);
    expect(rows).toHaveLength(2);
    expect(rows[1]).toMatch(/^svc\s+fail\s+1\s+3 ms\s+\\x1b\[2J\\x1b\[31mboom$/);
  });

  test("a hook whose name holds a newline or ESC stays in its row, escaped", () => {
    const text = formatEvaluation(evaluation([service(`a\nb`), service(`${ESC}]0;pwned\u0007`, { status: "pass", exitCode: 0 })]));
    expect(text).not.toContain(ESC);
    expect(text).not.toContain("\u0007");
    const rows = tableRows(text);
    expect(rows).toHaveLength(3);
    expect(rows[1]).toStartWith("a\\nb ");
    expect(rows[2]).toStartWith("\\x1b]0;pwned\\x07 ");
  });

  test("a reason, a warning and an anomaly are escaped too", () => {
    const text = formatEvaluation(
      evaluation([service("svc", { reason: `cannot execute: interpreter "/bin/${ESC}[0m" not found` })], {
        warnings: [`Cannot read "/hooks/x${ESC}[1m"`],
        anomalies: [`odd\rvalue`],
      }),
    );
    expect(text).not.toContain(ESC);
    expect(text).not.toContain("\r");
    expect(text).toContain('interpreter "/bin/\\x1b[0m" not found');
    expect(text).toContain('warning: Cannot read "/hooks/x\\x1b[1m"');
    expect(text).toContain("ANOMALY: odd\\rvalue");
  });

  test("ordinary names and output are shown as they are", () => {
    const text = formatEvaluation(evaluation([service("frr ospf-Überwachung", { output: "neighbour down\n" })]));
    expect(tableRows(text)[1]).toMatch(/^frr ospf-Überwachung\s+fail\s+1\s+3 ms\s+neighbour down$/);
  });
});

describe("formatStatus", () => {
  test("escapes hook names, the last error, warnings and anomalies", () => {
    const status: DaemonStatus = {
      version: "0.1.0",
      pid: 1,
      startedAt: "2026-01-01T00:00:00.000Z",
      uptimeMs: 1000,
      configFile: null,
      hooksDir: "/hooks",
      socket: null,
      schedule: false,
      running: false,
      lastRun: null,
      lastError: { at: "2026-01-01T00:00:01.000Z", message: `sysctl: ${ESC}[2J` },
      nextRun: null,
      demotion: 0,
      demoted: false,
      anomalies: [`a${ESC}b`],
      warnings: [`w\nx`],
      counters: { evaluations: 1, triggers: 0, scheduled: 0, failedEvaluations: 1, errors: 0, demotions: 0, promotions: 0 },
      services: [{ ...service(`x\ny`, { output: `${ESC}[31mred` }), since: "2026-01-01T00:00:00.000Z" }],
    };
    const text = formatStatus(status);
    expect(text).not.toContain(ESC);
    expect(text).toContain("x\\ny ");
    expect(text).toContain("\\x1b[31mred");
    expect(text).toContain("warning: w\\nx");
    expect(text).toContain("ANOMALY: a\\x1bb");
    expect(text).toContain("sysctl: \\x1b[2J");
  });
});

describe("the maintenance switch and kept results in the tables", () => {
  test("an evaluation under maintenance says it is on, why, since when, what ends it, and whose bit it is", () => {
    const text = formatEvaluation(
      evaluation([serviceResult("ospf", "pass", { durationMs: 3 })], {
        failed: [],
        maintenance: { reason: "upgrading \u001b[31mFRR", since: "2026-12-06T08:00:00.000Z" },
      }),
    );
    expect(text).toContain(
      "maintenance on since 2026-12-06T08:00:00.000Z: upgrading \\x1b[31mFRR (this node stays demoted; carp-service-status maintenance off ends it)",
    );
    expect(text).toContain("demotion 1048576: our bit (2^20: held by carp-service-status maintenance)");
    expect(text).not.toContain(ESC);
  });

  test("a kept result shows how long ago it ran beside how long it took", () => {
    const rows = tableRows(
      formatEvaluation(evaluation([serviceResult("slow", "pass", { durationMs: 3012, cached: true, ageMs: 42_400 }), service("dns")])),
    );
    expect(rows[1]).toMatch(/^slow\s+pass\s+0\s+3012 ms, 42 s ago\s*$/);
    expect(rows[2]).toMatch(/^dns\s+fail\s+1\s+3 ms\s*$/);
  });
});
