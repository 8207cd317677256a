/** hooks/examples/notify_webhook, run as the daemon runs it, posting to a webhook on the loopback. */
import { afterAll, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type NotifyEvent, notifyArgs, notifyEnv } from "../../src/daemon/notify-events.ts";
import { REPO } from "../helpers.ts";

const EXAMPLE = join(REPO, "hooks", "examples", "notify_webhook");
const dir = mkdtempSync(join(tmpdir(), "carp-webhook-"));
const posts: Array<{ contentType: string | null; body: unknown }> = [];
const server = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  fetch: async (request) => {
    posts.push({ contentType: request.headers.get("content-type"), body: await request.json() });
    return new Response("ok");
  },
});
afterAll(() => {
  server.stop(true);
  rmSync(dir, { recursive: true, force: true });
});

/** The example with WEBHOOK_URL set, as an admin would edit it. */
function configured(url: string): string {
  const path = join(dir, `notify_webhook-${posts.length}-${Math.random()}`);
  writeFileSync(path, readFileSync(EXAMPLE, "utf8").replace(/^WEBHOOK_URL=$/m, `WEBHOOK_URL=${url}`));
  chmodSync(path, 0o755);
  return path;
}

/** Runs the script; async, since the webhook answers from this process. */
async function run(script: string, event: NotifyEvent) {
  const proc = Bun.spawn([script, ...notifyArgs(event)], { env: notifyEnv(event), stderr: "pipe" });
  const [stderr, exitCode] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
  return { exitCode, stderr };
}

const context = { at: "2026-11-30T12:00:00.000Z", failed: ["dns", 'say "hi"'], demotionBefore: 240, demotionAfter: 1048816 };
const hostname = Bun.spawnSync(["hostname"]).stdout.toString().trim();

test("posts one JSON line per event, quotes in names and output escaped", async () => {
  const script = configured(`http://127.0.0.1:${server.port}/hook`);
  expect((await run(script, { kind: "demoted", ...context })).exitCode).toBe(0);
  const hook: NotifyEvent = {
    kind: "hook",
    hook: 'say "hi"',
    state: "fail",
    output: 'no "pong" \\ from 192.0.2.1',
    exitCode: 1,
    reason: "",
    ...context,
  };
  expect((await run(script, hook)).exitCode).toBe(0);
  expect(posts).toEqual([
    {
      contentType: "application/json",
      body: { text: `${hostname}: CARP demoted (services failing: dns, say "hi"); demotion 240 -> 1048816` },
    },
    { contentType: "application/json", body: { text: `${hostname}: service check say "hi" now fail: no "pong" \\ from 192.0.2.1` } },
  ]);
});

test("fails with exit 1 when the webhook does not answer, and exit 2 until WEBHOOK_URL is set", async () => {
  const closed = await run(configured("http://127.0.0.1:9/none"), { kind: "promoted", ...context });
  expect(closed.exitCode).toBe(1);
  expect(closed.stderr).toContain("POST to http://127.0.0.1:9/none failed");
  const unset = Bun.spawnSync([EXAMPLE, "demoted"], { env: notifyEnv({ kind: "demoted", ...context }) });
  expect(unset.exitCode).toBe(2);
  expect(unset.stderr.toString()).toBe("set WEBHOOK_URL in this script\n");
});
