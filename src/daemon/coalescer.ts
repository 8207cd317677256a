/**
 * One evaluation at a time. A request arriving while one runs is answered by the next
 * evaluation that starts after it arrived; any number of them share that one follow-up.
 */
export class Coalescer<T> {
  readonly #run: () => Promise<T>;
  #current: Promise<T> | null = null;
  #next: Promise<T> | null = null;

  constructor(run: () => Promise<T>) {
    this.#run = run;
  }

  /** Whether an evaluation is running now. */
  get busy(): boolean {
    return this.#current !== null;
  }

  /** The result of the next evaluation that starts after this call. */
  request(): Promise<T> {
    if (this.#next !== null) return this.#next;
    if (this.#current === null) return this.#start();
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
    return this.#start();
  }

  #start(): Promise<T> {
    const running = this.#run();
    this.#current = running;
    const clear = () => {
      if (this.#current === running) this.#current = null;
    };
    running.then(clear, clear);
    return running;
  }
}
