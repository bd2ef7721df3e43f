// The two locks that let a volume serve many requests at once (README.md, "Concurrency"):
//   Gate        requests pass together (shared); close() and checkpoint() wait for them to
//               finish and hold the next ones back (exclusive). Write-backs and the checkpoints
//               of pauses and long journal rounds pass beside requests and take neither.
//   SectorLocks a change holds its run of sectors from its read-modify-write to its journal
//               append, so changes to one sector are sealed, numbered and journaled in order.
// Both are first come, first served: a shared entrant queues behind a waiting exclusive one, and
// a sector lock waits only for earlier overlapping holders.

type Waiter = { exclusive: boolean; admit: () => void };

export class Gate {
  #shared = 0;
  #exclusive = false;
  readonly #queue: Waiter[] = [];

  async shared<T>(work: () => Promise<T>): Promise<T> {
    await this.#enter(false);
    try {
      return await work();
    } finally {
      this.#shared--;
      this.#admit();
    }
  }

  async exclusive<T>(work: () => Promise<T>): Promise<T> {
    await this.#enter(true);
    try {
      return await work();
    } finally {
      this.#exclusive = false;
      this.#admit();
    }
  }

  #enter(exclusive: boolean): Promise<void> {
    return new Promise((admit) => {
      this.#queue.push({ exclusive, admit });
      this.#admit();
    });
  }

  #admit(): void {
    while (!this.#exclusive && this.#queue.length > 0) {
      const next = this.#queue[0]!;
      if (next.exclusive && this.#shared > 0) return;
      this.#queue.shift();
      if (next.exclusive) this.#exclusive = true;
      else this.#shared++;
      next.admit();
    }
  }
}

interface Held {
  first: number;
  end: number;
  released: Promise<void>;
}

export class SectorLocks {
  readonly #held = new Set<Held>();

  /** Waits for every earlier holder of an overlapping run, holds [first, first + count) and returns its release. */
  async acquire(first: number, count: number): Promise<() => void> {
    const end = first + count;
    const earlier = [...this.#held].filter((h) => h.first < end && first < h.end).map((h) => h.released);
    let release!: () => void;
    const held: Held = { first, end, released: new Promise((resolve) => (release = resolve)) };
    this.#held.add(held);
    await Promise.all(earlier);
    return () => {
      this.#held.delete(held);
      release();
    };
  }
}
