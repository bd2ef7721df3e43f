// Exact-length reads from a socket: the NBD codec asks for "the next n bytes" and gets them, or
// learns that the peer went away; and the two errors that end a connection. Incoming chunks are
// queued; the socket is paused while more is buffered than the reader needs, so a client that
// streams writes faster than they are served is held back by TCP, not by this process's memory.

import type { Socket } from 'node:net';
import { bufferPool } from '../buffer-pool.js';

/** The peer closed the connection (or it failed) before the bytes asked for arrived. */
export class ConnectionClosed extends Error {
  constructor(cause?: unknown) {
    super('the connection closed', cause === undefined ? undefined : { cause });
    this.name = 'ConnectionClosed';
  }
}

/** The peer broke a rule of the protocol; the connection is closed (a hard disconnect). */
export class ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProtocolError';
  }
}

/** Keep reading until this much is queued beyond what the pending read needs. */
const HIGH_WATER_BYTES = 4 << 20;

interface PendingRead {
  bytes: number;
  resolve: (data: Buffer) => void;
  reject: (error: Error) => void;
}

export class SocketReader {
  readonly #socket: Socket;
  readonly #chunks: Buffer[] = [];
  #buffered = 0;
  #pending: PendingRead | null = null;
  #closed: ConnectionClosed | null = null;

  constructor(socket: Socket) {
    this.#socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.#chunks.push(chunk);
      this.#buffered += chunk.length;
      this.#settle();
      if (this.#buffered > HIGH_WATER_BYTES + (this.#pending?.bytes ?? 0)) socket.pause();
    });
    const close = (error?: Error) => {
      this.#closed ??= new ConnectionClosed(error);
      this.#settle();
    };
    socket.on('end', () => close());
    socket.on('close', () => close());
    socket.on('error', (error) => close(error));
  }

  /**
   * The next `bytes` bytes; rejects with ConnectionClosed if the stream ends first. One read at a
   * time. Bytes spread over several chunks are gathered into a buffer from the pool (give it back).
   */
  read(bytes: number): Promise<Buffer> {
    if (this.#pending) return Promise.reject(new Error('SocketReader: a read is already pending'));
    return new Promise((resolve, reject) => {
      this.#pending = { bytes, resolve, reject };
      this.#settle();
    });
  }

  /** Reads and discards `bytes` bytes without holding them all (a refused write's payload). */
  async skip(bytes: number): Promise<void> {
    let left = bytes;
    while (left > 0) {
      const step = Math.min(left, 1 << 20);
      bufferPool.give(await this.read(step));
      left -= step;
    }
  }

  #settle(): void {
    const pending = this.#pending;
    if (pending && this.#buffered >= pending.bytes) {
      this.#pending = null;
      pending.resolve(this.#take(pending.bytes));
    } else if (pending && this.#closed) {
      this.#pending = null;
      pending.reject(this.#closed);
      return;
    }
    const wanted = HIGH_WATER_BYTES + (this.#pending?.bytes ?? 0);
    if (this.#socket.isPaused() && !this.#closed && this.#buffered < wanted) this.#socket.resume();
  }

  #take(bytes: number): Buffer {
    this.#buffered -= bytes;
    const first = this.#chunks[0];
    if (bytes === 0) return Buffer.alloc(0);
    if (first && first.length >= bytes) {
      if (first.length === bytes) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(bytes);
      return first.subarray(0, bytes);
    }
    const out = bufferPool.take(bytes);
    let filled = 0;
    while (filled < bytes) {
      const chunk = this.#chunks[0]!;
      const used = Math.min(chunk.length, bytes - filled);
      chunk.copy(out, filled, 0, used);
      filled += used;
      if (used === chunk.length) this.#chunks.shift();
      else this.#chunks[0] = chunk.subarray(used);
    }
    return out;
  }
}
