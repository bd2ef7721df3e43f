// Exact-length reads from a socket: the NBD codec asks for "the next n bytes" and gets them, or
// learns that the peer went away; and the two errors that end a connection.
//
// The socket reads into memory this reader hands it (node:net's `onread`), never into fresh
// chunks: a write's payload goes from the kernel straight into the pooled buffer that will carry
// it through the volume, and whatever arrives while no such read is waiting (the next request's
// header, the first few KiB of its payload) lands in one small staging buffer that is reused. A
// fresh 64 KiB chunk per socket read was the adapter's largest source of garbage, and of the
// major collections that garbage set off. The socket stops reading while half the staging buffer
// is queued and no read waits, so a client that streams writes faster than they are served is
// held back by TCP, not by this process's memory.

import { Socket, type OnReadOpts } from 'node:net';
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

const STAGING_BYTES = 64 << 10;
/**
 * What the socket may read into staging at a time: a run of request headers, but little of a
 * payload that the next read will want in a buffer of its own. With reading stopped once half the
 * staging buffer is queued, what is queued never passes STAGING_BYTES / 2 + STAGING_READ_BYTES,
 * so there is always room for the next piece.
 */
const STAGING_READ_BYTES = 4 << 10;
/** Reads of at least this many bytes go straight into their own buffer (from the pool). */
const DIRECT_MIN = 4 << 10;

interface PendingRead {
  bytes: number;
  /** The buffer the read fills: its own for a large read; null while a small one waits in staging. */
  into: Buffer | null;
  filled: number;
  resolve: (data: Buffer) => void;
  reject: (error: Error) => void;
}

export class SocketReader {
  #socket: Socket | null = null;
  readonly #staging = Buffer.allocUnsafeSlow(STAGING_BYTES);
  /** Bytes received and not yet read: staging[#start, #end). */
  #start = 0;
  #end = 0;
  /** Where the socket's next read lands: staging from #end, or the pending read's own buffer. */
  #intoStaging = true;
  #pending: PendingRead | null = null;
  #closed: ConnectionClosed | null = null;
  /** The socket stopped reading (the callback said so) until read() finds it no longer #full(). */
  #stopped = false;

  /** For a socket made with these options (`net.connect`, `new Socket`); then attach() it. */
  readonly onread: OnReadOpts = {
    buffer: () => this.#nextTarget(),
    callback: (bytes: number) => this.#received(bytes),
  };

  /**
   * A reader for a connection a node:net server accepted: the server must have been created with
   * `pauseOnConnect`, so that nothing was read yet. Node offers `onread` only when a socket is
   * made, so the accepted socket's handle moves to a new socket made with it (the accepted one is
   * left without a handle, and the new one keeps its `allowHalfOpen`); write on `reader.socket`
   * from then on.
   */
  static forAccepted(accepted: Socket): SocketReader {
    const internals = accepted as unknown as { _handle: unknown; server: unknown; _server: unknown };
    if (!internals._handle || !accepted.isPaused() || accepted.bytesRead > 0) throw new Error('SocketReader.forAccepted: the socket must be freshly accepted by a server with pauseOnConnect');
    const reader = new SocketReader();
    const options = { handle: internals._handle, onread: reader.onread, readable: true, writable: true, allowHalfOpen: accepted.allowHalfOpen };
    const socket = new Socket(options as ConstructorParameters<typeof Socket>[0]);
    // The server counts the connection as open until its socket closes: that is this one now, and
    // the accepted one, left with neither handle nor server, can no longer close or count it.
    Object.assign(socket, { server: internals.server, _server: internals._server });
    Object.assign(internals, { _handle: null, server: null, _server: null });
    reader.attach(socket);
    return reader;
  }

  /** The socket being read (made with `onread`); write replies on it too. */
  get socket(): Socket {
    if (!this.#socket) throw new Error('SocketReader: no socket attached');
    return this.#socket;
  }

  attach(socket: Socket): void {
    this.#socket = socket;
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
   * time. A read of 4 KiB or more comes in a buffer from the pool (give it back).
   */
  read(bytes: number): Promise<Buffer> {
    if (this.#pending) return Promise.reject(new Error('SocketReader: a read is already pending'));
    return new Promise((resolve, reject) => {
      this.#pending = { bytes, into: bytes >= DIRECT_MIN ? bufferPool.take(bytes) : null, filled: 0, resolve, reject };
      this.#settle();
      if (this.#stopped && !this.#closed && !this.#full()) {
        this.#stopped = false;
        this.socket.resume();
      }
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

  /** The socket read `bytes` into the last target handed out. False pauses it. */
  #received(bytes: number): boolean {
    if (this.#intoStaging) this.#end += bytes;
    else this.#pending!.filled += bytes;
    this.#settle();
    this.#stopped = this.#full();
    return !this.#stopped;
  }

  /** No read waits and half the staging buffer is queued: time to let TCP hold the client back. */
  #full(): boolean {
    return this.#pending === null && this.#end - this.#start >= STAGING_BYTES / 2;
  }

  /** Where the socket reads next; called after every read, and must stay valid until the next. */
  #nextTarget(): Buffer {
    const pending = this.#pending;
    this.#intoStaging = !(pending?.into && this.#start === this.#end);
    if (!this.#intoStaging) return pending!.into!.subarray(pending!.filled);
    if (this.#start === this.#end) {
      this.#start = this.#end = 0;
    } else if (STAGING_BYTES - this.#end < STAGING_READ_BYTES) {
      this.#staging.copyWithin(0, this.#start, this.#end);
      this.#end -= this.#start;
      this.#start = 0;
    }
    return this.#staging.subarray(this.#end, this.#end + STAGING_READ_BYTES);
  }

  /** Serves the pending read from staging as far as it goes; resolves it once full, or rejects it once closed. */
  #settle(): void {
    const pending = this.#pending;
    if (!pending) return;
    const queued = this.#end - this.#start;
    if (pending.into && queued > 0) {
      const used = Math.min(queued, pending.bytes - pending.filled);
      this.#staging.copy(pending.into, pending.filled, this.#start, this.#start + used);
      pending.filled += used;
      this.#start += used;
    }
    if (pending.into && pending.filled === pending.bytes) {
      this.#pending = null;
      pending.resolve(pending.into);
    } else if (!pending.into && queued >= pending.bytes) {
      this.#pending = null;
      const out = Buffer.allocUnsafe(pending.bytes);
      this.#staging.copy(out, 0, this.#start, this.#start + pending.bytes);
      this.#start += pending.bytes;
      pending.resolve(out);
    } else if (this.#closed) {
      this.#pending = null;
      if (pending.into) bufferPool.give(pending.into);
      pending.reject(this.#closed);
    }
  }
}
