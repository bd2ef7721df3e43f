// How many bytes of binary bodies (the data plane's batches of sectors) the service holds at once,
// in one budget (the block streams have one, binary request bodies another: binary-body.ts): a
// body is counted from when it starts to be read until its answer has left. Who finds no room does not read on (TCP holds its sender back)
// and is woken when bytes come back. Whoever holds nothing else (a stream with no frame in flight)
// may always take one body, so none starves; the limit can be passed by one body per such holder.

import type { EventEmitter } from 'node:events';

export class BodyBudget {
  #used = 0;
  readonly #waiting = new Set<() => void>();

  constructor(readonly limit: number) {}

  /** Bytes held now. */
  get used(): number {
    return this.#used;
  }

  /** Takes `bytes` if they fit (or `always`); false if not — then `wake`, if given, is called once some come back. */
  take(bytes: number, always: boolean, wake?: () => void): boolean {
    if (!always && this.#used + bytes > this.limit) {
      if (wake) this.#waiting.add(wake);
      return false;
    }
    if (wake) this.#waiting.delete(wake);
    this.#used += bytes;
    return true;
  }

  /** Takes `bytes` once they fit (at once when nothing is held); rejects if `abandoned` fires first. */
  async acquire(bytes: number, abandoned: EventEmitter): Promise<void> {
    for (;;) {
      let wake!: () => void;
      const woken = new Promise<void>((resolve) => (wake = resolve));
      if (this.take(bytes, this.#used === 0, wake)) return;
      let gone!: () => void;
      const closed = new Promise<'closed'>((resolve) => (gone = () => resolve('closed')));
      abandoned.once('close', gone);
      const outcome = await Promise.race([woken, closed]);
      abandoned.removeListener('close', gone);
      if (outcome === 'closed') {
        this.#waiting.delete(wake);
        throw new Error('abandoned while waiting for room');
      }
    }
  }

  give(bytes: number): void {
    this.#used -= bytes;
    const waiting = [...this.#waiting];
    this.#waiting.clear();
    for (const wake of waiting) wake();
  }

  /** One that stops waiting (a stream that closes). */
  forget(wake: () => void): void {
    this.#waiting.delete(wake);
  }
}
