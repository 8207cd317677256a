import { expect, test } from "bun:test";
import { join } from "node:path";
import { FIXTURES } from "./helpers.ts";

const FIXTURE = join(FIXTURES, "tools", "needs-missing-tool.fixture.ts");

async function runFixture(ci: boolean): Promise<{ exitCode: number; output: string }> {
  const env: Record<string, string | undefined> = { ...process.env, CI: ci ? "true" : undefined };
  const proc = Bun.spawn([process.execPath, "test", FIXTURE], { env, stdout: "pipe", stderr: "pipe" });
  const output = (await new Response(proc.stdout).text()) + (await new Response(proc.stderr).text());
  return { exitCode: await proc.exited, output };
}

test("under CI a missing tool is a failing test that names its Debian package", async () => {
  const { exitCode, output } = await runFixture(true);
  expect(exitCode).not.toBe(0);
  expect(output).toContain("carp-no-such-tool is missing: apt-get install carp-no-such-package");
  expect(output).toMatch(/^ *1 fail$/m);
});

test("on a developer's machine the test that needs it skips", async () => {
  const { exitCode, output } = await runFixture(false);
  expect(exitCode).toBe(0);
  expect(output).toMatch(/^ *1 skip$/m);
});
