/**
 * The process-group module with a hand-written kernel: which signals a run's processes get and
 * when, that a run's questions are about that run only, what the run file hears, and how leftovers
 * are named. The kernels themselves are tested in process-tree-linux.test.ts and
 * process-tree-freebsd.test.ts, and with real processes in test/integration/.
 */
import { afterEach, expect, test } from "bun:test";
import {
  describeProcesses,
  endRun,
  findLeftovers,
  type Kill,
  lookNow,
  markLeaderGone,
  type ProcessInfo,
  prepareRun,
  registerRun,
  releaseRun,
  signalGroup,
  type TreeKernel,
  type TreeRun,
  useTreeKernel,
  watchRuns,
} from "../src/system/process-group.ts";

afterEach(() => {
  watchRuns(null);
  useTreeKernel(null);
});

function info(pid: number, name = "sleep"): ProcessInfo {
  return { pid, name, start: `${pid}00`, ppid: 1, pgid: pid, zombie: false };
}

/**
 * A kernel over a table of live processes, each owned by a run's leader pid. `stubborn` ones
 * ignore SIGTERM; every signal sent is recorded as "SIGNAL LEADER: PIDS".
 */
function fakeKernel(
  table: Record<number, number[]>,
  options: { stubborn?: number[]; marker?: string | null; hidden?: { leader: number; pid: number; looks: number } } = {},
) {
  const alive = new Map(Object.entries(table).map(([leader, pids]) => [Number(leader), new Set(pids)]));
  // A process that cannot be told whose it is for its first `looks` looks (an exec under way).
  let hiddenLooks = options.hidden?.looks ?? 0;
  const sent: string[] = [];
  const reaped: Array<number[]> = [];
  const kernel: TreeKernel = {
    mechanism: "fake",
    markerName: options.marker ?? null,
    acquire() {},
    members: (run) => [...(alive.get(run.pid) ?? [])].filter((pid) => pid !== run.pid || !run.leaderGone).map((pid) => info(pid)),
    unsettled() {
      if (options.hidden === undefined || hiddenLooks === 0) return 0;
      if (--hiddenLooks === 0) alive.get(options.hidden.leader)?.add(options.hidden.pid);
      return 1;
    },
    signal(run, members, signal) {
      sent.push(`${signal} ${run.pid}: ${members.map((m) => m.pid).join(" ")}`);
      for (const member of members) {
        if (signal === "SIGKILL" || !options.stubborn?.includes(member.pid)) alive.get(run.pid)?.delete(member.pid);
      }
    },
    reapOrphans: (runs) => void reaped.push(runs.map((run) => run.pid)),
    identify: (pid) => info(pid, "leader"),
    processes: () => [],
    bootId: () => null,
  };
  useTreeKernel(kernel);
  return { kernel, sent, reaped, alive };
}

function started(pid: number): TreeRun {
  return registerRun(pid, { token: null, what: `/hooks/h${pid}` });
}

test("what ends on SIGTERM ends the grace early, and gets no SIGKILL", async () => {
  const { sent } = fakeKernel({ 10: [10, 11, 12] });
  const run = started(10);
  const began = performance.now();
  await endRun(run, { graceMs: 5_000 });
  expect(sent).toEqual(["SIGTERM 10: 10 11 12"]);
  expect(performance.now() - began).toBeLessThan(4_000);
  releaseRun(run);
});

test("what ignores SIGTERM gets SIGKILL after the grace, and only that", async () => {
  const { sent } = fakeKernel({ 10: [10, 11, 12] }, { stubborn: [12] });
  const run = started(10);
  const began = performance.now();
  await endRun(run, { graceMs: 100 });
  expect(performance.now() - began).toBeGreaterThanOrEqual(90);
  expect(sent).toEqual(["SIGTERM 10: 10 11 12", "SIGKILL 10: 12"]);
  releaseRun(run);
});

test("a shutdown cuts the grace short: SIGKILL follows at once", async () => {
  const { sent } = fakeKernel({ 10: [10, 11] }, { stubborn: [10, 11] });
  const run = started(10);
  const began = performance.now();
  await endRun(run, { graceMs: 10_000, cutShort: Promise.resolve() });
  expect(performance.now() - began).toBeLessThan(5_000);
  expect(sent).toEqual(["SIGTERM 10: 10 11", "SIGKILL 10: 10 11"]);
  releaseRun(run);
});

test("a run with nothing left running gets no signal at all", async () => {
  const { sent } = fakeKernel({ 10: [10] });
  const run = started(10);
  markLeaderGone(run);
  expect(await findLeftovers(run)).toEqual([]);
  await endRun(run, { graceMs: 100 });
  expect(sent).toEqual([]);
  releaseRun(run);
});

test("a leftover that cannot be told yet whose it is (an exec under way) is waited for, then found", async () => {
  fakeKernel({ 10: [10] }, { hidden: { leader: 10, pid: 13, looks: 3 } });
  const run = started(10);
  markLeaderGone(run);
  expect((await findLeftovers(run)).map((p) => p.pid)).toEqual([13]);
  releaseRun(run);
});

