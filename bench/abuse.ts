/**
 * The attackers of `bun run soak -- --abuse`, each a loop that keeps its connections coming until
 * stopped: clients that never read a Connection: close or HTTP/1.0 reply, a flood of idle
 * connections past the daemon's cap, slowloris (a header byte now and then), and pipelining without
 * reading. Each counts the connections it opened.
 */
import { connect } from "node:net";

export interface Attack {
  name: string;
  /** Connections opened so far. */
  opened(): number;
  stop(): void;
}

/** Bun.connect paused at once: the kernel stops taking bytes for it, so replies stay with the daemon. */
async function nonReader(socket: string, bytes: string): Promise<Bun.Socket<undefined> | null> {
  try {
    const client = await Bun.connect({ unix: socket, socket: { open: (s) => void s.pause(), data() {}, error() {} } });
    client.write(bytes);
    return client;
  } catch {
    return null; // refused: the daemon is at its cap and nothing can make room
  }
}

/**
 * Waves of `count` clients that send a request and never read, held for `holdMs` (past the write
 * deadline), then dropped and replaced.
 */
function waves(name: string, socket: string, options: { count: number; holdMs: number; request: (i: number) => string }): Attack {
  let opened = 0;
  let stopped = false;
  let clients: Array<Bun.Socket<undefined>> = [];
  void (async () => {
    while (!stopped) {
      for (let i = 0; i < options.count && !stopped; i++) {
        const client = await nonReader(socket, options.request(i));
        opened++;
        if (client) clients.push(client);
      }
      await Bun.sleep(options.holdMs);
      for (const client of clients.splice(0)) client.terminate();
    }
  })();
  return {
    name,
    opened: () => opened,
    stop() {
      stopped = true;
      for (const client of clients) client.terminate();
      clients = [];
    },
  };
}

/** Unread replies: half HTTP/1.0, half HTTP/1.1 with Connection: close, each a large /status. */
export function unreadReplies(socket: string, holdMs: number): Attack {
  return waves("unread Connection: close / HTTP/1.0 replies", socket, {
    count: 64,
    holdMs,
    request: (i) => (i % 2 === 0 ? "GET /status HTTP/1.0\r\n\r\n" : "GET /status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
  });
}

/** Pipelining without reading: a burst of requests, none of whose replies is read. */
export function pipelining(socket: string, holdMs: number): Attack {
  return waves("pipelining without reading", socket, {
    count: 16,
    holdMs,
    request: () => "GET /status HTTP/1.1\r\nHost: x\r\n\r\n".repeat(200),
  });
}

/**
 * Connections kept open, `count` at a time: each replaced `reopenMs` after the daemon closes it.
 * `onOpen` gets each connection to do what the attack does with it.
 */
function keepOpen(
  name: string,
  socket: string,
  options: { count: number; reopenMs: number; onOpen?: (client: ReturnType<typeof connect>) => () => void },
): Attack {
  let opened = 0;
  let stopped = false;
  const open = new Set<ReturnType<typeof connect>>();
  const start = () => {
    if (stopped) return;
    const client = connect({ path: socket });
    opened++;
    open.add(client);
    const stopDoing = options.onOpen?.(client) ?? (() => {});
    client.on("error", () => {});
    client.on("close", () => {
      stopDoing();
      open.delete(client);
      setTimeout(start, options.reopenMs);
    });
  };
  for (let i = 0; i < options.count; i++) start();
  return {
    name,
    opened: () => opened,
    stop() {
      stopped = true;
      for (const client of open) client.destroy();
    },
  };
}

/** Idle connections past the cap: they send nothing; each closed one comes back. */
export function idleFlood(socket: string, count: number): Attack {
  return keepOpen(`idle flood (${count} connections)`, socket, { count, reopenMs: 50 });
}

/** Slowloris: a request head that never ends, one header line a second. */
export function slowloris(socket: string, count: number): Attack {
  return keepOpen(`slowloris (${count} connections)`, socket, {
    count,
    reopenMs: 50,
    onOpen(client) {
      client.write("GET /status HTTP/1.1\r\nHost: x\r\n");
      const drip = setInterval(() => client.write("X-Slow: 1\r\n"), 1000);
      return () => clearInterval(drip);
    },
  });
}
