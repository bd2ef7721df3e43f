// How many bytes of binary bodies (the data plane's batches of sectors) the service holds at once,
// in one budget (the block streams have one, binary request bodies another: binary-body.ts): a
// body is counted from when it starts to be read until its answer has left. Who finds no room
// does not read on (TCP holds its sender back) and waits in line: bytes that come back are granted
// to those waiting, first come first served, so a flood of small bodies cannot keep a large one
// waiting for ever. Whoever holds nothing else (a stream with no frame in flight) may always take
// one body, without waiting, so none starves; the limit can be passed by one body per such holder.

import type { EventEmitter } from 'node:events';

/** A place in a budget's line: once `granted`, its bytes are held for it (leave() gives them back if unused). */
export interface BudgetTicket {
  readonly bytes: number;
  readonly granted: boolean;
}

interface Place {
  bytes: number;
  granted: boolean;
  onGrant: () => void;
}

export class BodyBudget {
  #used = 0;
  readonly #line: Place[] = [];

  constructor(readonly limit: number) {}

  /** Bytes held now (granted places included). */
  get used(): number {
    return this.#used;
  }

  /** Takes `bytes` now if no one waits and they fit, or if `always`; false if not (then queue()). */
  take(bytes: number, always: boolean): boolean {
    if (!always && (this.#line.length > 0 || this.#used + bytes > this.limit)) return false;
    this.#used += bytes;
    return true;
  }

  /** Joins the line for `bytes`; `onGrant` is called once they are held for this place. */
  queue(bytes: number, onGrant: () => void): BudgetTicket {
    const place: Place = { bytes, granted: false, onGrant };
    this.#line.push(place);
    this.#grant(); // (nothing held: the head goes at once)
    return place;
  }

  /** Leaves the line: a place not yet granted just goes; a granted one gives its bytes back. */
  leave(ticket: BudgetTicket): void {
    const at = this.#line.indexOf(ticket as Place);
    if (at >= 0) this.#line.splice(at, 1);
    if (ticket.granted) this.#used -= ticket.bytes;
    this.#grant();
  }

  /** Takes `bytes` once they fit and every place before is served (at once when nothing is held); rejects if `abandoned` closes first. */
  async acquire(bytes: number, abandoned: EventEmitter): Promise<void> {
    if (this.take(bytes, this.#used === 0)) return;
    let granted!: () => void;
    const grant = new Promise<'granted'>((resolve) => (granted = () => resolve('granted')));
    const ticket = this.queue(bytes, granted);
    let gone!: () => void;
    const closed = new Promise<'closed'>((resolve) => (gone = () => resolve('closed')));
    abandoned.once('close', gone);
    const outcome = await Promise.race([grant, closed]);
    abandoned.removeListener('close', gone);
    if (outcome === 'closed') {
      this.leave(ticket);
      throw new Error('abandoned while waiting for room');
    }
  }

  give(bytes: number): void {
    this.#used -= bytes;
    this.#grant();
  }

  /** Grants places from the head of the line while their bytes fit (or nothing is held). */
  #grant(): void {
    const granted: Place[] = [];
    for (let head = this.#line[0]; head && (this.#used === 0 || this.#used + head.bytes <= this.limit); head = this.#line[0]) {
      this.#line.shift();
      this.#used += head.bytes;
      head.granted = true;
      granted.push(head);
    }
    for (const place of granted) place.onGrant();
  }
}
