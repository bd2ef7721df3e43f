// Binary request bodies (application/octet-stream: the data plane's batches of sectors), read
// straight into pooled memory: one copy out of the socket's chunks, no list to concatenate, and
// no fresh megabyte for the garbage collector per request.
//
// The pool lends a body an ArrayBuffer of its own, with at least a sixteenth more room than the
// body (an answer may be larger than its request and be written in place: encrypt-sign answers
// 544 bytes for each 520 it is sent with 512-byte sectors), and takes memory back once the answer
// written from it has left (mount.ts: afterSend). Memory comes back only from whoever was lent
// it; nothing else's memory is ever reused. Lengths fall into size classes, so the varied batches
// a hypervisor sends reuse memory instead of faulting in fresh pages (on a virtual machine the
// costliest thing a body does, far more than the copy itself).

import type { IncomingMessage } from 'node:http';
import { Problem } from './problems.js';
import { BodyBudget } from './body-budget.js';

const MIN_STEP = 64 * 1024;
/** What the pool keeps between requests; beyond it, the memory least recently used goes to the collector. */
const MAX_KEPT_BYTES = 64 * 1024 * 1024;

/** The size classes' step at `bytes`: 64 KiB, or a quarter of the power of two at or below it (four classes per octave). */
function stepAt(bytes: number): number {
  return Math.max(MIN_STEP, 2 ** (Math.floor(Math.log2(Math.max(1, bytes))) - 2));
}

/**
 * The capacity lent for a body of `length` bytes: the body and a sixteenth more, rounded up to
 * its size class (multiples of 64 KiB up to 256 KiB, then four classes per octave), so bodies of
 * nearby lengths share memory and at most a quarter of it is slack.
 */
export function capacityFor(length: number): number {
  const needed = Math.max(1, length + Math.ceil(length / 16));
  const step = stepAt(needed);
  return Math.ceil(needed / step) * step;
}

const isClass = (bytes: number) => bytes >= MIN_STEP && bytes % stepAt(bytes) === 0;

export class BodyPool {
  /** Free memory by capacity; a Map keeps its classes in the order they were last given to. */
  readonly #free = new Map<number, ArrayBuffer[]>();
  /** Buffers lent and not yet moved elsewhere (a transfer to a worker detaches them). */
  readonly #lent = new WeakSet<ArrayBuffer>();
  #kept = 0;

  /** A body of `length` bytes whose whole ArrayBuffer belongs to it. */
  take(length: number): Buffer {
    const capacity = capacityFor(length);
    const memory = this.#free.get(capacity)?.pop();
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
   * ArrayBuffer over the same bytes) once nothing reads it any more. Memory of other sizes is
   * left alone; to stay within its bound the pool lets go of the classes given to least recently.
   */
  give(memory: ArrayBuffer): void {
    const capacity = memory.byteLength;
    if (!isClass(capacity) || capacity > MAX_KEPT_BYTES) return;
    const free = this.#free.get(capacity) ?? [];
    this.#free.delete(capacity);
    this.#free.set(capacity, free); // now the class given to most recently: the last to lose memory
    free.push(memory);
    this.#kept += capacity;
    for (const [size, stale] of this.#free) {
      if (this.#kept <= MAX_KEPT_BYTES) break;
      while (this.#kept > MAX_KEPT_BYTES && stale.length > 0) {
        stale.shift();
        this.#kept -= size;
      }
      if (stale.length === 0) this.#free.delete(size);
    }
  }

  /** Bytes held for reuse (for tests). */
  get keptBytes(): number {
    return this.#kept;
  }
}

/** The process's pool of binary bodies. */
export const binaryBodies = new BodyPool();

/**
 * Bytes of binary request bodies held at once (body-budget.ts), from before each is read until
 * its answer has left. A body may be read before its caller is known (a request proof covers it),
 * so these are not the block streams' bytes: streams, authenticated when they open, have a budget
 * of their own that no one else can fill.
 */
export const binaryBodyBytes = new BodyBudget(256 * 1024 * 1024);

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
