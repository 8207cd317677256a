/**
 * `user`: a check run as another user, for real (the tests run as root, and the suite runs under
 * Bun 1.4.5 and 1.3.14, whose Bun.spawn would ignore uid and gid): the uid, gid, supplementary
 * groups and HOME the hook sees; script security for that user; a file the user cannot run; a
 * user config refuses; and process-tree supervision of such a hook, as of any other.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { runFilePath } from "../../src/system/run-file.ts";
import { isAlive, makeSandbox, runCli, type Sandbox, spawnDaemon, waitFor } from "../helpers.ts";

/** A user and a group of this test's own (names with the pid: another run may be going on), removed after. */
const USER = `carpt${process.pid}`;
const GROUP = `carptg${process.pid}`;
const HOME = `/nonexistent/${USER}`;

function run(argv: string[]): string {
  const result = Bun.spawnSync(argv, { stdout: "pipe", stderr: "pipe" });
  if (result.exitCode !== 0) throw new Error(`${argv.join(" ")} failed: ${result.stderr.toString()}`);
  return result.stdout.toString().trim();
}

let uid = 0;
let gid = 0;
let groupGid = 0;
beforeAll(() => {
  run(["groupadd", GROUP]);
  // Primary group nogroup; supplementary: ours and root (gid 0), which plain script security trusts for root.
  run(["useradd", "-M", "-N", "-g", "nogroup", "-G", `${GROUP},root`, "-d", HOME, "-s", "/usr/sbin/nologin", USER]);
  uid = Number(run(["id", "-u", USER]));
  gid = Number(run(["id", "-g", USER]));
  groupGid = Number(run(["getent", "group", GROUP]).split(":")[2]);
});
afterAll(() => {
  Bun.spawnSync(["userdel", USER]);
  Bun.spawnSync(["groupdel", GROUP]);
});

let sandbox: Sandbox;
afterEach(() => sandbox.cleanup());

/** A sandbox whose config runs `name` as the test's user (the table appended to the config file). */
function setUp(name: string, content: string, mode = 0o755, extra: Record<string, unknown> = {}) {
  sandbox = makeSandbox();
  const path = sandbox.addHook(name, { content }, mode);
  sandbox.writeConfig(extra);
  const text = readFileSync(sandbox.configFile, "utf8");
  Bun.write(sandbox.configFile, `${text}\n[hooks."${name}"]\nuser = "${USER}"\n`);
  return path;
}

async function checkJson() {
  const result = await runCli(["check", "--json", "--config", sandbox.configFile]);
  return { ...result, evaluation: JSON.parse(result.stdout) };
}

