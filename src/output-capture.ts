/**
 * Keeps the first `limitBytes` of a hook's output and counts the rest. Bun's `maxBuffer` kills
 * the child when exceeded instead of truncating, and an unread pipe buffers without limit, so
 * the runner reads everything itself and keeps only this much.
 */
export class OutputCapture {
  readonly #limitBytes: number;
  readonly #chunks: Uint8Array[] = [];
  #keptBytes = 0;
  #droppedBytes = 0;

  constructor(limitBytes: number) {
    this.#limitBytes = limitBytes;
  }

  /** Appends a chunk; whatever is past the limit is counted, not stored. */
  push(chunk: Uint8Array): void {
    const room = this.#limitBytes - this.#keptBytes;
    if (room > 0) {
      const kept = chunk.length <= room ? chunk : chunk.subarray(0, room);
      // Copy: the stream may reuse its buffer.
      this.#chunks.push(kept.slice());
      this.#keptBytes += kept.length;
    }
    this.#droppedBytes += Math.max(0, chunk.length - Math.max(room, 0));
  }

  /** Bytes read but not kept. */
  get droppedBytes(): number {
    return this.#droppedBytes;
  }

  /** The kept output as text (invalid UTF-8, e.g. a cut multi-byte character, becomes U+FFFD). */
  text(): string {
    return new TextDecoder().decode(Buffer.concat(this.#chunks));
  }
}
