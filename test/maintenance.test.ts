/**
 * The maintenance switch on disk: off is no file; on is one small JSON line, replaced atomically
 * under the evaluation lock; a file that says neither is "unknown", never a crash and never a
 * guess; a FIFO or device is never read, replaced or removed.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CarpError } from "../src/common/errors.ts";
import { readMaintenance, switchedOn, switchMaintenance, writeMaintenance } from "../src/engine/maintenance.ts";
import { MAINTENANCE_REASON_MAX_CHARS } from "../src/protocol/wire.ts";

let dir = "";
afterEach(() => rmSync(dir, { recursive: true, force: true }));
function scratch() {
  dir = mkdtempSync(join(tmpdir(), "carp-maintenance-"));
  return { file: join(dir, "maintenance"), lockFile: join(dir, "lock"), lockTimeoutMs: 1000 };
}

describe("reading the switch", () => {
  test("no file is off", () => {
    expect(readMaintenance(scratch().file)).toEqual({ status: "off" });
  });

  test("what is written on reads back on, with its reason and since", () => {
    const { file } = scratch();
    writeMaintenance(file, { reason: "upgrading FRR", since: "2026-12-06T08:00:00.000Z" });
    expect(readMaintenance(file)).toEqual({ status: "on", maintenance: { reason: "upgrading FRR", since: "2026-12-06T08:00:00.000Z" } });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, "utf8")).toBe('{"version":1,"reason":"upgrading FRR","since":"2026-12-06T08:00:00.000Z"}\n');
    writeMaintenance(file, null);
    expect(existsSync(file)).toBe(false);
    expect(readMaintenance(file)).toEqual({ status: "off" });
  });

  test("a file that is not a switch of ours says nothing either way: unknown, with the reason", () => {
    const { file } = scratch();
    for (const content of [
      "on\n",
      "{}",
      '{"version":2,"reason":null,"since":"2026-12-06T08:00:00.000Z"}',
      '{"version":1,"reason":null,"since":"never"}',
    ]) {
      writeFileSync(file, content);
      expect(readMaintenance(file)).toEqual({
        status: "unknown",
        problem: `The maintenance file "${file}" is not a maintenance switch of version 1`,
      });
    }
  });

  test("a directory or FIFO in its place is refused, not read, replaced or removed", () => {
    const { file } = scratch();
    mkdirSync(file);
    const read = readMaintenance(file);
    expect(read.status).toBe("unknown");
    expect(() => writeMaintenance(file, null)).toThrow(
      `Cannot turn maintenance off: "${file}": it is a directory, which we do not replace`,
    );
    expect(statSync(file).isDirectory()).toBe(true);
    rmSync(file, { recursive: true });
    Bun.spawnSync(["mkfifo", file]);
    expect(readMaintenance(file)).toMatchObject({ status: "unknown", problem: expect.stringContaining("FIFO") });
  });
});

describe("turning it", () => {
  test("on again keeps since, and takes a new reason (or keeps the old one)", () => {
    const before = { status: "on" as const, maintenance: { reason: "FRR", since: "2026-12-06T08:00:00.000Z" } };
    const now = new Date("2026-12-06T09:00:00.000Z");
    expect(switchedOn(before, { reason: "FRR and unbound", now })).toEqual({
      reason: "FRR and unbound",
      since: "2026-12-06T08:00:00.000Z",
    });
    expect(switchedOn(before, { reason: null, now })).toEqual({ reason: "FRR", since: "2026-12-06T08:00:00.000Z" });
    expect(switchedOn({ status: "off" }, { reason: null, now })).toEqual({ reason: null, since: "2026-12-06T09:00:00.000Z" });
  });

  test("under the evaluation lock: it waits for a run holding it", async () => {
    const config = scratch();
    const maintenanceFile = config.file;
    const events: string[] = [];
    const acquireLock = async (file: string) => {
      events.push(`lock ${file}`);
      return { release: () => void events.push("release") };
    };
    const on = await switchMaintenance({ ...config, maintenanceFile }, { on: true, reason: "x", now: new Date(0), acquireLock });
    expect(on).toEqual({ reason: "x", since: "1970-01-01T00:00:00.000Z" });
    expect(events).toEqual([`lock ${config.lockFile}`, "release"]);
    expect(await switchMaintenance({ ...config, maintenanceFile }, { on: false, acquireLock })).toBeNull();
    expect(readMaintenance(maintenanceFile)).toEqual({ status: "off" });
  });

  test("a lock still held after lockTimeoutMs is a lock error, and the switch is left as it was", async () => {
    const config = scratch();
    const holder = Bun.spawn(["flock", config.lockFile, "sleep", "30"], { stdout: "ignore", stderr: "ignore" });
    try {
      // Held once a non-blocking try fails.
      for (let i = 0; i < 250 && Bun.spawnSync(["flock", "-n", config.lockFile, "true"]).exitCode === 0; i++) await Bun.sleep(20);
      const error = await switchMaintenance({ ...config, maintenanceFile: config.file, lockTimeoutMs: 200 }, { on: true }).catch((e) => e);
      expect(error).toBeInstanceOf(CarpError);
      expect((error as CarpError).kind).toBe("lock");
      expect(readMaintenance(config.file)).toEqual({ status: "off" });
    } finally {
      holder.kill();
    }
  });

  test(`a reason longer than ${MAINTENANCE_REASON_MAX_CHARS} characters is refused`, async () => {
    const config = scratch();
    const error = await switchMaintenance({ ...config, maintenanceFile: config.file }, { on: true, reason: "x".repeat(201) }).catch(
      (e) => e,
    );
    expect((error as CarpError).code).toBe("usage");
    expect(readMaintenance(config.file)).toEqual({ status: "off" });
  });
});
