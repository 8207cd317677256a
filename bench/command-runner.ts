/**
 * Runs and times the commands bench/stock-php.ts sends it, one JSON line each on stdin, answering
 * one JSON line each on stdout. It is started once, inside the stock script's mount namespace (or
 * outside it where that cannot be had), so that the stock PHP script and ours are spawned and
 * timed by the same process in the same way, and setting up the namespace costs neither of them.
 */
import type { RunReply, RunRequest } from "./stock-php.ts";

async function runOne({ argv, capture, env }: RunRequest): Promise<RunReply> {
  const started = performance.now();
  const proc = Bun.spawn(argv, {
    stdin: "ignore",
    stdout: capture ? "pipe" : "ignore",
    stderr: capture ? "pipe" : "ignore",
    env: env === undefined ? process.env : { ...process.env, ...env },
  });
  const [stdout, stderr, exitCode] = await Promise.all([
    capture ? new Response(proc.stdout as ReadableStream).text() : "",
    capture ? new Response(proc.stderr as ReadableStream).text() : "",
    proc.exited,
  ]);
  const ms = performance.now() - started;
  // wait4's rusage: the child's CPU time with that of every descendant it waited for (hooks, sysctl).
  const cpuMs = Number(proc.resourceUsage()?.cpuTime.total ?? Number.NaN) / 1000;
  return { ms, cpuMs, exitCode, stdout, stderr };
}

console.log(JSON.stringify({ ready: true }));
for await (const line of console) {
  if (line.trim() === "") continue;
  let reply: RunReply | { error: string };
  try {
    reply = await runOne(JSON.parse(line) as RunRequest);
  } catch (error) {
    reply = { error: error instanceof Error ? error.message : String(error) };
  }
  console.log(JSON.stringify(reply));
}
