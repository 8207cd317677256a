/**
 * Evaluation errors carry their kind from where they were thrown, through the real engine; the
 * metric reads that field, never the message, so a reworded message cannot move an error.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { CarpError, ERROR_KINDS, kindOf, withKind } from "../src/common/errors.ts";
import { EVALUATION_ERROR_KINDS, errorKindLabel, evaluationErrorKind } from "../src/daemon/error-kind.ts";
import { discoverHooks } from "../src/engine/discover.ts";
import { evaluate } from "../src/engine/evaluate.ts";
import { acquireLock } from "../src/system/lock-file.ts";
import { runCommand } from "../src/system/run-tool.ts";
import { createSimulatedOidReader, createSimulatedSysctl, createSimulatedSyslog } from "../src/system/simulation.ts";
import { createSysctl } from "../src/system/sysctl.ts";
import { createSyslog } from "../src/system/syslog.ts";
import { makeSandbox } from "./helpers.ts";

const dir = mkdtempSync(join(tmpdir(), "carp-kinds-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error("expected a rejection");
    },
    (error: unknown) => error,
  );
}

test("a sysctl that cannot run, one that fails, and a simulated one that cannot be read are sysctl errors", async () => {
  expect(kindOf(await rejection(createSysctl(join(dir, "no-sysctl")).read()))).toBe("sysctl");
  const failing = join(dir, "failing-sysctl");
  writeFileSync(failing, "#!/bin/sh\necho \"sysctl: unknown oid 'net.inet.carp.demotion'\" >&2\nexit 1\n", { mode: 0o755 });
  expect(kindOf(await rejection(createSysctl(failing).read()))).toBe("sysctl");
  writeFileSync(join(dir, "garbage"), "not a number\n");
  expect(kindOf(await rejection(createSimulatedSysctl(join(dir, "garbage"), { privateDir: dir }).read()))).toBe("sysctl");
  expect(kindOf(await rejection(createSimulatedOidReader(join(dir, "garbage"), { privateDir: dir }).readOid("net.nothing")))).toBe(
    "sysctl",
  );
});

test("a tool stopped by the lock phase's deadline is of the kind its caller gave, whatever the message names", async () => {
  const deadline = AbortSignal.abort(new Error("the lock phase's deadline of 15000 ms passed"));
  const stopped = await rejection(runCommand(["sleep", "5"], { what: "sysctl", kind: "sysctl", signal: deadline }));
  expect(String((stopped as Error).message)).toContain("lock phase");
  expect(kindOf(stopped)).toBe("sysctl");
});

test("logger(1) and the simulated syslog failing are syslog errors", async () => {
  expect(kindOf(await rejection(createSyslog(join(dir, "no-logger")).warning("x")))).toBe("syslog");
  expect(kindOf(await rejection(createSimulatedSyslog(join(dir, "garbage", "log"), { privateDir: dir }).warning("x")))).toBe("syslog");
});

test("a hooks directory that is not one is a hooks_dir error", async () => {
  writeFileSync(join(dir, "file"), "");
  expect(kindOf(await rejection(discoverHooks(join(dir, "file"), { enforceSecurity: false })))).toBe("hooks_dir");
});

test("an evaluation that cannot take the lock file in time ends in a lock error", async () => {
  const sandbox = makeSandbox({ lockTimeoutMs: 0 });
  const held = await acquireLock(sandbox.config.lockFile, { timeoutMs: 0, privateDir: sandbox.dir });
  try {
    const deps = { ...effects(), log: pino({ level: "silent" }), isRoot: false };
    const error = await rejection(evaluate(sandbox.config, deps));
    expect(kindOf(error)).toBe("lock");
    expect(evaluationErrorKind(error)).toBe("lock");
  } finally {
    held.release();
    sandbox.cleanup();
  }
});

test("an evaluation whose hook cannot be started for want of descriptors ends in a resources error", async () => {
  const sandbox = makeSandbox();
  sandbox.addHook("svc", { fixture: "pass" });
  try {
    const deps = {
      ...effects(),
      log: pino({ level: "silent" }),
      isRoot: false,
      runHook: async () => {
        throw new CarpError("system", 'Cannot start hook "/h/svc": EMFILE (too many open files)');
      },
    };
    const error = await rejection(evaluate(sandbox.config, deps));
    expect(kindOf(error)).toBe("resources");
  } finally {
    sandbox.cleanup();
  }
});

test("the metric reads the kind, not the message: a reworded message keeps its kind, a message naming sysctl without one is other", () => {
  expect(evaluationErrorKind(new CarpError("system", "the kernel said no", { kind: "sysctl" }))).toBe("sysctl");
  expect(evaluationErrorKind(new CarpError("system", "sysctl -n net.inet.carp.demotion failed"))).toBe("other");
  expect(evaluationErrorKind(new Error("hooks directory"))).toBe("other");
  // Kinds an evaluation does not end in have no label of their own.
  expect(evaluationErrorKind(new CarpError("system", "x", { kind: "socket" }))).toBe("other");
  expect(EVALUATION_ERROR_KINDS.every((kind) => (ERROR_KINDS as readonly string[]).includes(kind))).toBe(true);
});

test("an error's code gives its kind when none is set, and withKind fills in only what the thrower left open", () => {
  expect(new CarpError("config", "Invalid config").kind).toBe("config");
  expect(new CarpError("usage", "Unknown flag").kind).toBe("usage");
  expect(new CarpError("in_use", "A daemon is listening").kind).toBe("socket");
  expect(new CarpError("system", "x").kind).toBe("other");
  const open = new CarpError("system", "x");
  expect((withKind(open, "lock") as CarpError).kind).toBe("lock");
  const set = new CarpError("system", "x", { kind: "sysctl" });
  expect((withKind(set, "lock") as CarpError).kind).toBe("sysctl");
  const plain = new Error("x");
  expect(withKind(plain, "lock")).toBe(plain);
});

/** sysctl and syslog that work, for evaluations that fail elsewhere. */
function effects() {
  let value = 0;
  return {
    sysctl: {
      read: async () => value,
      add: async (delta: number) => {
        const before = value;
        value += delta;
        return { before, after: value };
      },
    },
    syslog: { warning: async () => {} },
  };
}

test("an evaluation whose gateway status command cannot run carries a gateways error, counted under its own label", async () => {
  const sandbox = makeSandbox({ gatewayStatusCommand: join(dir, "no-gateway-status"), gateways: { WAN_GW: { failOn: ["down"] } } });
  try {
    const deps = { ...effects(), log: pino({ level: "silent" }), isRoot: false };
    const evaluation = await evaluate(sandbox.config, deps);
    expect(evaluation.errors).toHaveLength(1);
    const [failure] = evaluation.errors!;
    expect(failure!.message).toContain(`The gateway status command "${join(dir, "no-gateway-status")}" cannot be run: `);
    expect(failure!.kind).toBe("gateways");
    expect(errorKindLabel(failure!.kind)).toBe("gateways");
    expect(errorKindLabel("state")).toBe("other");
  } finally {
    sandbox.cleanup();
  }
});
