/**
 * The simulation directory is ours: a scratch directory stands in for /tmp/carp-service-status
 * (passed as `privateDir`), and another user's planted directory or symbolic links are refused.
 * Runs as root, so it can make a directory look like another user's (chown to 65534).
 */
import { afterEach, describe, expect, test } from "bun:test";
import {
  chmodSync,
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CarpError } from "../src/common/errors.ts";
import { acquireLock } from "../src/system/lock-file.ts";
import { ensurePrivateDir } from "../src/system/private-dir.ts";
import { createSimulatedOidReader, createSimulatedSysctl, createSimulatedSyslog } from "../src/system/simulation.ts";

const NOBODY = 65534;
const BIT = 1048576;

const scratch: string[] = [];
afterEach(() => {
  for (const dir of scratch.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A scratch parent, 0755 like /tmp's view from a process; returns where the private dir goes. */
function setup(): { root: string; dir: string } {
  const root = mkdtempSync(join(tmpdir(), "carp-private-"));
  chmodSync(root, 0o755);
  scratch.push(root);
  return { root, dir: join(root, "carp-service-status") };
}

function modeOf(path: string): number {
  return lstatSync(path).mode & 0o7777;
}

/** The CarpError a call throws (sync or async). */
async function refusal(call: () => unknown): Promise<CarpError> {
  try {
    await call();
  } catch (error) {
    expect(error).toBeInstanceOf(CarpError);
    expect((error as CarpError).code).toBe("system");
    return error as CarpError;
  }
  throw new Error("expected a refusal");
}

/** A directory of ours with a victim file outside it, and a symbolic link to the victim planted at `name`. */
function plantLink(name: string): { dir: string; link: string; victim: string } {
  const { root, dir } = setup();
  mkdirSync(dir, { mode: 0o700 });
  const victim = join(root, "victim");
  writeFileSync(victim, "precious\n");
  const link = join(dir, name);
  symlinkSync(victim, link);
  return { dir, link, victim };
}

describe("ensurePrivateDir", () => {
  test("creates a missing directory 0700", () => {
    const { dir } = setup();
    ensurePrivateDir(dir);
    expect(lstatSync(dir).isDirectory()).toBe(true);
    expect(modeOf(dir)).toBe(0o700);
    expect(lstatSync(dir).uid).toBe(process.getuid!());
  });

  test("narrows a directory of ours at 0755 to 0700", () => {
    const { dir } = setup();
    mkdirSync(dir, { mode: 0o755 });
    chmodSync(dir, 0o755);
    ensurePrivateDir(dir);
    expect(modeOf(dir)).toBe(0o700);
  });

  test("refuses a directory another uid created first, and leaves it as it is", async () => {
    const { dir } = setup();
    mkdirSync(dir, { mode: 0o777 });
    chmodSync(dir, 0o777);
    chownSync(dir, NOBODY, NOBODY);
    const error = await refusal(() => ensurePrivateDir(dir));
    expect(error.message).toContain(`Refusing "${dir}": it is owned by uid ${NOBODY}`);
    expect(error.message).toContain(`remove it: rm -rf "${dir}"`);
    expect(modeOf(dir)).toBe(0o777);
    expect(lstatSync(dir).uid).toBe(NOBODY);
  });

  test("refuses a symbolic link in place of the directory, and never touches its target", async () => {
    const { root, dir } = setup();
    const target = join(root, "elsewhere");
    mkdirSync(target, { mode: 0o755 });
    chmodSync(target, 0o755);
    symlinkSync(target, dir);
    const error = await refusal(() => ensurePrivateDir(dir));
    expect(error.message).toContain(`Refusing "${dir}": it is a symbolic link`);
    expect(error.message).toContain(`rm -rf "${dir}"`);
    expect(modeOf(target)).toBe(0o755);
  });

  test("refuses a file in place of the directory", async () => {
    const { dir } = setup();
    writeFileSync(dir, "");
    expect((await refusal(() => ensurePrivateDir(dir))).message).toContain("it is a file");
  });
});

describe("the simulated sysctl and syslog", () => {
  test("create their directory 0700 and keep the kernel's additive semantics", async () => {
    const { dir } = setup();
    const sysctl = createSimulatedSysctl(join(dir, "demotion"), { privateDir: dir });
    expect(await sysctl.read()).toBe(0);
    expect(await sysctl.add(BIT)).toEqual({ before: 0, after: BIT });
    expect(await sysctl.read()).toBe(BIT);
    expect(modeOf(dir)).toBe(0o700);
  });

  test("refuse a directory owned by another uid before reading from it", async () => {
    const { dir } = setup();
    mkdirSync(dir);
    writeFileSync(join(dir, "demotion"), "0\n");
    chownSync(dir, NOBODY, NOBODY);
    const sysctl = createSimulatedSysctl(join(dir, "demotion"), { privateDir: dir });
    expect((await refusal(() => sysctl.read())).message).toContain(`owned by uid ${NOBODY}`);
    const syslog = createSimulatedSyslog(join(dir, "messages"), { privateDir: dir });
    expect((await refusal(() => syslog.warning("x"))).message).toContain(`owned by uid ${NOBODY}`);
    expect(existsSync(join(dir, "messages"))).toBe(false);
  });

  test("refuse a symbolic link in place of the state file, and leave its target's content", async () => {
    const { dir, link, victim } = plantLink("demotion");
    const sysctl = createSimulatedSysctl(link, { privateDir: dir });
    expect((await refusal(() => sysctl.read())).message).toContain(`Refusing "${link}": it is a symbolic link`);
    expect((await refusal(() => sysctl.add(BIT))).message).toContain(`rm "${link}"`);
    expect(readFileSync(victim, "utf8")).toBe("precious\n");
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
  });

  test("never write through a link planted where a temporary file might go: each write makes its own, exclusively", async () => {
    const { dir, victim } = plantLink("demotion.tmp");
    const sysctl = createSimulatedSysctl(join(dir, "demotion"), { privateDir: dir });
    await sysctl.add(BIT);
    expect(readFileSync(victim, "utf8")).toBe("precious\n");
    expect(await sysctl.read()).toBe(BIT);
  });

  test("refuse a symbolic link in place of the message log, and append nothing to its target", async () => {
    const { dir, link, victim } = plantLink("messages");
    const syslog = createSimulatedSyslog(link, { privateDir: dir });
    expect((await refusal(() => syslog.warning("carp demoted"))).message).toContain(`Refusing "${link}": it is a symbolic link`);
    expect(readFileSync(victim, "utf8")).toBe("precious\n");
  });

  test("write one line per message to the log", async () => {
    const { dir } = setup();
    const syslog = createSimulatedSyslog(join(dir, "messages"), { privateDir: dir });
    await syslog.warning("carp promoted by 1048576 due to service recovery");
    expect(readFileSync(join(dir, "messages"), "utf8")).toMatch(
      /^\S+ carp\[daemon\.warning\]: carp promoted by 1048576 due to service recovery\n$/,
    );
  });

  test("leave a directory the config names elsewhere as the admin made it", async () => {
    const { root } = setup();
    const elsewhere = join(root, "state");
    mkdirSync(elsewhere, { mode: 0o755 });
    chmodSync(elsewhere, 0o755);
    chownSync(elsewhere, NOBODY, NOBODY);
    const sysctl = createSimulatedSysctl(join(elsewhere, "demotion"), { privateDir: join(root, "carp-service-status") });
    await sysctl.add(BIT);
    expect(await sysctl.read()).toBe(BIT);
    expect(modeOf(elsewhere)).toBe(0o755);
  });
});

describe("the simulated kernel's other oids", () => {
  test("preempt is on unless a file beside the state file says otherwise; others are unknown", async () => {
    const { dir } = setup();
    const oids = createSimulatedOidReader(join(dir, "demotion"), { privateDir: dir });
    expect(await oids.readOid("net.inet.carp.preempt")).toBe("1");
    writeFileSync(join(dir, "net.inet.carp.preempt"), "0\n");
    expect(await oids.readOid("net.inet.carp.preempt")).toBe("0");
    expect((await refusal(() => oids.readOid("net.inet.carp.nope"))).message).toBe(
      "sysctl -n net.inet.carp.nope failed: sysctl: unknown oid 'net.inet.carp.nope' (simulated)",
    );
  });
});

describe("the lock file", () => {
  test("is created in a fresh private directory", async () => {
    const { dir } = setup();
    const lock = await acquireLock(join(dir, "lock"), { timeoutMs: 100, privateDir: dir });
    lock.release();
    expect(modeOf(dir)).toBe(0o700);
    expect(lstatSync(join(dir, "lock")).isFile()).toBe(true);
  });

  test("refuses a symbolic link in its place, and leaves its target's content", async () => {
    const { dir, link, victim } = plantLink("lock");
    const error = await refusal(() => acquireLock(link, { timeoutMs: 100, privateDir: dir }));
    expect(error.message).toContain(`Refusing "${link}": it is a symbolic link`);
    expect(readFileSync(victim, "utf8")).toBe("precious\n");
  });

  test("refuses a symbolic link anywhere, not only in the simulation directory", async () => {
    const { link, victim } = plantLink("carp_service_status.lock");
    await refusal(() => acquireLock(link, { timeoutMs: 100, privateDir: "/nonexistent" }));
    expect(readFileSync(victim, "utf8")).toBe("precious\n");
  });

  test("refuses a simulation directory owned by another uid", async () => {
    const { dir } = setup();
    mkdirSync(dir);
    chownSync(dir, NOBODY, NOBODY);
    const error = await refusal(() => acquireLock(join(dir, "lock"), { timeoutMs: 100, privateDir: dir }));
    expect(error.message).toContain(`owned by uid ${NOBODY}`);
    expect(existsSync(join(dir, "lock"))).toBe(false);
  });
});
