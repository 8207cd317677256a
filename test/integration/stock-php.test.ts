/**
 * The bench times the real stock PHP script through bench/stock-php.ts. Run once through that same
 * harness, the script must do what REFERENCE.md says it does, or the bench measures something else:
 * hooks in name order (no dotfiles, no files without the execute bit), one syslog record per change
 * with the stock text at daemon.warning, 2^20 added or taken off, and nothing written or logged
 * while the state holds.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { namespaceProblem, type StockBench, startStockBench } from "../../bench/stock-php.ts";
import { DEMOTION_BIT, DEMOTION_OID } from "../../src/config/defaults.ts";
import { testEnv } from "../plugin/testenv.ts";

/** LOG_DAEMON (3 << 3) | LOG_WARNING (4). */
const DAEMON_WARNING = 28;
const HOST_LOCK = "/var/run/carp_service_status.lock";

let dir: string;
let bench: StockBench;
let hostLockExisted: boolean;

beforeAll(async () => {
  const problem = namespaceProblem();
  if (problem !== null) throw new Error(`The stock PHP script cannot run here: ${problem}`);
  hostLockExisted = existsSync(HOST_LOCK);
  dir = mkdtempSync(join(tmpdir(), "carp-stock-php-"));
  const { php, core } = testEnv();
  bench = await startStockBench(dir, { php, core });
});

afterAll(async () => {
  await bench?.close();
  rmSync(dir, { recursive: true, force: true });
});

function writeHook(hooksDir: string, name: string, exitCode: number, mode = 0o755): void {
  writeFileSync(join(hooksDir, name), `#!/bin/sh\necho "output is thrown away"\nexit ${exitCode}\n`);
  chmodSync(join(hooksDir, name), mode);
}

/** One run of the stock script, and what it did to the fake kernel and syslog. */
async function runStock() {
  const calls = join(bench.sbin, "sysctl.calls");
  rmSync(calls, { force: true });
  const { exitCode, stdout, stderr } = await bench.run(bench.stockArgv!, { capture: true });
  return {
    exitCode,
    output: stdout + stderr,
    demotion: Number(readFileSync(join(bench.sbin, "demotion"), "utf8")),
    sysctlCalls: existsSync(calls) ? readFileSync(calls, "utf8").trim().split("\n") : [],
    syslog: bench.takeSyslog(),
  };
}

test("the real stock script demotes with its syslog text, promotes on recovery, and writes nothing otherwise", async () => {
  const hooksDir = join(dir, "hooks");
  mkdirSync(hooksDir);
  writeHook(hooksDir, "svc", 1);
  writeHook(hooksDir, "other", 7);
  writeHook(hooksDir, "ok", 0);
  writeHook(hooksDir, ".hidden", 1);
  writeHook(hooksDir, "not-executable", 1, 0o644);
  bench.useHooks(hooksDir);
  writeFileSync(join(bench.sbin, "demotion"), "240\n");
  const read = `-i ${DEMOTION_OID}`;

  expect(await runStock()).toEqual({
    exitCode: 0,
    output: "",
    demotion: 240 + DEMOTION_BIT,
    sysctlCalls: [read, `${DEMOTION_OID}=${DEMOTION_BIT}`],
    syslog: [
      { priority: DAEMON_WARNING, tag: "carp", message: `carp demoted by ${DEMOTION_BIT} due to service disruption (services: other,svc)` },
    ],
  });
  expect(await runStock()).toEqual({ exitCode: 0, output: "", demotion: 240 + DEMOTION_BIT, sysctlCalls: [read], syslog: [] });

  writeHook(hooksDir, "svc", 0);
  writeHook(hooksDir, "other", 0);
  expect(await runStock()).toEqual({
    exitCode: 0,
    output: "",
    demotion: 240,
    sysctlCalls: [read, `${DEMOTION_OID}=-${DEMOTION_BIT}`],
    syslog: [{ priority: DAEMON_WARNING, tag: "carp", message: `carp promoted by ${DEMOTION_BIT} due to service recovery` }],
  });
  expect(await runStock()).toEqual({ exitCode: 0, output: "", demotion: 240, sysctlCalls: [read], syslog: [] });

  // It locked the stand-in, not the machine's /var/run.
  expect(existsSync(bench.lockFile)).toBe(true);
  if (!hostLockExisted) expect(existsSync(HOST_LOCK)).toBe(false);
});
