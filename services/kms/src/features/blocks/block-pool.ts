// The block workers: one thread per core (os.availableParallelism()), each holding every open
// volume's keys, so a batch runs on whichever thread has the fewest waiting. The request body is
// moved to the worker, not copied, when it owns its memory (a body the listener's pool lent owns
// its ArrayBuffer and the room after it, where an answer larger than its request is written in
// place). Keys cross to each worker once per opened session and are wiped here as soon as they
// are sent.

import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { BlockOp } from './block-ops.js';
import type { WorkerMessage, WorkerReply } from './block-worker.js';
import type { PendingMac } from './session-auth.js';
import { binaryBodies } from '../../http/binary-body.js';

export type PoolResult = { ok: true; data: Buffer; macOk: boolean } | { ok: false; failedLbas: bigint[]; macOk: true } | { ok: false; failedLbas: []; macOk: false };

interface Thread {
  worker: Worker;
  waiting: number;
}

const FROM_SOURCE = import.meta.url.endsWith('.ts');
const WORKER_URL = new URL(`./block-worker${FROM_SOURCE ? '.ts' : '.js'}`, import.meta.url);

/** Built, the worker is plain JavaScript; run from source (tests, npm start), it loads through tsx. */
function startWorker(): Worker {
  if (!FROM_SOURCE) return new Worker(WORKER_URL);
  const tsx = import.meta.resolve('tsx/esm/api');
  const boot = `import { register } from ${JSON.stringify(tsx)}; register(); await import(${JSON.stringify(WORKER_URL.href)});`;
  return new Worker(new URL(`data:text/javascript,${encodeURIComponent(boot)}`));
}

export class BlockPool {
  readonly #threads: Thread[] = [];
  readonly #pending = new Map<number, { resolve: (r: PoolResult) => void; reject: (e: Error) => void; thread: Thread }>();
  #nextId = 1;
  #closed = false;

  constructor(threads = availableParallelism()) {
    for (let i = 0; i < Math.max(1, threads); i++) {
      const thread: Thread = { worker: startWorker(), waiting: 0 };
      thread.worker.unref();
      thread.worker.on('message', (r: WorkerReply) => this.#settle(r));
      thread.worker.on('error', (e) => this.#lose(thread, e));
      thread.worker.on('exit', (code) => this.#lose(thread, new Error(`a block worker exited (${code})`)));
      this.#threads.push(thread);
    }
  }

  get size(): number {
    return this.#threads.length;
  }

  /** Give every worker the volume's keys and the session's MAC key (copies); the caller's XTS and tag key buffers are wiped. */
  open(handle: string, volumeId: string, sectorSize: 512 | 4096, xtsKey: Buffer, integrityKey: Buffer, macKey: Buffer): void {
    try {
      for (const t of this.#threads) {
        const msg = { kind: 'open', handle, volumeId, sectorSize, xtsKey: Uint8Array.from(xtsKey), integrityKey: Uint8Array.from(integrityKey), macKey: Uint8Array.from(macKey) } satisfies WorkerMessage;
        t.worker.postMessage(msg, [msg.xtsKey.buffer as ArrayBuffer, msg.integrityKey.buffer as ArrayBuffer, msg.macKey.buffer as ArrayBuffer]);
      }
    } finally {
      xtsKey.fill(0);
      integrityKey.fill(0);
    }
  }

  close(handle: string): void {
    for (const t of this.#threads) t.worker.postMessage({ kind: 'close', handle } satisfies WorkerMessage);
  }

  /** Run a batch; with `mac`, the worker checks the session MAC first and runs nothing when it fails. */
  run(handle: string, op: BlockOp, lba: bigint, body: Buffer, mac: PendingMac | null = null): Promise<PoolResult> {
    if (this.#closed || this.#threads.length === 0) return Promise.reject(new Error('the block pool is closed or lost its workers'));
    const thread = this.#threads.reduce((a, b) => (b.waiting < a.waiting ? b : a));
    const id = this.#nextId++;
    // Move the bytes when the body owns its ArrayBuffer (lent bodies and large ones do); copy otherwise.
    const lent = binaryBodies.lent(body);
    const owned = lent || (body.byteOffset === 0 && body.byteLength === body.buffer.byteLength);
    const bytes = owned ? new Uint8Array(body.buffer, 0, body.byteLength) : Uint8Array.from(body);
    const room = lent ? body.buffer.byteLength - body.byteLength : 0;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject, thread });
      thread.waiting++;
      thread.worker.postMessage({ kind: 'run', id, handle, op, lba, body: bytes, room, mac } satisfies WorkerMessage, [bytes.buffer as ArrayBuffer]);
    });
  }

  #settle(r: WorkerReply): void {
    const p = this.#pending.get(r.id);
    if (!p) return;
    this.#pending.delete(r.id);
    p.thread.waiting--;
    if ('error' in r) p.reject(new Error(r.error));
    else if ('macFailed' in r) p.resolve({ ok: false, failedLbas: [], macOk: false });
    else if ('failedLbas' in r) p.resolve({ ok: false, failedLbas: r.failedLbas, macOk: true });
    else p.resolve({ ok: true, data: Buffer.from(r.data.buffer, r.data.byteOffset, r.data.byteLength), macOk: true });
  }

  /** A worker that died: its batches fail, and no batch goes to it again (the others hold every session's keys). */
  #lose(thread: Thread, e: Error): void {
    const i = this.#threads.indexOf(thread);
    if (i >= 0) this.#threads.splice(i, 1);
    for (const [id, p] of this.#pending) {
      if (p.thread !== thread) continue;
      this.#pending.delete(id);
      p.reject(e);
    }
  }

  async destroy(): Promise<void> {
    this.#closed = true;
    const threads = this.#threads.splice(0);
    await Promise.all(threads.map((t) => t.worker.terminate()));
  }
}
