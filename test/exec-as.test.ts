/**
 * Starting a check as another user, the parts that are pure: whether the credentials read back
 * are the ones asked for, the helper's own failure told from a hook's output, and which command
 * runs the helper in each way the program is installed.
 */
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { credentialsProblem, EXEC_AS_COMMAND, EXEC_AS_ENV, EXEC_AS_FAILED } from "../src/system/exec-as.ts";
import { helperCommand, helperFailure, runAsCommand } from "../src/system/run-as.ts";
import { REPO } from "./helpers.ts";

describe("credentialsProblem", () => {
  const asked = { uid: 65534, gid: 65534, groups: [65534, 900] };
  test("what was asked, with or without the effective gid among the groups (FreeBSD up to 14 lists it, Linux does not)", () => {
    expect(credentialsProblem(asked, { uid: 65534, euid: 65534, gid: 65534, egid: 65534, groups: [900, 65534] })).toBeNull();
    expect(credentialsProblem(asked, { uid: 65534, euid: 65534, gid: 65534, egid: 65534, groups: [900] })).toBeNull();
  });
  test("anything else is named: root still there, another gid, groups left over", () => {
    expect(credentialsProblem(asked, { uid: 0, euid: 0, gid: 0, egid: 0, groups: [0] })).toBe("the uid is 0 (effective 0), not 65534");
    expect(credentialsProblem(asked, { uid: 65534, euid: 65534, gid: 0, egid: 65534, groups: [65534, 900] })).toBe(
      "the gid is 0 (effective 65534), not 65534",
    );
    expect(credentialsProblem(asked, { uid: 65534, euid: 65534, gid: 65534, egid: 65534, groups: [0, 65534, 900] })).toBe(
      "the groups are 0,900,65534, not 900,65534",
    );
  });
});

describe("helperFailure", () => {
  test("only the helper's line with this run's nonce and its exit status: a hook cannot fake it", () => {
    const line = "carp-service-status exec-as N1: EACCES: execve failed\n";
    expect(helperFailure(EXEC_AS_FAILED, line, "N1")).toEqual({ code: "EACCES", message: "execve failed" });
    expect(helperFailure(EXEC_AS_FAILED, line, "N2")).toBeNull();
    expect(helperFailure(1, line, "N1")).toBeNull();
    expect(helperFailure(EXEC_AS_FAILED, "command not found\n", "N1")).toBeNull();
  });
});

describe("the helper's command", () => {
  const execPath = "/usr/local/bin/bun";
  test("from the source tree: exec-as.ts under this Bun, which reads no bunfig, .env or packages", () => {
    const command = helperCommand();
    expect(command[0]).toBe(process.execPath);
    expect(command.slice(1, 4)).toEqual(["--config=/dev/null", "--no-env-file", "--no-install"]);
    expect(command[4]).toEndWith("/src/system/exec-as.ts");
  });
  test("the compiled executable is its own helper", () => {
    const where = {
      modulePath: "/$bunfs/root/carp",
      moduleDir: "/$bunfs/root",
      main: "/$bunfs/root/carp",
      execPath: "/usr/local/bin/carp",
    };
    expect(helperCommand(where)).toEqual(["/usr/local/bin/carp"]);
  });
  test("the bundle runs itself under the Bun that runs it", () => {
    const main = "/usr/local/libexec/carp-service-status/cli.js";
    expect(helperCommand({ modulePath: main, moduleDir: "/usr/local/libexec/carp-service-status", main, execPath })).toEqual([
      execPath,
      "--config=/dev/null",
      "--no-env-file",
      "--no-install",
      main,
    ]);
  });
  test("CommonJS output keeps the source's path, which exists on the build machine: the entry script decides", () => {
    const source = { modulePath: join(REPO, "src", "system", "run-as.ts"), moduleDir: join(REPO, "src", "system") };
    const main = "/usr/local/libexec/carp-service-status/cli.js";
    expect(helperCommand({ ...source, main, execPath })).toEqual([execPath, "--config=/dev/null", "--no-env-file", "--no-install", main]);
    expect(helperCommand({ ...source, main: "/$bunfs/root/carp", execPath: "/usr/local/bin/carp" })).toEqual(["/usr/local/bin/carp"]);
  });
  test("the hook's environment travels in one variable: nothing meant for the hook changes how the helper starts", () => {
    const { argv, env } = runAsCommand(
      { name: "nobody", uid: 65534, gid: 65534, groups: [65534, 900] },
      ["/h/svc", "a"],
      { BUN_OPTIONS: "--x", HOME: "/" },
      "N",
    );
    expect(argv.slice(-9)).toEqual([EXEC_AS_COMMAND, "N", "nobody", "65534", "65534", "65534,900", "--", "/h/svc", "a"]);
    expect(env).toEqual({ [EXEC_AS_ENV]: JSON.stringify({ BUN_OPTIONS: "--x", HOME: "/" }) });
  });
});
