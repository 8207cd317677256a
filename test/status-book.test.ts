import { expect, test } from "bun:test";
import { findTransitions, StatusBook } from "../src/daemon/status-book.ts";
import type { Evaluation, ServiceResult } from "../src/protocol/wire.ts";
import { evaluationOf, serviceResult } from "./wire-builders.ts";

function service(name: string, status: ServiceResult["status"]): ServiceResult {
  return serviceResult(name, status);
}

function evaluation(services: ServiceResult[], action: Evaluation["action"] = "none"): Evaluation {
  return evaluationOf(services, { action });
}

test("transitions are the hooks whose status changed, new ones from null", () => {
  const previous = new Map([
    ["a", "pass" as const],
    ["b", "fail" as const],
  ]);
  expect(findTransitions(previous, [service("a", "fail"), service("b", "fail"), service("c", "pass")])).toEqual([
    { name: "a", from: "pass", to: "fail" },
    { name: "c", from: null, to: "pass" },
  ]);
});

test("a hook keeps its 'since' while its status holds, and gets a new one when it changes", () => {
  let now = 1000;
  const book = new StatusBook(() => new Date(now));
  book.record(evaluation([service("a", "pass")]));
  now = 2000;
  book.record(evaluation([service("a", "pass")]));
  const daemon = {
    version: "1",
    pid: 1,
    startedAt: new Date(0).toISOString(),
    configFile: null,
    hooksDir: "/h",
    socket: null,
    schedule: false as const,
    running: false,
    nextRun: null,
  };
  expect(book.snapshot(daemon).services[0]!.since).toBe(new Date(1000).toISOString());
  now = 3000;
  book.record(evaluation([service("a", "fail")], "demoted"));
  const status = book.snapshot(daemon);
  expect(status.services[0]!.since).toBe(new Date(3000).toISOString());
  expect(status.counters).toMatchObject({ evaluations: 3, failedEvaluations: 1, demotions: 1 });
  expect(status.uptimeMs).toBe(3000);
});

test("errors are counted as evaluations that did not finish", () => {
  const book = new StatusBook(() => new Date(5));
  book.recordError("sysctl failed");
  const status = book.snapshot({
    version: "1",
    pid: 1,
    startedAt: new Date(0).toISOString(),
    configFile: null,
    hooksDir: "/h",
    socket: null,
    schedule: false,
    running: false,
    nextRun: null,
  });
  expect(status.counters).toMatchObject({ evaluations: 1, errors: 1 });
  expect(status.lastError).toEqual({ at: new Date(5).toISOString(), message: "sysctl failed" });
  expect(status.demotion).toBeNull();
});
