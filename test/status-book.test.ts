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

test("each hook counts its failed runs and the changes of its raw result; a hook that disappears starts again", () => {
  const book = new StatusBook(() => new Date(0));
  const results: Array<ServiceResult["status"]> = ["pass", "fail", "fail", "pass", "fail"];
  const changes = results.map((status) => book.record(evaluation([service("a", status)])).results);
  expect(changes.map((c) => c.map((t) => `${t.from}->${t.to}`))).toEqual([[], ["pass->fail"], [], ["fail->pass"], ["pass->fail"]]);
  const snapshot = () => book.snapshot(DAEMON).services.find((s) => s.name === "a");
  expect(snapshot()).toMatchObject({ failures: 3, transitions: 3 });
  book.record(evaluation([]));
  book.record(evaluation([service("a", "fail")]));
  expect(snapshot()).toMatchObject({ failures: 1, transitions: 0 });
});

test("a skipped entry is no result: pass, skipped, fail is no change of result", () => {
  const book = new StatusBook(() => new Date(0));
  book.record(evaluation([service("a", "pass")]));
  expect(book.record(evaluation([service("a", "skipped")])).results).toEqual([]);
  expect(book.record(evaluation([service("a", "fail")])).results).toEqual([]);
});

test("a raw change below fall is a result change but no counted transition", () => {
  const book = new StatusBook(() => new Date(0));
  book.record(evaluation([{ ...service("a", "pass"), counted: { state: "pass", streak: 0, needed: 3 } }]));
  const changes = book.record(evaluation([{ ...service("a", "fail"), counted: { state: "pass", streak: 1, needed: 3 } }]));
  expect(changes).toEqual({ counted: [], results: [{ name: "a", from: "pass", to: "fail" }], maintenance: null });
});

test("the hold-down in a status reply is what is left as of the reply, on the monotonic clock", () => {
  let wall = Date.parse("2026-11-30T12:00:00Z");
  let monotonic = 500;
  const book = new StatusBook(
    () => new Date(wall),
    () => monotonic,
  );
  const held = { passingSince: "2026-11-30T11:59:50.000Z", until: "2026-11-30T12:00:20.000Z", remainingMs: 20_000 };
  book.record({ ...evaluation([service("a", "pass")]), demoted: true, promotionHeld: held });
  monotonic += 5_000;
  wall -= 60_000; // stepped back
  expect(book.snapshot(DAEMON).promotionHeld).toEqual({
    passingSince: "2026-11-30T11:59:50.000Z",
    until: "2026-11-30T11:59:15.000Z",
    remainingMs: 15_000,
  });
});

const DAEMON = {
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

test("the maintenance switch changes once when turned, and a daemon's first evaluation finding it on counts", () => {
  const on = { reason: "x", since: "2026-12-06T08:00:00.000Z" };
  const book = new StatusBook(() => new Date(0));
  expect(book.record(evaluationOf([], { maintenance: on })).maintenance).toBe("on");
  expect(book.record(evaluationOf([], { maintenance: on })).maintenance).toBeNull();
  expect(book.record(evaluationOf([], { maintenance: null })).maintenance).toBe("off");
  expect(book.record(evaluationOf([])).maintenance).toBeNull();
  expect(new StatusBook().record(evaluationOf([], { maintenance: null })).maintenance).toBeNull();
  expect(book.snapshot({} as never).maintenance).toBeNull();
});

test("a kept result (intervalMs) ages in the status as of the reply, and its failure is counted once, when it ran", () => {
  let monotonic = 10_000;
  const book = new StatusBook(
    () => new Date(0),
    () => monotonic,
  );
  const kept = serviceResult("slow", "fail", { cached: true, ageMs: 5_000, ranAt: "2026-12-06T08:00:00.000Z" });
  book.record(evaluationOf([serviceResult("slow", "fail", { ranAt: "2026-12-06T08:00:00.000Z" })], { durationMs: 0 }));
  book.record(evaluationOf([kept], { durationMs: 0 }));
  book.record(evaluationOf([kept], { durationMs: 0 }));
  monotonic += 7_000;
  const [slow] = book.snapshot({} as never).services;
  expect(slow).toMatchObject({ cached: true, ageMs: 12_000, failures: 1 });
});
