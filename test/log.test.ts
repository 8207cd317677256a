/** Where and how log lines are written: formats, syslog with priorities, pino loaded only to log. */
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLog, flushLog } from "../src/system/log.ts";
import { createSyslogWriter } from "../src/system/log-syslog.ts";
import { makeSandbox, REPO, type Sandbox, setFakeSwitch } from "./helpers.ts";

let sandbox: Sandbox | undefined;
const dirs: string[] = [];
afterEach(() => {
  sandbox?.cleanup();
  sandbox = undefined;
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** Runs a few lines of TypeScript that log with createLog(...options) and returns its stderr. */
async function stderrOf(options: string, body: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "carp-log-"));
  dirs.push(dir);
  const script = join(dir, "log.ts");
  writeFileSync(
    script,
    [
      `import { createLog, flushLog } from ${JSON.stringify(join(REPO, "src", "system", "log.ts"))};`,
      `const log = createLog("info", ${options});`,
      body,
      "await flushLog(log);",
    ].join("\n"),
  );
  const proc = Bun.spawn([process.execPath, script], { stdout: "pipe", stderr: "pipe", env: { ...process.env, TZ: "UTC" } });
  const [stderr] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
  return stderr;
}

const TRANSITION = `log.warn({ hook: "svc", exitCode: 1, reason: null, output: "down" }, 'hook "svc" pass -> fail');`;