test("what turns up during the grace gets its own SIGTERM when it is found, and the grace waits for it", async () => {
  const { sent } = fakeKernel({ 10: [10, 11] }, { hidden: { leader: 10, pid: 12, looks: 2 } });
  const run = started(10);
  await endRun(run, { graceMs: 5_000 });
  expect(sent).toEqual(["SIGTERM 10: 10 11", "SIGTERM 10: 12"]);
  releaseRun(run);
});

test("ending one run signals its processes only, never another run's still running", async () => {
  const { sent, alive } = fakeKernel({ 10: [10, 11], 20: [20, 21] });
  const [a, b] = [started(10), started(20)];
  markLeaderGone(a);
  expect((await findLeftovers(a)).map((p) => p.pid)).toEqual([11]);
  await endRun(a, { graceMs: 100 });
  expect(sent).toEqual(["SIGTERM 10: 11"]);
  expect([...alive.get(20)!]).toEqual([20, 21]);
  releaseRun(a);
  releaseRun(b);
});

test("orphans are reaped while the run is still listed, so they can be told from anyone else's", () => {
  const { reaped } = fakeKernel({ 10: [10] });
  const [a, b] = [started(10), started(20)];
  releaseRun(a);
  releaseRun(b);
  expect(reaped).toEqual([[10, 20], [20]]);
});

test("the look that finds nothing of a run left reaps its orphans, and its release does not look again", async () => {
  const { reaped } = fakeKernel({ 10: [10] });
  const run = started(10);
  markLeaderGone(run);
  expect(await findLeftovers(run)).toEqual([]);
  releaseRun(run);
  expect(reaped).toEqual([[10]]);
});

test("the run file hears of a run from its first look on: its leader, what it has running, its leftovers, until release", async () => {
  fakeKernel({ 10: [10, 11], 20: [20] });
  const heard: string[][] = [];
  watchRuns((processes) => heard.push(processes.map((p) => `${p.name} ${p.pid} ${p.start}`)));
  const run = started(10);
  lookNow();
  const quick = started(20);
  releaseRun(quick);
  markLeaderGone(run);
  await findLeftovers(run);
  releaseRun(run);
  expect(heard).toEqual([
    [],
    [],
    ["/hooks/h10 10 1000", "sleep 11 1100"],
    ["/hooks/h10 10 1000", "sleep 11 1100"],
    ["/hooks/h10 10 1000", "sleep 11 1100"],
    ["sleep 11 1100"],
    ["sleep 11 1100"],
    [],
  ]);
});

test("a run's environment carries its own marker where the kernel needs one, and is left alone where not", () => {
  fakeKernel({}, { marker: "RUN_MARK" });
  const first = prepareRun({ PATH: "/bin" });
  const second = prepareRun({ PATH: "/bin" });
  expect(first.env).toEqual({ PATH: "/bin", RUN_MARK: first.token! });
  expect(first.token).not.toBe(second.token);
  // Inheriting our environment (sysctl, logger): left as it is.
  expect(prepareRun(undefined)).toEqual({ token: null, env: undefined });

  fakeKernel({});
  expect(prepareRun({ PATH: "/bin" })).toEqual({ token: null, env: { PATH: "/bin" } });
});

test("leftovers are named with their pids, control characters escaped, at most eight and the rest counted", () => {
  expect(describeProcesses([info(7, "sleep"), info(8, "a\nb")])).toEqual(["sleep (pid 7)", "a\\nb (pid 8)"]);
  const many = Array.from({ length: 11 }, (_, i) => info(100 + i));
  expect(describeProcesses(many)).toEqual([...many.slice(0, 8).map((p) => `sleep (pid ${p.pid})`), "3 more"]);
});

test("signalGroup reports a missing group as false and rethrows anything else", () => {
  const esrch: Kill = () => {
    throw Object.assign(new Error("kill ESRCH"), { code: "ESRCH" });
  };
  const eperm: Kill = () => {
    throw Object.assign(new Error("kill EPERM"), { code: "EPERM" });
  };
  const sent: string[] = [];
  expect(signalGroup(7, 0, esrch)).toBe(false);
  expect(signalGroup(7, "SIGTERM", (pid, signal) => sent.push(`${signal} ${pid}`))).toBe(true);
  expect(sent).toEqual(["SIGTERM -7"]);
  expect(() => signalGroup(7, 0, eperm)).toThrow("EPERM");
});

test("signalGroup reaches a real process group", async () => {
  const child = Bun.spawn(["sleep", "30"], { detached: true, stdout: "ignore", stderr: "ignore" });
  expect(signalGroup(child.pid, "SIGTERM")).toBe(true);
  expect(await child.exited).not.toBe(0);
  expect(child.signalCode).toBe("SIGTERM");
});
