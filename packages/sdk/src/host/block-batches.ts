// The queue between a block session's operations and its connections. At most `connections`
// requests are in flight; the others wait here, and while they wait, batches of the same
// operation on consecutive sectors are merged into one request (up to maxSectorBytes). Past two
// in flight, a batch that continues another (the same op, from the LBA where one in flight or
// waiting ends) waits even when a connection is free, so that those behind it can join it: a
// hypervisor's sequential I/O — many adjacent 256 KiB requests at once — then costs the data
// plane a few large requests instead of many small ones (two in flight keep both ends busy: one
// is sealed and sent while the other runs), and random I/O, which cannot merge, gets every
// connection. A merged request's body is its batches' parts in the op's
// layout (all generations, then all sectors, then all tags) and its answer fills their sinks in
// the same order: nothing is copied.
//
// If a merged verify or verify-decrypt request fails its integrity check, each batch gets only its
// own failing LBAs; batches with none are resolved (verify) or sent again on their own
// (verify-decrypt: nothing of the failed request was decrypted).

import type { BlockOp } from '@sealkeep/crypto';
import { IntegrityError } from './block-errors.js';

export type { BlockOp };

/** One run of whole sectors for one op: its inputs, and where its answer goes. */
export interface Batch {
  op: BlockOp;
  lba: bigint;
  sectors: number;
  /** 8 bytes per sector, big-endian (ops that take generations). */
  gens: Buffer | null;
  /** The sectors (plaintext or ciphertext). */
  data: Buffer;
  /** 32 bytes per sector (verify, verify-decrypt). */
  tags: Buffer | null;
  /** Where the answer's sectors go (encrypt, decrypt, encrypt-sign, verify-decrypt). */
  out: Buffer | null;
  /** Where the answer's tags go (encrypt-sign, sign). */
  tagsOut: Buffer | null;
}

interface Waiting extends Batch {
  alone: boolean;
  resolve(): void;
  reject(e: unknown): void;
}

/** Sends one request: the op at `lba`, its body parts, and the sinks its answer fills. */
export type SendBatch = (op: BlockOp, lba: bigint, parts: Buffer[], sinks: Buffer[]) => Promise<void>;

const present = (b: Buffer | null): b is Buffer => b !== null && b.length > 0;

/** Requests in flight before a batch that continues another waits to be merged. */
const ALWAYS_IN_FLIGHT = 2;

/** Where a run ends, for an op: the LBA a batch that continues it starts at. */
const endKey = (op: BlockOp, lba: bigint) => `${op} ${lba}`;

export class BatchQueue {
  readonly #waiting: Waiting[] = [];
  #inFlight = 0;
  /** The ends of the requests in flight and of the batches waiting (a count per end). */
  readonly #ends = new Map<string, number>();

  constructor(
    private readonly send: SendBatch,
    private readonly connections: number,
    private readonly maxSectorBytes: number,
  ) {}

  run(batch: Batch): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#wait({ ...batch, alone: false, resolve, reject });
      this.#pump();
    });
  }

  #wait(batch: Waiting, first = false): void {
    if (first) this.#waiting.unshift(batch);
    else this.#waiting.push(batch);
    this.#count(endKey(batch.op, batch.lba + BigInt(batch.sectors)), 1);
  }

  #count(key: string, by: 1 | -1): void {
    const n = (this.#ends.get(key) ?? 0) + by;
    if (n > 0) this.#ends.set(key, n);
    else this.#ends.delete(key);
  }

  /** Whether a batch could join a run in flight or waiting, if it waited. */
  #continuesAnother(b: Waiting): boolean {
    return !b.alone && this.#ends.has(endKey(b.op, b.lba));
  }

  #pump(): void {
    while (this.#inFlight < this.connections) {
      const next = this.#inFlight < ALWAYS_IN_FLIGHT ? (this.#waiting.length > 0 ? 0 : -1) : this.#waiting.findIndex((b) => !this.#continuesAnother(b));
      if (next < 0) return;
      const group = this.#take(next);
      const last = group.at(-1)!;
      const end = endKey(last.op, last.lba + BigInt(last.sectors));
      this.#inFlight++;
      this.#count(end, 1);
      void this.#sendGroup(group).finally(() => {
        this.#inFlight--;
        this.#count(end, -1);
        this.#pump();
      });
    }
  }

  /** The waiting batch at `index`, and every waiting batch that continues it (same op, next LBA), while they fit; none of them waiting any more. */
  #take(index: number): Waiting[] {
    const head = this.#waiting.splice(index, 1)[0]!;
    const group = [head];
    let bytes = 0;
    for (let last = head; ; ) {
      const end = last.lba + BigInt(last.sectors);
      this.#count(endKey(last.op, end), -1);
      bytes += last.data.length;
      if (head.alone) return group;
      const next = this.#waiting.findIndex((b) => !b.alone && b.op === head.op && b.lba === end && bytes + b.data.length <= this.maxSectorBytes);
      if (next < 0) return group;
      last = this.#waiting.splice(next, 1)[0]!;
      group.push(last);
    }
  }

  async #sendGroup(group: Waiting[]): Promise<void> {
    const { op, lba } = group[0]!;
    const parts = [...group.map((b) => b.gens), ...group.map((b) => b.data), ...group.map((b) => b.tags)].filter(present);
    const sinks = [...group.map((b) => b.out), ...group.map((b) => b.tagsOut)].filter(present);
    try {
      await this.send(op, lba, parts, sinks);
    } catch (error) {
      if (!(error instanceof IntegrityError) || group.length === 1) return group.forEach((b) => b.reject(error));
      for (const b of group) {
        const own = error.lbas.filter((l) => l >= b.lba && l < b.lba + BigInt(b.sectors));
        if (own.length > 0) b.reject(error.narrowed(own));
        else if (op === 'verify') b.resolve();
        else this.#wait({ ...b, alone: true }, true);
      }
      return;
    }
    for (const b of group) b.resolve();
  }
}
