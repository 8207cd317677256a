/** Evaluation errors sorted by kind, from the messages the real engine throws. */
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { messageOf } from "../src/common/errors.ts";
import { errorKindOf } from "../src/daemon/error-kind.ts";
import { discoverHooks } from "../src/engine/discover.ts";
import { acquireLock } from "../src/system/lock-file.ts";
import { createSimulatedSysctl } from "../src/system/simulation.ts";
import { createSysctl } from "../src/system/sysctl.ts";

const dir = mkdtempSync(join(tmpdir(), "carp-kinds-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function messageOfRejection(promise: Promise<unknown>): Promise<string> {
  return promise.then(
    () => {
      throw new Error("expected a rejection");
    },
    (error: unknown) => messageOf(error),
  );
}

test("a sysctl that cannot run, or a simulated one that cannot be read, is a sysctl error", async () => {
  expect(errorKindOf(await messageOfRejection(createSysctl(join(dir, "no-sysctl")).read()))).toBe("sysctl");
  writeFileSync(join(dir, "garbage"), "not a number\n");
  const simulated = createSimulatedSysctl(join(dir, "garbage"), { privateDir: dir });
  expect(errorKindOf(await messageOfRejection(simulated.read()))).toBe("sysctl");
});

test("a sysctl call stopped by the lock phase's deadline is a sysctl error, though it names the lock", () => {
  const message = `sysctl "/sbin/sysctl -n net.inet.carp.demotion" was stopped: the lock phase's deadline of 15000 ms passed; its process group was killed`;
  expect(errorKindOf(message)).toBe("sysctl");
});

test("a hooks directory that is not one is a hooks_dir error", async () => {
  writeFileSync(join(dir, "file"), "");
  expect(errorKindOf(await messageOfRejection(discoverHooks(join(dir, "file"), { enforceSecurity: false })))).toBe("hooks_dir");
});

test("a lock file held by someone else past the timeout is a lock error", async () => {
  const file = join(dir, "lock");
  const held = await acquireLock(file, { timeoutMs: 0, privateDir: dir });
  try {
    expect(errorKindOf(await messageOfRejection(acquireLock(file, { timeoutMs: 0, privateDir: dir })))).toBe("lock");
  } finally {
    held.release();
  }
});

test("running out of descriptors or processes is a resources error; anything else is other", () => {
  const resources = `Cannot start hook "/h/a": EMFILE (too many open files); this process is out of resources, which says nothing about the service`;
  expect(errorKindOf(resources)).toBe("resources");
  expect(errorKindOf("something nobody foresaw")).toBe("other");
});
