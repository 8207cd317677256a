/**
 * The daemon's observers, driven with fakes: every evaluation (and every error) rewrites the
 * metrics, GET /metrics answers from the same state, and hook and bit changes reach the notify
 * scripts in order. The real file, socket and scripts are in test/integration/observability.test.ts.
 */
import { afterAll, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import parsePrometheusTextFormat from "parse-prometheus-text-format";
import { CarpError } from "../src/common/errors.ts";
import { parseConfig } from "../src/config/config.ts";
import { type DaemonDeps, startDaemon } from "../src/daemon/daemon.ts";
import type { SocketHandlers } from "../src/daemon/socket-server.ts";
import type { Evaluation, ServiceResult } from "../src/protocol/wire.ts";
import { waitFor } from "./helpers.ts";
import { captureLog } from "./log-capture.ts";
import { evaluationOf, serviceResult } from "./wire-builders.ts";

const notifyDir = mkdtempSync(join(tmpdir(), "carp-observers-"));
chmodSync(notifyDir, 0o755);
writeFileSync(join(notifyDir, "notify"), "#!/bin/sh\n", { mode: 0o755 });
afterAll(() => rmSync(notifyDir, { recursive: true, force: true }));

const config = parseConfig({
  hooksDir: "/h",
  sysctl: "simulated",
  logger: "simulated",
  lockFile: "/l",
  socket: "/s.sock",
  schedule: false,
  metricsFile: "/m/carp_service_status.prom",
  notifyDir,
});

function service(name: string, status: ServiceResult["status"]): ServiceResult {
  return serviceResult(name, status, { durationMs: 2 });
}

function evaluation(services: ServiceResult[], extra: Partial<Evaluation> = {}): Evaluation {
  return evaluationOf(services, extra);
}

/** A daemon whose evaluations return the next of `results`, with the file writes and notify runs recorded. */
async function daemonWith(
  results: Array<Evaluation | Error>,
  setup: { notifyExit?: number; readPreempt?: DaemonDeps["readPreempt"]; loadConfig?: DaemonDeps["loadConfig"] } = {},
) {
  const writes: string[] = [];
  const notified: string[] = [];
  const environments: Array<Record<string, string>> = [];
  let handlers: SocketHandlers | null = null;
  let wall = 0;
  const deps: DaemonDeps = {
    log: captureLog().log,
    loadConfig: setup.loadConfig ?? (() => ({ config, file: null, notices: [] })),
    readPreempt: setup.readPreempt,
    evaluate: async () => {
      const next = results.shift()!;
      if (next instanceof Error) throw next;
      return next;
    },
    listen: async (path, options) => {
      handlers = options.handlers;
      return { path, replacedStale: false, stopAccepting() {}, close() {} };
    },
    startSchedule: () => ({ nextRun: () => null, stop() {} }),
    now: () => new Date(wall),
    setTimer: () => () => {},
    observers: {
      writeFile: async (_path, text) => void writes.push(text),
      notify: {
        isRoot: false,
        runScript: async (_path, options) => {
          notified.push((options.args ?? []).join(" "));
          environments.push(options.env ?? {});
          return {
            exitCode: setup.notifyExit ?? 0,
            signal: null,
            timedOut: false,
            aborted: false,
            durationMs: 1,
            output: "",
            outputDroppedBytes: 0,
            execError: null,
            leftProcesses: false,
            leftBehind: [],
          };
        },
      },
    },
  };
  const daemon = await startDaemon({ config, file: null, notices: [] }, deps);
  await waitFor(() => writes.length > 0, "the first metrics write");
  return {
    daemon,
    writes,
    notified,
    environments,
    handlers: () => handlers!,
    setWall: (ms: number) => {
      wall = ms;
    },
  };
}

const value = (text: string, name: string, labels: Record<string, string> = {}) =>
  Number(
    parsePrometheusTextFormat(text)
      .find((f) => f.name === `carp_service_status_${name}`)
      ?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v))?.value,
  );

test("every evaluation and every error rewrites the metrics file; GET /metrics answers the same state", async () => {
  const { daemon, writes, handlers } = await daemonWith([
    evaluation([service("dns", "pass")]),
    new CarpError("system", 'sysctl -n net.inet.carp.demotion failed: unknown oid "net.inet.carp"', { kind: "sysctl" }),
  ]);
  expect(value(writes.at(-1)!, "hook_up", { hook: "dns" })).toBe(1);
  await Promise.resolve(handlers().evaluate()).catch(() => {});
  await waitFor(() => writes.length === 2, "the write after the error");
  expect(value(writes[1]!, "evaluation_errors_total", { kind: "sysctl" })).toBe(1);
  expect(value(writes[1]!, "last_evaluation_success")).toBe(0);
  expect(await handlers().metrics()).toBe(writes[1]!);
  await daemon.stop();
});

