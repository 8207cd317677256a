/** The process-group terminator with a recording kill: the order of signals, and ESRCH ignored. */
import { expect, test } from "bun:test";
import { type Kill, signalGroup, terminateGroup } from "../src/system/process-group.ts";

function esrch(): Error {
  return Object.assign(new Error("kill ESRCH"), { code: "ESRCH" });
}

/** A kill that records "SIGNAL -PGID" and throws ESRCH for signals listed in `gone`. */
function recorder(gone: Array<NodeJS.Signals | 0> = []) {
  const sent: string[] = [];
  const kill: Kill = (pid, signal) => {
    sent.push(`${signal} ${pid}`);
    if (gone.includes(signal)) throw esrch();
  };
  return { sent, kill };
}

test("a leader that exits on SIGTERM ends the grace early, and the group still gets SIGKILL", async () => {
  const { sent, kill } = recorder();
  const started = performance.now();
  await terminateGroup(42, { graceMs: 5_000, ended: Promise.resolve(), kill });
  expect(sent).toEqual(["SIGTERM -42", "SIGKILL -42"]);
  expect(performance.now() - started).toBeLessThan(4_000);
});

test("a leader that ignores SIGTERM gets SIGKILL after the grace", async () => {
  const { sent, kill } = recorder();
  const pending = terminateGroup(42, { graceMs: 50, ended: new Promise(() => {}), kill });
  expect(sent).toEqual(["SIGTERM -42"]);
  await pending;
  expect(sent).toEqual(["SIGTERM -42", "SIGKILL -42"]);
});

test("a group that is already gone gets nothing more", async () => {
  const { sent, kill } = recorder(["SIGTERM"]);
  await terminateGroup(42, { graceMs: 50, ended: new Promise(() => {}), kill });
  expect(sent).toEqual(["SIGTERM -42"]);
});

test("ESRCH at SIGKILL (the group ended during the grace) is not an error", async () => {
  const { sent, kill } = recorder(["SIGKILL"]);
  await terminateGroup(42, { graceMs: 10, ended: Promise.resolve(), kill });
  expect(sent).toEqual(["SIGTERM -42", "SIGKILL -42"]);
});

test("signalGroup reports a missing group as false and rethrows anything else", () => {
  expect(signalGroup(7, 0, recorder([0]).kill)).toBe(false);
  expect(signalGroup(7, 0, recorder().kill)).toBe(true);
  const eperm: Kill = () => {
    throw Object.assign(new Error("kill EPERM"), { code: "EPERM" });
  };
  expect(() => signalGroup(7, 0, eperm)).toThrow("EPERM");
});

test("signalGroup reaches a real process group", async () => {
  const child = Bun.spawn(["sleep", "30"], { detached: true, stdout: "ignore", stderr: "ignore" });
  expect(signalGroup(child.pid, "SIGTERM")).toBe(true);
  expect(await child.exited).not.toBe(0);
  expect(child.signalCode).toBe("SIGTERM");
});
