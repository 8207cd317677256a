/** doctor's findings as pure functions of what was read, and how they are judged and shown. */
import { describe, expect, test } from "bun:test";
import { configFinding } from "../src/doctor/config-check.ts";
import { daemonFinding } from "../src/doctor/daemon-checks.ts";
import { dryRunFinding, NO_CHECKS } from "../src/doctor/dry-run-check.ts";
import { doctorExitCode, type Finding, finding, summarize } from "../src/doctor/finding.ts";
import { formatFindings } from "../src/doctor/format.ts";
import { fixOf, hooksFindings, notifyFindings } from "../src/doctor/hooks-check.ts";
import { demotionFinding, preemptFinding, sysctlFinding } from "../src/doctor/system-checks.ts";
import { DaemonIncompatible, DaemonUnreachable } from "../src/protocol/client.ts";
import type { DaemonStatus, Evaluation, ServiceResult } from "../src/protocol/wire.ts";
import { evaluationOf, serviceResult } from "./wire-builders.ts";

const BIT = 1048576;

function service(name: string, status: ServiceResult["status"], fields: Partial<ServiceResult> = {}): ServiceResult {
  return serviceResult(name, status, fields);
}

function evaluation(decision: Evaluation["decision"], services: ServiceResult[]): Evaluation {
  return evaluationOf(services, { decision, dryRun: true, startedAt: "" });
}

describe("dry run", () => {
  test("a failing or refused hook: starting now would DEMOTE this node, a problem, with the reasons", () => {
    const refused = 'refused by script security: "/h/b" is group-writable with group 5 (mode 0775); fix: chmod g-w "/h/b"';
    const f = dryRunFinding(
      evaluation("demote", [service("a", "fail", { output: "down\n" }), service("b", "fail", { exitCode: null, reason: refused })]),
    );
    expect(f.status).toBe("problem");
    expect(f.detail).toBe(`starting now would DEMOTE this node because: a (exit 1: down), b (${refused})`);
  });

  test("a gateway status that cannot be read: a problem, not 'changes nothing'; a demotion beside it is said as a demotion", () => {
    const errors = [
      {
        kind: "gateways",
        message: "The gateway status could not be read, so gateway:WAN_GW keeps its counted state and nothing is promoted: ...",
      },
    ];
    expect(dryRunFinding({ ...evaluation("none", [service("a", "pass")]), errors })).toMatchObject({
      status: "problem",
      detail: `cannot judge every check: ${errors[0]!.message}`,
    });
    expect(dryRunFinding({ ...evaluation("demote", [service("a", "fail")]), errors }).detail).toStartWith("starting now would DEMOTE");
  });

  test("all passing: nothing changes; our bit set: it would promote", () => {
    expect(dryRunFinding(evaluation("none", [service("a", "pass")]))).toMatchObject({
      status: "ok",
      detail: "starting now changes nothing: the 1 check passes",
    });
    expect(dryRunFinding(evaluation("promote", [service("a", "pass"), service("b", "pass")]))).toMatchObject({
      status: "info",
      detail: "starting now would PROMOTE this node: all 2 checks pass and our 2^20 is set",
    });
  });

  test("the maintenance switch on: said as a warning (turned on on purpose, install does not refuse for it), not as a failing check", () => {
    const maintenance = { reason: "FRR upgrade", since: "2026-12-06T08:00:00.000Z" };
    const demote = { ...evaluation("demote", [service("a", "pass")]), maintenance };
    expect(dryRunFinding(demote)).toMatchObject({
      status: "warn",
      detail:
        "maintenance is on (since 2026-12-06T08:00:00.000Z: FRR upgrade): starting now DEMOTES this node until carp-service-status maintenance off",
      fix: "carp-service-status maintenance off, when the work is done",
    });
    expect(dryRunFinding({ ...evaluation("none", [service("a", "pass")]), maintenance, demoted: true }).detail).toContain(
      "this node stays demoted until carp-service-status maintenance off",
    );
    // A failing check still decides how it reads: the check is the problem.
    expect(dryRunFinding({ ...evaluation("demote", [service("a", "fail")]), maintenance }).status).toBe("problem");
  });

  test("our bit set, all passing, a hold-down: it would stay demoted that long, then promote", () => {
    const held = { ...evaluation("none", [service("a", "pass")]), promotionHeld: { passingSince: "x", until: "y", remainingMs: 59_001 } };
    expect(dryRunFinding(held)).toMatchObject({
      status: "info",
      detail: "starting now holds this node demoted 60 s more (promoteDelayMs), then promotes it: the 1 check passes",
    });
  });

  test('no checks at all: said plainly, a warning, not "all 0 checks pass"', () => {
    expect(dryRunFinding(evaluation("none", []))).toEqual(
      finding("dry run", "warn", `${NO_CHECKS} (no hook in "/h")`, 'put executable check scripts in "/h"'),
    );
  });

  test("no checks and our bit set: it says so before it says PROMOTE", () => {
    const f = dryRunFinding(evaluation("promote", [service("a", "skipped", { reason: "disabled in the config" })]));
    expect(f.status).toBe("warn");
    expect(f.detail).toBe(
      `${NO_CHECKS} (every hook in "/h" is skipped (1)); our 2^20 is set, and starting now would take it off (PROMOTE)`,
    );
  });

  test("a check that passed its last run but still counts as failed (rise) keeps this node demoted, and is named", () => {
    const rising = service("ospf", "pass", { counted: { state: "fail", streak: 1, needed: 3 } });
    expect(dryRunFinding(evaluation("none", [rising, service("dns", "pass")]))).toMatchObject({
      status: "warn",
      detail: "this node is demoted and stays so because: ospf (passed its last run, still counts as failed: passing 1 of 3)",
    });
    // Our bit cleared from outside meanwhile: starting now sets it again, naming why.
    expect(dryRunFinding(evaluation("demote", [rising]))).toMatchObject({
      status: "problem",
      detail: "starting now would DEMOTE this node because: ospf (passed its last run, still counts as failed: passing 1 of 3)",
    });
  });

  test("already demoted and still failing: a warning, not a new demotion", () => {
    expect(dryRunFinding(evaluation("none", [service("a", "fail")]))).toMatchObject({
      status: "warn",
      detail: "this node is demoted and stays so because: a (exit 1)",
    });
  });
});

