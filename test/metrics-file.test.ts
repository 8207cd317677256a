/** The metrics file kept up to date: one write at a time, the latest text winning, failures said once. */
import { expect, test } from "bun:test";
import { describeWriteFailure, MetricsFile } from "../src/daemon/metrics-file.ts";
import { captureLog } from "./log-capture.ts";

function errno(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: something, open '/x/.m.prom.1.abc.tmp'`), { code });
}

test("a burst of updates costs at most two writes, never overlapping, and ends with the latest text", async () => {
  const writes: string[] = [];
  let inFlight = 0;
  let overlapped = false;
  const file = new MetricsFile(captureLog().log, async (_path, text) => {
    overlapped ||= inFlight > 0;
    inFlight++;
    await Bun.sleep(20);
    writes.push(text);
    inFlight--;
  });
  for (let i = 1; i <= 10; i++) file.update("/m.prom", `v${i}`);
  await file.idle();
  expect(overlapped).toBe(false);
  expect(writes).toEqual(["v10"]);
  file.update("/m.prom", "v11");
  await Bun.sleep(5);
  file.update("/m.prom", "v12");
  file.update("/m.prom", "v13");
  await file.idle();
  expect(writes).toEqual(["v10", "v11", "v13"]);
});

test("a failing write is logged once while it keeps failing, and its recovery once", async () => {
  const captured = captureLog();
  let failing = true;
  const file = new MetricsFile(captured.log, async () => {
    if (failing) throw errno("ENOENT");
  });
  for (let i = 0; i < 3; i++) {
    file.update("/nowhere/m.prom", "x");
    await file.idle();
  }
  failing = false;
  file.update("/nowhere/m.prom", "x");
  await file.idle();
  expect(captured.messages()).toEqual([describeWriteFailure("/nowhere/m.prom", errno("ENOENT")), "metrics file written again"]);
});

test("a write that throws at once does not stall later writes", async () => {
  const writes: string[] = [];
  let calls = 0;
  const file = new MetricsFile(captureLog().log, (_path, text) => {
    if (calls++ === 0) throw errno("EACCES");
    writes.push(text);
    return Promise.resolve();
  });
  file.update("/m.prom", "first");
  await file.idle();
  file.update("/m.prom", "second");
  await file.idle();
  expect(writes).toEqual(["second"]);
});

test("failures name the file and the fix, never the temporary file", () => {
  expect(describeWriteFailure("/var/tmp/node_exporter/c.prom", errno("ENOENT"))).toBe(
    `Cannot write metrics file "/var/tmp/node_exporter/c.prom": its directory does not exist; create it (node_exporter's textfile directory, e.g. /var/tmp/node_exporter) or unset metricsFile`,
  );
  expect(describeWriteFailure("/m.prom", errno("EACCES"))).toContain("permission denied");
  expect(describeWriteFailure("/m.prom", new Error("odd"))).toBe(`Cannot write metrics file "/m.prom": odd`);
});
