/** A command's one positional argument (`configd evaluate|status|...`): checked against its choices. */
import { expect, test } from "bun:test";
import { runCli } from "../helpers.ts";

test("configd needs its action, and names the choices when it is missing or unknown", async () => {
  const missing = await runCli(["configd"]);
  expect(missing.exitCode).toBe(2);
  expect(missing.stderr).toBe(
    'carp-service-status: Missing action: give "evaluate" or "status" or "maintenance-on" or "maintenance-off"; run carp-service-status configd --help\n',
  );
  const unknown = await runCli(["configd", "restart"]);
  expect(unknown.stderr).toContain('Unknown action "restart": give "evaluate" or "status" or "maintenance-on" or "maintenance-off"');
  const extra = await runCli(["configd", "status", "now"]);
  expect(extra.stderr).toContain('Unexpected argument "now"');
});

test("a command without an argument still refuses one", async () => {
  const { exitCode, stderr } = await runCli(["status", "now"]);
  expect(exitCode).toBe(2);
  expect(stderr).toContain("now");
});

test("help shows the choices", async () => {
  const { stdout, exitCode } = await runCli(["configd", "--help"]);
  expect(exitCode).toBe(0);
  expect(stdout).toStartWith("Usage: carp-service-status configd evaluate|status|maintenance-on|maintenance-off [OPTIONS]\n");
  const maintenance = await runCli(["maintenance", "--help"]);
  expect(maintenance.stdout).toStartWith("Usage: carp-service-status maintenance on|off|status [OPTIONS]\n");
  expect((await runCli(["maintenance", "sideways"])).stderr).toContain('Unknown state "sideways": give "on" or "off" or "status"');
});
