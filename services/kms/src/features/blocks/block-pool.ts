// The block workers: one thread per core (os.availableParallelism()), each holding every open
// volume's keys, so a batch runs on whichever thread has the least work waiting (counted in
// bytes, a volume attestation's tags weighing what hashing them costs beside a batch's cipher).
// The request body is moved to the worker, not copied, when it owns its memory (a body the
// listener's pool lent owns its ArrayBuffer and the room after it, where an answer larger than
// its request is written in place). Keys cross to each worker once per opened session and are
// wiped here as soon as they are sent. Volume attestations' Merkle roots are computed here too,
// off the event loop: 2^21 tags take seconds of SHA-256.

import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { BlockOp } from './block-ops.js';
import type { WorkerMessage, WorkerReply } from './block-worker.js';
import type { PendingSeal } from './session-auth.js';
import { binaryBodies } from '../../http/binary-body.js';

export type PoolResult = { ok: true; data: Buffer; tag: Buffer; sealOk: true } | { ok: false; failedLbas: bigint[]; sealOk: true } | { ok: false; failedLbas: []; sealOk: false };

interface Thread {
  worker: Worker;
  /** Work queued on the thread and not yet answered, in bytes-of-batch equivalents. */
  waiting: number;
}

/** A Merkle root hashes each 32-byte tag twice: per byte some 15 (native engine) to 150 (pure Node) times a batch's cipher and MAC. */
const MERKLE_WEIGHT = 64;

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
  readonly #pending = new Map<number, { settle: (r: WorkerReply) => void; reject: (e: Error) => void; thread: Thread; weight: number }>();
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

  /** Give every worker the volume's keys and the session key (copies); the caller's XTS and tag key buffers are wiped. */
  open(handle: string, volumeId: string, sectorSize: 512 | 4096, xtsKey: Buffer, integrityKey: Buffer, sessionKey: Buffer): void {
    try {
      for (const t of this.#threads) {
        const msg = { kind: 'open', handle, volumeId, sectorSize, xtsKey: Uint8Array.from(xtsKey), integrityKey: Uint8Array.from(integrityKey), sessionKey: Uint8Array.from(sessionKey) } satisfies WorkerMessage;
        t.worker.postMessage(msg, [msg.xtsKey.buffer as ArrayBuffer, msg.integrityKey.buffer as ArrayBuffer, msg.sessionKey.buffer as ArrayBuffer]);
      }
    } finally {
      xtsKey.fill(0);
      integrityKey.fill(0);
    }
  }

  close(handle: string): void {
    for (const t of this.#threads) t.worker.postMessage({ kind: 'close', handle } satisfies WorkerMessage);
  }

  /** Run a sealed batch: the worker opens it under the session (nothing runs when its tag fails) and seals the answer. */
  run(handle: string, op: BlockOp, lba: bigint, body: Buffer, seal: PendingSeal): Promise<PoolResult> {
    const lent = binaryBodies.lent(body);
    const bytes = movable(body, lent);
    const room = lent ? body.buffer.byteLength - body.byteLength : 0;
    return this.#post(bytes.length, (id) => ({ kind: 'run', id, handle, op, lba, body: bytes, room, seal }), bytes, (r): PoolResult => {
      if ('sealFailed' in r) return { ok: false, failedLbas: [], sealOk: false };
      if ('failedLbas' in r) return { ok: false, failedLbas: r.failedLbas, sealOk: true };
      if ('data' in r) return { ok: true, data: Buffer.from(r.data.buffer, r.data.byteOffset, r.data.byteLength), tag: Buffer.from(r.tag), sealOk: true };
      throw unexpected(r);
    });
  }

  /** The RFC 6962 Merkle root of `tags` (32 bytes each, in LBA order), computed on a worker. */
  merkleRoot(tags: Buffer): Promise<Buffer> {
    const bytes = movable(tags, binaryBodies.lent(tags));
    return this.#post(bytes.length * MERKLE_WEIGHT, (id) => ({ kind: 'merkle', id, tags: bytes }), bytes, (r) => {
      if ('root' in r) return Buffer.from(r.root);
      throw unexpected(r);
    });
  }

  /** Send one job (its bytes moved) to the thread with the least work waiting; `answer` turns its reply into the result. */
  #post<T>(weight: number, message: (id: number) => WorkerMessage, bytes: Uint8Array, answer: (r: WorkerReply) => T): Promise<T> {
    if (this.#closed || this.#threads.length === 0) return Promise.reject(new Error('the block pool is closed or lost its workers'));
    const thread = this.#threads.reduce((a, b) => (b.waiting < a.waiting ? b : a));
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      const settle = (r: WorkerReply) => {
        if ('error' in r) return reject(new Error(r.error));
        try {
          resolve(answer(r));
        } catch (e) {
          reject(e as Error);
        }
      };
      this.#pending.set(id, { settle, reject, thread, weight });
      thread.waiting += weight;
      thread.worker.postMessage(message(id), [bytes.buffer as ArrayBuffer]);
    });
  }

  #settle(r: WorkerReply): void {
    const p = this.#pending.get(r.id);
    if (!p) return;
    this.#pending.delete(r.id);
    p.thread.waiting -= p.weight;
    p.settle(r);
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

/** The body as bytes that own their whole ArrayBuffer, to move to a worker: itself when it does (lent bodies and large ones), a copy otherwise. */
function movable(body: Buffer, lent: boolean): Uint8Array {
  const owned = lent || (body.byteOffset === 0 && body.byteLength === body.buffer.byteLength);
  return owned ? new Uint8Array(body.buffer, 0, body.byteLength) : Uint8Array.from(body);
}

const unexpected = (r: WorkerReply) => new Error(`a block worker answered with ${Object.keys(r).join(', ')}`);
