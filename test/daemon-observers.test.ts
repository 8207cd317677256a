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
async function daemonWith(results: Array<Evaluation | Error>) {
  const writes: string[] = [];
  const notified: string[] = [];
  let handlers: SocketHandlers | null = null;
  const deps: DaemonDeps = {
    log: captureLog().log,
    loadConfig: () => ({ config, file: null, notices: [] }),
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
    now: () => new Date(0),
    setTimer: () => () => {},
    observers: {
      writeFile: async (_path, text) => void writes.push(text),
      notify: {
        isRoot: false,
        runScript: async (_path, options) => {
          notified.push((options.args ?? []).join(" "));
          return {
            exitCode: 0,
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
  return { daemon, writes, notified, handlers: () => handlers! };
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
    new CarpError("system", 'sysctl -n net.inet.carp.demotion failed: unknown oid "net.inet.carp"'),
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
