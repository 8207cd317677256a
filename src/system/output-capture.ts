/**
 * Keeps a hook's output within `limitBytes`: the first half (where the table's first line comes
 * from) and the last half (where scripts usually say what went wrong), and counts what lies
 * between. Bun's `maxBuffer` kills the child when exceeded instead of truncating, and an unread
 * pipe buffers without limit, so the runner reads everything itself and keeps only this much.
 */
export class OutputCapture {
  readonly #headLimit: number;
  readonly #tailLimit: number;
  readonly #head: Uint8Array[] = [];
  #headBytes = 0;
  #tail: Uint8Array[] = [];
  #tailBytes = 0;
  #droppedBytes = 0;

  constructor(limitBytes: number) {
    this.#headLimit = Math.ceil(limitBytes / 2);
    this.#tailLimit = limitBytes - this.#headLimit;
  }

  /** Appends a chunk; what falls between the head and the tail is counted, not stored. */
  push(chunk: Uint8Array): void {
    const room = this.#headLimit - this.#headBytes;
    if (room > 0) {
      // Copy: the stream may reuse its buffer.
      const kept = chunk.slice(0, room);
      this.#head.push(kept);
      this.#headBytes += kept.length;
      chunk = chunk.subarray(kept.length);
    }
    if (chunk.length === 0) return;
    this.#tail.push(chunk.slice(Math.max(0, chunk.length - this.#tailLimit)));
    this.#tailBytes += Math.min(chunk.length, this.#tailLimit);
    this.#droppedBytes += Math.max(0, chunk.length - this.#tailLimit);
    while (this.#tailBytes > this.#tailLimit) {
      const excess = this.#tailBytes - this.#tailLimit;
      const first = this.#tail[0]!;
      if (first.length <= excess) {
        this.#tail.shift();
        this.#tailBytes -= first.length;
        this.#droppedBytes += first.length;
      } else {
        this.#tail[0] = first.subarray(excess);
        this.#tailBytes -= excess;
        this.#droppedBytes += excess;
      }
    }
  }

  /** Bytes read but not kept. */
  get droppedBytes(): number {
    return this.#droppedBytes;
  }

  /**
   * The kept output as text, with a marker where bytes were dropped (invalid UTF-8, such as a
   * multi-byte character cut at the edge, becomes U+FFFD).
   */
  text(): string {
    const decode = (chunks: Uint8Array[]) => new TextDecoder().decode(Buffer.concat(chunks));
    if (this.#droppedBytes === 0) return decode([...this.#head, ...this.#tail]);
    return `${decode(this.#head)}\n[… ${this.#droppedBytes} bytes dropped …]\n${decode(this.#tail)}`;
  }
}
