// Binary request bodies (application/octet-stream: the data plane's batches of sectors), read
// straight into pooled memory: one copy out of the socket's chunks, no list to concatenate, and
// no fresh megabyte for the garbage collector per request.
//
// The pool lends a body an ArrayBuffer of its own, with a sixteenth more room than the body
// (an answer may be larger than its request and be written in place: encrypt-sign answers 544
// bytes for each 520 it is sent with 512-byte sectors), and takes memory back once the answer
// written from it has left (mount.ts: afterSend). Memory comes back only from whoever was lent
// it; nothing else's memory is ever reused.

import type { IncomingMessage } from 'node:http';
import { Problem } from './problems.js';

const CLASS_STEP = 64 * 1024;
/** What the pool keeps between requests; beyond it, returned memory is left to the collector. */
const MAX_KEPT_BYTES = 64 * 1024 * 1024;

/** The capacity lent for a body of `length` bytes: the body, a sixteenth more, rounded up to 64 KiB. */
export function capacityFor(length: number): number {
  return Math.max(1, Math.ceil((length + Math.ceil(length / 16)) / CLASS_STEP)) * CLASS_STEP;
}

export class BodyPool {
  readonly #free = new Map<number, ArrayBuffer[]>();
  /** Buffers lent and not yet moved elsewhere (a transfer to a worker detaches them). */
  readonly #lent = new WeakSet<ArrayBuffer>();
  #kept = 0;

  /** A body of `length` bytes whose whole ArrayBuffer belongs to it. */
  take(length: number): Buffer {
    const capacity = capacityFor(length);
    const free = this.#free.get(capacity);
    const memory = free?.pop();
    if (memory) this.#kept -= capacity;
    const buffer = memory ?? new ArrayBuffer(capacity);
    this.#lent.add(buffer);
    return Buffer.from(buffer, 0, length);
  }

  /** Whether `body` is a view of memory this pool lent, so the memory after its end is the request's too. */
  lent(body: Uint8Array): boolean {
    return body.byteOffset === 0 && this.#lent.has(body.buffer as ArrayBuffer);
  }

  /**
   * Take back memory that was lent (possibly moved through a worker and back, as a new
   * ArrayBuffer over the same bytes) once nothing reads it any more. Other sizes are left alone.
   */
  give(memory: ArrayBuffer): void {
    const capacity = memory.byteLength;
    if (capacity === 0 || capacity % CLASS_STEP !== 0 || this.#kept + capacity > MAX_KEPT_BYTES) return;
    const free = this.#free.get(capacity) ?? [];
    free.push(memory);
    this.#free.set(capacity, free);
    this.#kept += capacity;
  }

  /** Bytes held for reuse (for tests). */
  get keptBytes(): number {
    return this.#kept;
  }
}

/** The process's pool of binary bodies. */
export const binaryBodies = new BodyPool();

/**
 * Read a binary body of at most `limit` bytes. With a Content-Length (every data-plane client
 * sends one), the bytes land in lent memory as they arrive; a chunked body is gathered first.
 * Too large: 413 before reading on. Compressed bodies are not accepted (415).
 */
export function readBinaryBody(req: IncomingMessage, limit: number, pool: BodyPool = binaryBodies): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const encoding = req.headers['content-encoding'];
    if (encoding !== undefined && encoding.toLowerCase() !== 'identity') return reject(new Problem('unsupported-media-type', 'binary bodies are sent without a content encoding'));
    const declared = req.headers['content-length'];
    const length = declared === undefined ? null : Number(declared);
    if (length !== null && length > limit) return reject(new Problem('payload-too-large', `this route accepts at most ${limit} bytes`));
    const body = length === null ? null : pool.take(length);
    const chunks: Buffer[] = [];
    let received = 0;
    let failed = false;
    const fail = (p: Problem) => {
      failed = true;
      req.removeListener('data', onData);
      reject(p);
    };
    const onData = (chunk: Buffer) => {
      if (failed) return;
      if (received + chunk.length > (length ?? limit)) return fail(new Problem('payload-too-large', `this route accepts at most ${limit} bytes`));
      if (body) chunk.copy(body, received);
      else chunks.push(chunk);
      received += chunk.length;
    };
    req.on('data', onData);
    req.once('end', () => {
      if (failed) return;
      if (body) return received === length ? resolve(body) : fail(new Problem('malformed-request', 'the body ended before its Content-Length'));
      const gathered = pool.take(received);
      let at = 0;
      for (const c of chunks) at += c.copy(gathered, at);
      resolve(gathered);
    });
    req.once('error', () => fail(new Problem('malformed-request', 'the body did not arrive whole')));
    req.once('aborted', () => fail(new Problem('malformed-request', 'the body did not arrive whole')));
  });
}