describe("text, the default", () => {
  test("on a pipe: one line per event, time and level first, the fields as key=value", async () => {
    const stderr = await stderrOf("{}", TRANSITION);
    expect(stderr).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z WARN hook "svc" pass -> fail hook=svc exitCode=1 output=down\n$/);
  });

  test("on a terminal: a short coloured line with the same fields, not JSON, byte for byte what pino-pretty printed", async () => {
    const stderr = await stderrOf("{ terminal: true }", TRANSITION);
    expect(stderr).toMatch(
      // biome-ignore lint/suspicious/noControlCharactersInRegex: the colours are part of what a terminal gets
      /^\[\d\d:\d\d:\d\d\] \x1b\[33mWARN\x1b\[39m: \x1b\[36mhook "svc" pass -> fail hook=svc exitCode=1 output=down\x1b\[39m\n$/,
    );
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the colours are part of what a terminal gets
    const plain = stderr.replace(/\x1b\[[0-9;]*m/g, "");
    expect(plain).toMatch(/^\[\d\d:\d\d:\d\d\] WARN: hook "svc" pass -> fail hook=svc exitCode=1 output=down\n$/);
  });
});

test('"json" keeps pino\'s lines for log shippers', async () => {
  const stderr = await stderrOf('{ format: "json" }', TRANSITION);
  expect(JSON.parse(stderr)).toMatchObject({ level: 40, msg: 'hook "svc" pass -> fail', hook: "svc", exitCode: 1, output: "down" });
});

describe("to syslog", () => {
  function syslogLog(format: "text" | "json") {
    sandbox = makeSandbox();
    const writer = createSyslogWriter({ logger: sandbox.config.logger, simulationLog: join(sandbox.dir, "unused") });
    return createLog("debug", { format, syslog: writer });
  }

  test("every line with our ident and the priority of its level; the message first, then key=value", async () => {
    const log = syslogLog("text");
    log.info({ version: "0.1.0" }, "daemon started");
    log.warn({ hook: "svc", exitCode: 1 }, 'hook "svc" pass -> fail');
    log.error({ err: "sysctl failed" }, "evaluation failed");
    log.debug("evaluation done");
    await flushLog(log);
    expect(sandbox!.syslog()).toEqual([
      "carp-service-status daemon.info: daemon started version=0.1.0",
      'carp-service-status daemon.warning: hook "svc" pass -> fail hook=svc exitCode=1',
      'carp-service-status daemon.err: evaluation failed err="sysctl failed"',
      "carp-service-status daemon.debug: evaluation done",
    ]);
  });

  test('"json" sends pino\'s line as the message, with the same priorities', async () => {
    const log = syslogLog("json");
    log.warn({ hook: "svc" }, "changed");
    await flushLog(log);
    const [line] = sandbox!.syslog();
    expect(line).toStartWith("carp-service-status daemon.warning: {");
    expect(JSON.parse(line!.slice(line!.indexOf("{")))).toMatchObject({ level: 40, msg: "changed", hook: "svc" });
  });

  test("a line syslog refuses goes to stderr instead of vanishing", async () => {
    sandbox = makeSandbox();
    setFakeSwitch(sandbox, "logger.fail");
    const options = `{ syslog: (await import(${JSON.stringify(join(REPO, "src", "system", "log-syslog.ts"))})).createSyslogWriter({ logger: ${JSON.stringify(sandbox.config.logger)}, simulationLog: "/nonexistent" }) }`;
    const stderr = await stderrOf(options, 'log.warn("demoted this node");');
    expect(stderr).toBe(
      "carp-service-status: cannot log to syslog (logger failed: logger: cannot connect to syslogd): demoted this node\n",
    );
  });
});

/** Whether pino is loaded before and after the first line, in a process logging with `options`. */
async function pinoLoadedAround(options: string): Promise<[boolean, boolean]> {
  const dir = mkdtempSync(join(tmpdir(), "carp-log-"));
  dirs.push(dir);
  const script = join(dir, "lazy.ts");
  writeFileSync(
    script,
    [
      `import { createLog, flushLog } from ${JSON.stringify(join(REPO, "src", "system", "log.ts"))};`,
      "const pinoLoaded = () => Object.keys(require.cache).some((path) => /\\/node_modules\\/pino(-pretty)?\\//.test(path));",
      `const log = createLog("warn", ${options});`,
      "await flushLog(log);",
      "const before = pinoLoaded();",
      'log.warn("the first line");',
      "console.log(JSON.stringify([before, pinoLoaded()]));",
    ].join("\n"),
  );
  const proc = Bun.spawn([process.execPath, script], { stdout: "pipe", stderr: "pipe" });
  const [stdout] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
  return JSON.parse(stdout) as [boolean, boolean];
}

test("text lines never load pino, on a pipe or a terminal", async () => {
  expect(await pinoLoadedAround("{}")).toEqual([false, false]);
  expect(await pinoLoadedAround("{ terminal: true }")).toEqual([false, false]);
});

test('"json" loads pino with its first line, not before: a run that logs nothing never loads it', async () => {
  expect(await pinoLoadedAround('{ format: "json" }')).toEqual([false, true]);
});

test("a level set after creation applies to the next line, as a reload sets it", async () => {
  const stderr = await stderrOf(
    "{}",
    'log.debug("hidden"); log.level = "debug"; log.debug("shown"); log.level = "silent"; log.error("hidden too");',
  );
  expect(stderr).toMatch(/^\S+ DEBUG shown\n$/);
});

test("a syslog that does not keep up: past 100 waiting lines the rest go to stderr at once, the queue stops growing", async () => {
  const dir = mkdtempSync(join(tmpdir(), "carp-log-"));
  dirs.push(dir);
  const logger = join(dir, "logger");
  writeFileSync(logger, "#!/bin/sh\nsleep 3\n", { mode: 0o755 });
  const script = join(dir, "flood.ts");
  writeFileSync(
    script,
    [
      `import { createSyslogWriter } from ${JSON.stringify(join(REPO, "src", "system", "log-syslog.ts"))};`,
      `const writer = createSyslogWriter({ logger: ${JSON.stringify(logger)}, simulationLog: "/nonexistent" });`,
      'for (let i = 0; i < 130; i++) writer.send("info", "line " + String(i));',
      "process.exit(0);",
    ].join("\n"),
  );
  const proc = Bun.spawn([process.execPath, script], { stdout: "ignore", stderr: "pipe" });
  const stderr = await new Response(proc.stderr).text();
  await proc.exited;
  const dropped = stderr.split("\n").filter((line) => line.includes("syslog is not keeping up; not sent:"));
  expect(dropped).toHaveLength(30);
  expect(dropped[0]).toContain("line 100");
});