describe("a check with user", () => {
  test("runs with the user's uid, primary gid, supplementary groups (initgroups) and HOME", async () => {
    setUp(
      "who",
      '#!/bin/sh\necho "uid=$(id -u) euid=$(id -u) gid=$(id -g) groups=$(id -G | tr " " "\\n" | sort -n | tr "\\n" " ")HOME=$HOME"\n',
    );
    const { evaluation, exitCode } = await checkJson();
    expect(exitCode).toBe(0);
    const groups = [gid, groupGid, 0].sort((a, b) => a - b).join(" ");
    expect(evaluation.services[0]).toMatchObject({
      name: "who",
      status: "pass",
      output: `uid=${uid} euid=${uid} gid=${gid} groups=${groups} HOME=${HOME}\n`,
    });
  });

  test("the same through a real daemon", async () => {
    setUp("who", "#!/bin/sh\nid -u\n");
    const daemon = await spawnDaemon(sandbox);
    try {
      const status = await waitFor(async () => {
        const s = await daemon.call("status");
        return s.lastRun ? s : null;
      }, "the first evaluation");
      expect(status.services[0]).toMatchObject({ status: "pass", output: `${uid}\n` });
    } finally {
      await daemon.stop();
    }
  });

  test("a hook the user could change (group-writable by a group of the user's) is refused, though root alone would run it", async () => {
    const path = setUp("svc", '#!/bin/sh\ntouch "$0.ran"\n', 0o775);
    const { evaluation, exitCode } = await checkJson();
    expect(exitCode).toBe(1);
    expect(evaluation.services[0].reason).toBe(
      `refused by script security: "${path}" is group-writable with group 0, a group of user "${USER}", whom the check runs as (mode 0775); fix: chmod g-w "${path}"`,
    );
    expect(existsSync(`${path}.ran`)).toBe(false);
    // doctor says so before install, as the daemon would refuse it.
    const doctor = await runCli(["doctor", "--json", "--config", sandbox.configFile]);
    const hooks = JSON.parse(doctor.stdout).findings.filter((f: { check: string }) => f.check === "hooks");
    expect(hooks.map((f: { detail: string }) => f.detail).join("\n")).toContain(`a group of user "${USER}", whom the check runs as`);
    // Without user, root's rule (group 0 may write) lets it run.
    sandbox.writeConfig();
    expect((await runCli(["check", "--config", sandbox.configFile])).exitCode).toBe(0);
  });

  test("a hook the user cannot read fails, and never runs as root instead", async () => {
    const path = setUp("secret", `#!/bin/sh\ntouch ${JSON.stringify(join("/tmp", `carp-ran-${process.pid}`))}\n`, 0o700);
    const { evaluation, exitCode } = await checkJson();
    expect(exitCode).toBe(1);
    expect(evaluation.services[0]).toMatchObject({ status: "fail", exitCode: null, output: "" });
    expect(evaluation.services[0].reason).toBe(
      `cannot execute as user "${USER}": permission denied (the user needs read and execute permission on "${path}" and search permission on its directories)`,
    );
    expect(existsSync(join("/tmp", `carp-ran-${process.pid}`))).toBe(false);
  });

  test("not as root, it fails saying only root can, and does not run", async () => {
    const path = setUp("svc", '#!/bin/sh\ntouch "$0.ran"\n');
    const result = await runCli(["check", "--dry-run", "--json", "--config", sandbox.configFile], {
      prefix: ["setpriv", "--reuid", "nobody", "--regid", "nogroup", "--clear-groups"],
    });
    const service = JSON.parse(result.stdout).services[0];
    expect(service.status).toBe("fail");
    expect(service.reason).toContain(`cannot execute: cannot run as user "${USER}": setgroups(`);
    expect(service.reason).toContain("failed: EPERM (only root can run a check as another user)");
    expect(existsSync(`${path}.ran`)).toBe(false);
  });

  test("what it starts is still ended with it, whatever session it moved to, and a timeout kills the tree", async () => {
    setUp("forks", "#!/bin/sh\nsetsid sleep 3600 &\necho $!\n");
    const { evaluation } = await checkJson();
    const left = Number(evaluation.services[0].output.trim());
    expect(evaluation.services[0].warnings[0]).toContain("left processes running");
    expect(isAlive(left)).toBe(false);
    sandbox.cleanup();
    setUp("hangs", "#!/bin/sh\nsleep 3600 &\necho $!\nwait\n", 0o755, { hookTimeoutMs: 500 });
    const hung = await checkJson();
    expect(hung.evaluation.services[0]).toMatchObject({ status: "fail", timedOut: true });
    const child = Number(hung.evaluation.services[0].output.trim());
    expect(child).toBeGreaterThan(0);
    expect(isAlive(child)).toBe(false);
  });
});

describe("a daemon's run file (what a kill -9 would leave running)", () => {
  test("names the hook, not the helper that started it as the user", async () => {
    const path = setUp("hangs", "#!/bin/sh\nsleep 3600\n", 0o755, { hookTimeoutMs: 20_000, schedule: false });
    const daemon = await spawnDaemon(sandbox);
    try {
      const runFile = runFilePath(sandbox.config.stateFile as string);
      const text = await waitFor(() => existsSync(runFile) && readFileSync(runFile, "utf8"), "the run file", 10_000);
      expect(text).toContain(`"name":${JSON.stringify(path)}`);
      expect(text).not.toContain("exec-as");
    } finally {
      await daemon.stop();
    }
  });
});

describe("config", () => {
  test("refuses a user that does not exist, naming it", async () => {
    sandbox = makeSandbox();
    sandbox.writeConfig();
    const text = readFileSync(sandbox.configFile, "utf8");
    await Bun.write(sandbox.configFile, `${text}\n[hooks."frr_ospf"]\nuser = "nosuchuser${process.pid}"\n`);
    const result = await runCli(["config", "--config", sandbox.configFile]);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain(`no user "nosuchuser${process.pid}" in "/etc/passwd"`);
    expect(result.stderr).toContain("→ at hooks.frr_ospf.user");
  });
});
