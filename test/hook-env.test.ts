/** `hookEnv`: extra environment variables for hooks, validated, set over the minimal hook environment. */
import { afterEach, describe, expect, test } from "bun:test";
import { appendFileSync } from "node:fs";
import { parseConfig } from "../src/config/config.ts";
import { renderSampleConfig } from "../src/config/sample.ts";
import { formatTomlValue } from "../src/config/toml-print.ts";
import { RUN_MARKER } from "../src/system/tree-linux.ts";
import { makeSandbox, runCli, type Sandbox } from "./helpers.ts";

let sandbox: Sandbox | undefined;
afterEach(() => {
  sandbox?.cleanup();
  sandbox = undefined;
});

describe("hookEnv in the config", () => {
  test("is empty by default, and shown so in the sample", () => {
    expect(parseConfig({}, { platform: "freebsd" }).hookEnv).toEqual({});
    expect(renderSampleConfig("freebsd")).toContain("\n# hookEnv = {}\n");
  });

  test("takes names and string values", () => {
    const env = { REQUESTS_CA_BUNDLE: "/usr/local/etc/ssl/cert.pem", _x1: "" };
    expect(parseConfig({ hookEnv: env }, { platform: "freebsd" }).hookEnv).toEqual(env);
  });

  const bad: [string, unknown, string][] = [
    [
      "a name with a dash",
      { "MY-VAR": "1" },
      '"MY-VAR" is not an environment variable name; use letters, digits and _, not starting with a digit',
    ],
    ["a name starting with a digit", { "1X": "1" }, '"1X" is not an environment variable name'],
    ["an empty name", { "": "1" }, '"" is not an environment variable name'],
    ["a NUL in a value", { X: "a\0b" }, 'the value of "X" contains a NUL character'],
    ["a number as a value", { X: 1 }, "expected string, received number"],
    ["a string instead of a table", "X=1", "expected record, received string"],
  ];
  for (const [what, hookEnv, message] of bad) {
    test(`refuses ${what}, naming the key`, () => {
      expect(() => parseConfig({ hookEnv }, { platform: "freebsd", source: "/c.toml" })).toThrow(message);
      expect(() => parseConfig({ hookEnv }, { platform: "freebsd", source: "/c.toml" })).toThrow("hookEnv");
    });
  }

  test("a table renders as a TOML inline table that parses back", () => {
    const text = formatTomlValue({ A: "1", B_2: 'say "hi"' }, "hookEnv");
    expect(text).toBe('{ A = "1", B_2 = "say \\"hi\\"" }');
    expect(Bun.TOML.parse(`hookEnv = ${text}`)).toEqual({ hookEnv: { A: "1", B_2: 'say "hi"' } });
  });
});

test("a hook sees hookEnv over PATH and HOME, and nothing else from our environment", async () => {
  sandbox = makeSandbox();
  sandbox.addHook("env", { content: "#!/bin/sh\nenv | sort\n" });
  appendFileSync(sandbox.configFile, 'hookEnv = { REQUESTS_CA_BUNDLE = "/usr/local/etc/ssl/cert.pem", HOME = "/root" }\n');
  const { stdout, exitCode } = await runCli(["check", "--config", sandbox.configFile, "--json"], { env: { CARP_LEAK: "no" } });
  expect(exitCode).toBe(0);
  const lines = JSON.parse(stdout).services[0].output.trim().split("\n");
  // On Linux the runner adds a marker unique to the run: how it finds the hook's processes again
  // after they left its session (FreeBSD's kernel keeps that itself).
  expect(lines.filter((line: string) => line.startsWith(`${RUN_MARKER}=`))).toHaveLength(process.platform === "linux" ? 1 : 0);
  // sh adds PWD (and SHLVL or _, depending on the shell); the rest is ours.
  expect(lines.filter((line: string) => !/^(PWD|SHLVL|_)=/.test(line) && !line.startsWith(`${RUN_MARKER}=`))).toEqual([
    "HOME=/root",
    "PATH=/sbin:/bin:/usr/sbin:/usr/bin:/usr/local/sbin:/usr/local/bin",
    "REQUESTS_CA_BUNDLE=/usr/local/etc/ssl/cert.pem",
  ]);
});