test("hook changes, then the bit they caused, reach the notify scripts in order across evaluations", async () => {
  const { daemon, handlers, notified } = await daemonWith([
    evaluation([service("dns", "pass"), service("ntp", "pass")]),
    evaluation([service("dns", "fail"), service("ntp", "fail")], { action: "demoted", demotionAfter: 1048576, demoted: true }),
    evaluation([service("dns", "pass"), service("ntp", "fail")]),
    evaluation([service("dns", "pass"), service("ntp", "pass")], { action: "promoted", demotionBefore: 1048576 }),
  ]);
  for (let i = 0; i < 3; i++) await handlers().evaluate();
  await waitFor(() => notified.length === 6, "six notify runs");
  expect(notified).toEqual(["hook dns fail", "hook ntp fail", "demoted", "hook dns pass", "hook ntp pass", "promoted"]);
  await daemon.stop();
});

const BIT = 1048576;
const held = (started: boolean) => ({
  passingSince: "2026-11-30T12:00:00.000Z",
  until: "2026-11-30T12:00:30.000Z",
  remainingMs: 30_000,
  started,
});

test("a hold-down that starts is told once (held UNTIL), and a failed run that ends it is told (held-cancelled)", async () => {
  const demoted = { demotionBefore: BIT, demotionAfter: BIT, demoted: true };
  const { daemon, handlers, notified, environments } = await daemonWith([
    evaluation([service("ospf", "fail")], { ...demoted, action: "demoted", demotionBefore: 0 }),
    evaluation([service("ospf", "pass")], { ...demoted, promotionHeld: held(true) }),
    evaluation([service("ospf", "pass")], { ...demoted, promotionHeld: held(false) }),
    // Failed once, still counted as passing (fall = 3): the hold-down ends all the same.
    evaluation([{ ...service("ospf", "fail"), counted: { state: "pass", streak: 1, needed: 3 } }], { ...demoted, failed: [] }),
  ]);
  for (let i = 0; i < 3; i++) await handlers().evaluate();
  await waitFor(() => notified.length === 5, "five notify runs");
  expect(notified).toEqual(["hook ospf fail", "demoted", "hook ospf pass", "held 2026-11-30T12:00:30.000Z", "held-cancelled"]);
  expect(environments[3]).toMatchObject({ CARP_EVENT: "held", CARP_HOLD_REMAINING_MS: "30000" });
  expect(environments[4]).toMatchObject({ CARP_EVENT: "held-cancelled", CARP_HOLD_BROKEN_BY: "ospf" });
  // The hook's own change is told too, with its exit status.
  expect(environments[0]).toMatchObject({ CARP_HOOK_EXIT_CODE: "1" });
  await daemon.stop();
});

test("notify scripts that fail are counted in the metrics", async () => {
  const { daemon, handlers, writes } = await daemonWith(
    [evaluation([service("dns", "pass")]), evaluation([service("dns", "fail")], { action: "demoted", demotionAfter: BIT, demoted: true })],
    { notifyExit: 3 },
  );
  await handlers().evaluate();
  await waitFor(async () => value(await handlers().metrics(), "notify_script_failures_total") === 2, "two failed notify runs");
  expect(value(writes.at(-1)!, "evaluation_requests_total", { source: "start" })).toBe(1);
  await daemon.stop();
});

test("a reload that is refused sets config_last_reload_successful to 0 and keeps the time of the last one taken", async () => {
  let next: Error | null = null;
  const { daemon, handlers, setWall } = await daemonWith([evaluation([service("dns", "pass")])], {
    loadConfig: () => {
      if (next) throw next;
      return { config, file: null, notices: [] };
    },
  });
  const text = () => handlers().metrics() as string;
  expect(value(text(), "config_last_reload_successful")).toBe(1);
  expect(value(text(), "config_last_reload_success_timestamp_seconds")).toBe(0);
  setWall(60_000);
  expect(daemon.reload()).toBe(true);
  expect(value(text(), "config_last_reload_success_timestamp_seconds")).toBe(60);
  next = new CarpError("config", "Invalid config");
  setWall(120_000);
  expect(daemon.reload()).toBe(false);
  expect(value(text(), "config_last_reload_successful")).toBe(0);
  expect(value(text(), "config_last_reload_success_timestamp_seconds")).toBe(60);
  await daemon.stop();
});

test("preempt is read for the metrics, and left out while it cannot be read", async () => {
  let preempt: string | Error = new CarpError("system", "sysctl -n net.inet.carp.preempt failed: unknown oid", { kind: "sysctl" });
  const { daemon, handlers } = await daemonWith([evaluation([service("dns", "pass")])], {
    readPreempt: async () => {
      if (preempt instanceof Error) throw preempt;
      return preempt;
    },
  });
  await Bun.sleep(10);
  expect(await handlers().metrics()).not.toContain("carp_service_status_preempt ");
  preempt = "1\n";
  expect(daemon.reload()).toBe(true);
  await waitFor(async () => value(await handlers().metrics(), "preempt") === 1, "preempt read after the reload");
  await daemon.stop();
});
