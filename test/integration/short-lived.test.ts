/**
 * A short-lived process (check, the shim's fallback) exits as soon as its work is done: nothing
 * that ran a hook or a tool leaves a timer behind to keep it alive (a pending 50 ms drain timer
 * once made up most of a cold `check`).
 */
import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO } from "../helpers.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

test("after running a process to its end, nothing keeps the event loop alive", async () => {
  const dir = mkdtempSync(join(tmpdir(), "carp-short-"));
  dirs.push(dir);
  const script = join(dir, "run.ts");
  writeFileSync(
    script,
    [
      `import { OutputCapture } from ${JSON.stringify(join(REPO, "src", "system", "output-capture.ts"))};`,
      `import { runProcess } from ${JSON.stringify(join(REPO, "src", "system", "run-process.ts"))};`,
      "const capture = new OutputCapture(1024);",
      'await runProcess(["/bin/sh", "-c", "echo done"], { stdout: capture, stderr: capture, timeoutMs: 5000, killGraceMs: 100 });',
      "console.log(Date.now());",
    ].join("\n"),
  );
  const gaps: number[] = [];
  for (let run = 0; run < 3; run++) {
    const proc = Bun.spawn([process.execPath, script], { stdout: "pipe" });
    const [stdout] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
    gaps.push(Date.now() - Number(stdout.trim()));
  }
  // The best of three, against the 50 ms a pending drain timer held the process.
  expect(Math.min(...gaps)).toBeLessThan(30);
});
