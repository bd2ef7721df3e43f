// Reusable large buffers. A fresh 256 KiB buffer costs more than encrypting and tagging it: the
// kernel maps and zeroes new pages on first touch, and the garbage collector unmaps them again
// (performance notes; ~500 µs against ~250 µs of crypto here). Request payloads, read results and
// journaled ciphertext are therefore taken from here and given back when their holder is done.
// Buffers are grouped by power-of-two capacity; small ones are left to Node's own allocator.
// Giving back a buffer still in use would hand its bytes to another request: only the holder
// that took a buffer gives it back, once nothing refers to it any more.

const MIN_POOLED_BYTES = 64 << 10;
const MAX_POOLED_BYTES = 32 << 20;
/** Idle capacity kept for reuse; beyond it, given-back buffers are left to the garbage collector. */
const MAX_IDLE_BYTES = 256 << 20;

export class BufferPool {
  readonly #idle = new Map<number, ArrayBuffer[]>();
  /** Every ArrayBuffer this pool made, so that a foreign or doubly given-back buffer is ignored. */
  readonly #made = new WeakSet<ArrayBuffer>();
  readonly #isIdle = new WeakSet<ArrayBuffer>();
  #idleBytes = 0;

  /** A buffer of `bytes` bytes, of unspecified content. */
  take(bytes: number): Buffer {
    if (bytes < MIN_POOLED_BYTES || bytes > MAX_POOLED_BYTES) return Buffer.allocUnsafeSlow(bytes);
    const capacity = 2 ** Math.ceil(Math.log2(bytes));
    const reused = this.#idle.get(capacity)?.pop();
    if (reused) {
      this.#isIdle.delete(reused);
      this.#idleBytes -= capacity;
      return Buffer.from(reused, 0, bytes);
    }
    const made = new ArrayBuffer(capacity);
    this.#made.add(made);
    return Buffer.from(made, 0, bytes);
  }

  /** Gives back a buffer from take() (or any view of it); others are ignored. */
  give(buffer: Uint8Array): void {
    const backing = buffer.buffer;
    if (!(backing instanceof ArrayBuffer) || !this.#made.has(backing) || this.#isIdle.has(backing)) return;
    if (this.#idleBytes + backing.byteLength > MAX_IDLE_BYTES) return;
    let list = this.#idle.get(backing.byteLength);
    if (!list) this.#idle.set(backing.byteLength, (list = []));
    list.push(backing);
    this.#isIdle.add(backing);
    this.#idleBytes += backing.byteLength;
  }
}

/** The process's pool: sockets, volumes and replies hand buffers to one another through it. */
export const bufferPool = new BufferPool();