describe("kernel", () => {
  test("preempt 0 warns that demotion will not move mastership, with the GUI setting", () => {
    const f = preemptFinding("0\n");
    expect(f.status).toBe("warn");
    expect(f.detail).toContain("net.inet.carp.preempt = 0: demotion will not move mastership");
    expect(f.fix).toContain('"Disable preempt"');
    expect(preemptFinding("1")).toMatchObject({ status: "ok" });
    expect(preemptFinding(new Error("unknown oid"))).toMatchObject({
      status: "warn",
      detail: "cannot read net.inet.carp.preempt: unknown oid",
    });
  });

  test("the demotion decoded: our bit, the kernel's 240s, and the fix of a value that cannot be right", () => {
    expect(demotionFinding(0)).toMatchObject({ status: "ok", detail: "0: nothing demotes this node" });
    expect(demotionFinding(BIT + 480)).toMatchObject({ status: "info" });
    expect(demotionFinding(BIT + 480).detail).toContain("our bit (2^20: a service check failed) + 480 = 2 x 240 from the kernel");
    expect(demotionFinding(2 * BIT)).toMatchObject({ status: "warn", fix: expect.stringContaining(`net.inet.carp.demotion=-${2 * BIT}`) });
  });

  test("an unreadable demotion oid is a problem saying how to fix it", () => {
    expect(sysctlFinding(new Error("sysctl: unknown oid"))).toMatchObject({
      status: "problem",
      fix: expect.stringContaining("kldload carp"),
    });
    expect(sysctlFinding(240)).toEqual(finding("sysctl", "ok", "net.inet.carp.demotion = 240"));
  });

  test("simulated values say so: information without CARP, a warning on a node with it", () => {
    const off = { file: "/tmp/sim/demotion", onCarpNode: false };
    expect(sysctlFinding(0, off)).toEqual(
      finding(
        "sysctl",
        "info",
        'net.inet.carp.demotion = 0, simulated in "/tmp/sim/demotion": not a kernel\'s value (no CARP on this machine)',
      ),
    );
    expect(preemptFinding("1\n", off)).toEqual(
      finding("preempt", "info", "net.inet.carp.preempt = 1, simulated: not a kernel's value (no CARP on this machine)"),
    );
    const on = { ...off, onCarpNode: true };
    expect(sysctlFinding(0, on)).toMatchObject({ status: "warn", fix: 'remove sysctl = "simulated" from the config' });
    expect(sysctlFinding(0, on).detail).toContain("the daemon would demote nothing real");
    expect(preemptFinding("1", on)).toMatchObject({ status: "warn", fix: 'remove sysctl = "simulated" from the config' });
  });
});

