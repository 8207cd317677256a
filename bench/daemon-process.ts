/** Starts a daemon for a bench and waits until its socket answers GET /status. */
export async function startDaemon(argv: string[], socket: string, env?: Record<string, string>) {
  const proc = Bun.spawn(argv, { stdout: "ignore", stderr: "ignore", env: { ...process.env, ...env } });
  for (let i = 0; i < 500; i++) {
    try {
      await (await fetch("http://localhost/status", { unix: socket })).json();
      return proc;
    } catch {
      await Bun.sleep(10);
    }
  }
  throw new Error(`daemon on ${socket} did not start`);
}
