/**
 * One evaluation at a time. A request arriving while one runs is answered by the next
 * evaluation that starts after it arrived; any number of them share that one follow-up, which
 * reruns every check (`all`) when any of them asked it to.
 */
export class Coalescer<T> {
  readonly #run: (all: boolean) => Promise<T>;
  #current: Promise<T> | null = null;
  #next: Promise<T> | null = null;
  /** Whether the follow-up waiting to start was asked to rerun every check. */
  #nextAll = false;

  constructor(run: (all: boolean) => Promise<T>) {
    this.#run = run;
  }

  /** Whether an evaluation is running now. */
  get busy(): boolean {
    return this.#current !== null;
  }

  /** The result of the next evaluation that starts after this call; `all`: it reruns every check (`--all`). */
  request(all = false): Promise<T> {
    if (this.#next !== null) {
      this.#nextAll ||= all;
      return this.#next;
    }
    if (this.#current === null) return this.#start(all);
    this.#nextAll = all;
    this.#next = this.#current.then(
      () => this.#startNext(),
      () => this.#startNext(),
    );
    return this.#next;
  }

  /** Settles when nothing runs or waits to run. */
  async idle(): Promise<void> {
    while (this.#current || this.#next) await (this.#next ?? this.#current)!.catch(() => {});
  }

  #startNext(): Promise<T> {
    this.#next = null;
    const all = this.#nextAll;
    this.#nextAll = false;
    return this.#start(all);
  }

  #start(all: boolean): Promise<T> {
    const running = this.#run(all);
    this.#current = running;
    const clear = () => {
      if (this.#current === running) this.#current = null;
    };
    running.then(clear, clear);
    return running;
  }
}
