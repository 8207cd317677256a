/** Wire values for tests: every field at a plain default, with the test's own fields on top. */
import type { Evaluation, ServiceResult } from "../src/protocol/wire.ts";

/** A hook's result; the exit code follows the status unless given. */
export function serviceResult(name: string, status: ServiceResult["status"], extra: Partial<ServiceResult> = {}): ServiceResult {
  return {
    name,
    status,
    exitCode: status === "skipped" ? null : status === "pass" ? 0 : 1,
    signal: null,
    timedOut: false,
    durationMs: 1,
    output: "",
    outputDroppedBytes: 0,
    reason: null,
    warnings: [],
    ...extra,
  };
}

/** An evaluation of these services that changed nothing; `failed` names the failing ones unless given. */
export function evaluationOf(services: ServiceResult[] = [], extra: Partial<Evaluation> = {}): Evaluation {
  return {
    action: "none",
    decision: "none",
    dryRun: false,
    failed: services.filter((s) => s.status === "fail").map((s) => s.name),
    demotionBefore: 0,
    demotionAfter: 0,
    demoted: false,
    message: null,
    services,
    anomalies: [],
    warnings: [],
    hooksDir: "/h",
    startedAt: new Date(0).toISOString(),
    durationMs: 1,
    ...extra,
  };
}
