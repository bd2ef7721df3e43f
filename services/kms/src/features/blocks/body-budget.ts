// How many bytes of block bodies the service's streams may hold at once, together: a frame's body
// is counted from when its stream starts reading it until its answer has left for the socket.
// A stream that finds no room stops reading (TCP holds its adapter back) and is woken when
// another gives bytes back. One stream can always hold one frame, so each makes progress however
// full the budget is; the budget can be passed by at most one frame per stream.

export class BodyBudget {
  #used = 0;
  readonly #waiting = new Set<() => void>();

  constructor(readonly limit: number) {}

  /** Bytes held now. */
  get used(): number {
    return this.#used;
  }

  /** Takes `bytes` if they fit (or `always`); false otherwise, and `wake` is called once some are given back. */
  take(bytes: number, always: boolean, wake: () => void): boolean {
    if (!always && this.#used + bytes > this.limit) {
      this.#waiting.add(wake);
      return false;
    }
    this.#waiting.delete(wake);
    this.#used += bytes;
    return true;
  }

  give(bytes: number): void {
    this.#used -= bytes;
    const waiting = [...this.#waiting];
    this.#waiting.clear();
    for (const wake of waiting) wake();
  }

  /** A stream that closes stops waiting. */
  forget(wake: () => void): void {
    this.#waiting.delete(wake);
  }
}
