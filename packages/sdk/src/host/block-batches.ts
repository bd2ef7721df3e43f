// The queue between a block session's operations and its connections. At most `connections`
// requests are in flight, and past the first two only while less than SMALL_IN_FLIGHT_BYTES of
// sectors are: the others wait here, and while they wait, batches of the same operation on
// consecutive sectors are merged into one request (up to maxSectorBytes). So a hypervisor's
// sequential I/O — many adjacent 256 KiB requests at once — costs the data plane a few large
// requests instead of many small ones (two in flight keep both ends busy: one is sealed and sent
// while the other runs), and small random I/O, which cannot merge, still gets every slot. A merged request's body is its batches' parts in the op's
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

/** Requests that may always be in flight (below `connections`), whatever their size. */
export const ALWAYS_IN_FLIGHT = 2;
/** More start only while the sectors in flight are fewer than this. */
export const SMALL_IN_FLIGHT_BYTES = 512 * 1024;

export class BatchQueue {
  readonly #waiting: Waiting[] = [];
  #inFlight = 0;
  #bytesInFlight = 0;

  constructor(
    private readonly send: SendBatch,
    private readonly connections: number,
    private readonly maxSectorBytes: number,
  ) {}

  run(batch: Batch): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#waiting.push({ ...batch, alone: false, resolve, reject });
      this.#pump();
    });
  }

  #pump(): void {
    while (this.#waiting.length > 0 && this.#inFlight < this.connections && (this.#inFlight < ALWAYS_IN_FLIGHT || this.#bytesInFlight < SMALL_IN_FLIGHT_BYTES)) {
      const group = this.#take();
      const bytes = group.reduce((n, b) => n + b.data.length, 0);
      this.#inFlight++;
      this.#bytesInFlight += bytes;
      void this.#sendGroup(group).finally(() => {
        this.#inFlight--;
        this.#bytesInFlight -= bytes;
        this.#pump();
      });
    }
  }

  /** The first waiting batch, and every waiting batch that continues it (same op, next LBA), while they fit. */
  #take(): Waiting[] {
    const head = this.#waiting.shift()!;
    const group = [head];
    if (head.alone) return group;
    let end = head.lba + BigInt(head.sectors);
    let bytes = head.data.length;
    for (;;) {
      const next = this.#waiting.findIndex((b) => !b.alone && b.op === head.op && b.lba === end && bytes + b.data.length <= this.maxSectorBytes);
      if (next < 0) return group;
      const [b] = this.#waiting.splice(next, 1);
      group.push(b!);
      end += BigInt(b!.sectors);
      bytes += b!.data.length;
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
        else this.#waiting.unshift({ ...b, alone: true });
      }
      return;
    }
    for (const b of group) b.resolve();
  }
}
