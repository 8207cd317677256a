/**
 * Keeps `metricsFile` up to date: one atomic write at a time, the latest text winning. A write
 * asked for while one runs replaces any write still waiting, so a burst of evaluations costs at
 * most two writes and the file never goes back to older content. A failed write is logged once
 * (and once more when writing works again), never thrown: metrics must not fail an evaluation.
 */
import { messageOf } from "../common/errors.ts";
import { writeFileAtomic } from "../system/atomic-file.ts";
import type { Logger } from "../system/log.ts";

/** How a write is done; tests replace it to make writes slow or failing. */
export type WriteFile = (path: string, text: string) => Promise<void>;

/**
 * Why a write failed, in the admin's terms, naming the file and the fix. Errno messages name the
 * temporary file, which changes at every write; these do not, so a lasting failure reads the same.
 */
export function describeWriteFailure(path: string, error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  const reasons: Record<string, string> = {
    ENOENT:
      "its directory does not exist; create it (node_exporter's textfile directory, e.g. /var/tmp/node_exporter) or unset metricsFile",
    EACCES: "permission denied; let the daemon's user write to its directory, or unset metricsFile",
    EPERM: "permission denied; let the daemon's user write to its directory, or unset metricsFile",
    ENOTDIR: "a component of its directory is not a directory; fix metricsFile",
    EROFS: "read-only file system; choose another metricsFile",
    ENOSPC: "no space left on device",
  };
  return `Cannot write metrics file "${path}": ${(code && reasons[code]) ?? messageOf(error)}`;
}

export class MetricsFile {
  readonly #log: Logger;
  readonly #write: WriteFile;
  #waiting: { path: string; text: string } | null = null;
  #running: Promise<void> | null = null;
  /** The failure last logged, so a file that cannot be written is said once, not every 10 s. */
  #failure: string | null = null;

  constructor(log: Logger, write: WriteFile = writeFileAtomic) {
    this.#log = log;
    this.#write = write;
  }

  /** Asks for `text` to be written to `path`; returns at once. */
  update(path: string, text: string): void {
    this.#waiting = { path, text };
    this.#running ??= this.#drain();
  }

  /** Settles once every write asked for so far is done (tests, and a stopping daemon). */
  async idle(): Promise<void> {
    while (this.#running !== null) await this.#running;
  }

  async #drain(): Promise<void> {
    // Settle `#running` first, even when a write fails synchronously.
    await Promise.resolve();
    for (let next = this.#waiting; next !== null; next = this.#waiting) {
      this.#waiting = null;
      try {
        await this.#write(next.path, next.text);
        if (this.#failure !== null) this.#log.info({ metricsFile: next.path }, "metrics file written again");
        this.#failure = null;
      } catch (error) {
        const message = describeWriteFailure(next.path, error);
        if (message !== this.#failure) this.#log.error({ metricsFile: next.path }, message);
        this.#failure = message;
      }
    }
    this.#running = null;
  }
}