describe("hooks", () => {
  test("the exact fix is taken from script security's reason", () => {
    expect(fixOf('"/h/x" is writable by others (mode 0777); fix: chmod o-w "/h/x"')).toBe('chmod o-w "/h/x"');
    expect(fixOf('"/h" is owned by uid 1000, not root; fix: chown root "/h"')).toBe('chown root "/h"');
    expect(fixOf('cannot check "/h/x": EACCES')).toBeNull();
  });

  test("hooks refused for the same reason share one line; a missing directory is a warning", () => {
    const reason = 'refused by script security: "/h" is writable by others (mode 0777); fix: chmod o-w "/h"';
    const findings = hooksFindings(
      {
        hooks: [],
        notRun: [
          { name: "a", status: "fail", reason },
          { name: "b", status: "fail", reason },
          { name: "dir", status: "skipped", reason: "directory" },
        ],
        warnings: [],
      },
      { hooksDir: "/h", scriptSecurity: true },
    );
    expect(findings).toEqual([finding("hooks", "problem", `a, b: ${reason}`, 'chmod o-w "/h"')]);
    const missing = hooksFindings(
      { hooks: [], notRun: [], warnings: ['Hooks directory "/h" does not exist'] },
      { hooksDir: "/h", scriptSecurity: true },
    );
    expect(missing).toEqual([finding("hooks", "warn", 'Hooks directory "/h" does not exist')]);
  });

  test("hooks refused for their interpreter share its line and fix; their names are shown escaped", () => {
    const reason =
      'refused by script security: its interpreter "/w/interp" (#! line): "/w" is writable by others (mode 0777); fix: chmod o-w "/w"';
    const findings = hooksFindings(
      {
        hooks: [],
        notRun: [
          { name: "a\\nb", status: "fail", reason },
          { name: "a\nb", status: "fail", reason },
        ],
        warnings: [],
      },
      { hooksDir: "/h", scriptSecurity: true },
    );
    expect(findings).toEqual([finding("hooks", "problem", `a\\\\nb, a\\nb: ${reason}`, 'chmod o-w "/w"')]);
  });

  test("notify scripts: each refusal a problem with its fix, else how many there are", () => {
    const reason =
      'refused by script security: its interpreter "/w/interp" (#! line): "/w" is writable by others (mode 0777); fix: chmod o-w "/w"';
    const refused = notifyFindings({ hooks: [], notRun: [{ name: "mail", status: "fail", reason }], warnings: [] }, "/n");
    expect(refused).toEqual([finding("notify scripts", "problem", `mail: ${reason}`, 'chmod o-w "/w"')]);
    const fine = notifyFindings({ hooks: [{ name: "mail", path: "/n/mail", vetted: null }], notRun: [], warnings: [] }, "/n");
    expect(fine).toEqual([finding("notify scripts", "ok", '1 script in "/n", none refused')]);
  });

  test("script security turned off is a warning", () => {
    const findings = hooksFindings({ hooks: [], notRun: [], warnings: [] }, { hooksDir: "/h", scriptSecurity: false });
    expect(findings).toEqual([
      finding("hooks", "warn", "scriptSecurity = false: hooks that anyone can change run as root", "set scriptSecurity = true"),
    ]);
  });
});

describe("daemon", () => {
  const status = { version: "0.1.0", pid: 42, uptimeMs: 61_000 } as DaemonStatus;

  test("running this executable's version: ok; another version: restart it", () => {
    expect(daemonFinding(status, "0.1.0")).toEqual(finding("daemon", "ok", "running (pid 42, version 0.1.0, up 61 s)"));
    expect(daemonFinding(status, "0.2.0")).toMatchObject({ status: "warn", fix: "service carp_service_status restart" });
  });

  test("not running, or speaking another protocol: a warning with the command", () => {
    expect(daemonFinding(new DaemonUnreachable('No daemon answers at "/s" (ENOENT)'))).toMatchObject({
      status: "warn",
      fix: "service carp_service_status start",
    });
    expect(daemonFinding(new DaemonIncompatible("speaks protocol 0"))).toMatchObject({
      status: "warn",
      fix: "service carp_service_status restart",
    });
  });
});

test("an invalid config is a problem that names the file", () => {
  const f = configFinding({ ok: false, file: "/c.toml", error: 'Invalid config "/c.toml":\n✖ bad' });
  expect(f).toMatchObject({ status: "problem", fix: 'fix the keys named, then: carp-service-status config --config "/c.toml"' });
});

describe("judging and showing the findings", () => {
  const ok = finding("a", "ok", "fine");
  const info = finding("b", "info", "so");
  const warn = finding("c", "warn", "hm", "do this");
  const problem = finding("d", "problem", "bad", "do that");
  const skipped = finding("e", "skipped", "not checked");

  test("exit status: 0 all good, 1 warnings (or skipped checks), 2 problems", () => {
    const cases: [Finding[], 0 | 1 | 2][] = [
      [[ok, info], 0],
      [[ok, warn], 1],
      [[ok, skipped], 1],
      [[warn, problem], 2],
    ];
    for (const [findings, code] of cases) expect(doctorExitCode(findings)).toBe(code);
  });

  test("the summary counts what needs a look", () => {
    expect(summarize([ok, info])).toBe("All 2 checks passed");
    expect(summarize([ok, warn, problem, problem, skipped])).toBe("2 problems, 1 warning, 1 check skipped");
  });

  test("the table puts each fix under its finding", () => {
    expect(formatFindings([ok, warn]).split("\n")).toEqual([
      "CHECK  RESULT  DETAIL",
      "a      ok      fine",
      "c      WARN    hm",
      "               fix: do this",
      "",
      "1 warning",
    ]);
  });
});
