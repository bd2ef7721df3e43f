// One keep-alive HTTP/1.1 connection to the data plane that carries one block request at a time
// and reads its answer's body straight from the socket into the buffers the caller names (the
// socket's `onread` buffers are the sinks themselves): no fresh 64 KiB chunk per read, no copy
// out of an HTTP parser, nothing for the collector. node:http's client allocates and copies every
// chunk twice, which on a virtual machine's page faults cost more than the session's seal.
//
// What it accepts of HTTP/1.1 is what a data plane (or a proxy before it) answers: a status line,
// headers, and a body sized by Content-Length — read in place — or sent chunked — decoded through
// a scratch buffer. `Connection: close`, an answer that ends early, or one that does not parse
// closes the connection; the transport (block-transport.ts) opens another.

import net from 'node:net';
import tls from 'node:tls';
import { ANSWER_TAG_HEADER } from '@sealkeep/crypto';

const HEAD_BYTES = 16 * 1024;
const CRLF2 = Buffer.from('\r\n\r\n');

/**
 * Writes `pieces` in order; settles once the last has left for the kernel or been dropped with the
 * socket (a write's callback runs either way), so the memory may then be changed.
 */
export function writeAll(socket: net.Socket, pieces: readonly Uint8Array[]): Promise<void> {
  const nonEmpty = pieces.filter((p) => p.length > 0);
  if (nonEmpty.length === 0) return Promise.resolve();
  return new Promise((done) => nonEmpty.forEach((piece, i) => socket.write(piece, i === nonEmpty.length - 1 ? () => done() : undefined)));
}

/**
 * The answer, once the request's writes have settled too: an answer can come before the body has
 * left, and the caller may change the parts (unseal them in place) as soon as it has the answer —
 * so not one byte of them may still wait to be sent by then.
 */
export async function answerOnceWritten<T>(answered: Promise<T>, written: Promise<void>): Promise<T> {
  const answer = await answered;
  await written;
  return answer;
}

/** A problem document as the data plane sent it, or (not JSON) its text as the detail. */
export function problemDocument(bytes: Buffer): Record<string, unknown> {
  try {
    const parsed = JSON.parse(bytes.toString('utf8')) as unknown;
    if (parsed && typeof parsed === 'object') return parsed as Record<string, unknown>;
  } catch {
    // Not JSON: kept as its detail.
  }
  return { type: 'about:blank', detail: bytes.toString('utf8').slice(0, 200) };
}

/**
 * A connection to the data plane's origin (http: or https:) whose reads land where `onread`
 * says; `ready` is the event after which it may be written (a TLS handshake done).
 */
export function connectReading(origin: URL, onread: net.OnReadOpts): { socket: net.Socket; ready: 'connect' | 'secureConnect' } {
  const host = origin.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = Number(origin.port || (origin.protocol === 'https:' ? 443 : 80));
  const socket =
    origin.protocol === 'https:'
      ? // (tls.connect takes onread as net.connect does; @types/node leaves it out)
        tls.connect({ host, port, servername: net.isIP(host) ? undefined : host, onread, ALPNProtocols: ['http/1.1'] } as tls.ConnectionOptions)
      : net.connect({ host, port, onread });
  socket.setNoDelay(true);
  return { socket, ready: origin.protocol === 'https:' ? 'secureConnect' : 'connect' };
}

/** An answer: its status and content type; its body, when it was not read into the sinks; its seal (Sealkeep-Session-Tag), if any. */
export interface BlockAnswer {
  status: number;
  contentType: string;
  body: Buffer | null;
  sessionTag: string | null;
}

/** The connection failed before the answer began: nothing of the request was answered. */
export class ConnectionLost extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
  }
}

interface Exchange {
  /** Where a 2xx octet-stream body goes; null: into a buffer of its own. */
  sinks: readonly Buffer[] | null;
  resolve(answer: BlockAnswer): void;
  reject(error: Error): void;
}

type Phase = 'idle' | 'head' | 'sinks' | 'whole' | 'chunked';

export class BlockConnection {
  #socket!: net.Socket;
  readonly #scratch = Buffer.allocUnsafe(HEAD_BYTES);
  #filled = 0;
  #phase: Phase = 'idle';
  #exchange: Exchange | null = null;
  #answer: BlockAnswer = { status: 0, contentType: '', body: null, sessionTag: null };
  #keepAlive = true;
  #answerBegan = false;
  /** Whether this answer's body goes into the exchange's sinks (a 2xx octet-stream). */
  #intoSinks = false;
  /** Sinks: the current one and the offset in it; a whole body: the offset in it. */
  #sinks: readonly Buffer[] = [];
  #sinkIndex = 0;
  #at = 0;
  /** Chunked: bytes left of the current chunk with its CRLF (-1 while reading a size line), and the data so far. */
  #chunkLeft = -1;
  #chunks: Buffer[] = [];
  #closed = false;

  private constructor() {}

  /** Opens a connection to the data plane's origin (http: or https:). */
  static open(origin: URL, timeoutMs: number): Promise<BlockConnection> {
    return new Promise((resolve, reject) => {
      const connection = new BlockConnection();
      const { socket, ready } = connectReading(origin, { buffer: () => connection.#nextBuffer(), callback: (n: number, buffer: Uint8Array) => connection.#onRead(n, buffer) });
      connection.#socket = socket;
      socket.setTimeout(timeoutMs, () => socket.destroy(Object.assign(new Error(`no answer from the data plane within ${timeoutMs} ms`), { code: 'ETIMEDOUT' })));
      socket.once(ready, () => resolve(connection));
      socket.on('error', (error: NodeJS.ErrnoException) => {
        connection.#fail(error);
        reject(error);
      });
      socket.once('close', () => connection.#fail(new ConnectionLost('ECONNRESET', 'the data plane closed the connection')));
    });
  }

  /** Whether another request may follow on this connection. */
  get reusable(): boolean {
    return !this.#closed && this.#keepAlive && this.#phase === 'idle';
  }

  /** Sends a request (its head and its body as parts) and resolves with the answer. */
  request(head: string, parts: readonly Uint8Array[], sinks: readonly Buffer[] | null): Promise<BlockAnswer> {
    if (!this.reusable) return Promise.reject(new ConnectionLost('ECONNRESET', 'the connection is closed'));
    let written!: Promise<void>;
    const answered = new Promise<BlockAnswer>((resolve, reject) => {
      this.#exchange = { sinks, resolve, reject };
      this.#phase = 'head';
      this.#answerBegan = false;
      this.#filled = 0;
      this.#socket.cork();
      written = writeAll(this.#socket, [Buffer.from(head, 'latin1'), ...parts]);
      this.#socket.uncork();
    });
    // A refusal can come before the body was read.
    return answerOnceWritten(answered, written);
  }

  destroy(): void {
    this.#socket.destroy();
  }

  /** The memory the next read lands in: the sink being filled, the body, or the scratch buffer (never full: a head or chunk line that fills it has failed). */
  #nextBuffer(): Uint8Array {
    if (this.#phase === 'sinks') return this.#sinks[this.#sinkIndex]!.subarray(this.#at);
    if (this.#phase === 'whole') return this.#answer.body!.subarray(this.#at);
    return this.#scratch.subarray(this.#filled < this.#scratch.length ? this.#filled : 0);
  }

  #onRead(n: number, buffer: Uint8Array): true {
    try {
      this.#answerBegan = true;
      if (this.#phase === 'sinks') {
        this.#at += n;
        if (this.#sinksFull()) this.#finish();
        return true;
      }
      if (this.#phase === 'whole') {
        this.#at += n;
        if (this.#at === this.#answer.body!.length) this.#finish();
        return true;
      }
      if (buffer.buffer !== this.#scratch.buffer) throw new Error('a read landed outside the connection’s buffers');
      if (this.#phase === 'idle') throw new Error('the data plane sent bytes no request asked for');
      this.#filled += n;
      if (this.#phase === 'chunked') this.#decodeChunks();
      else this.#parseHead();
    } catch (error) {
      this.#fail(error as Error);
      this.#socket.destroy();
    }
    return true;
  }

  #parseHead(): void {
    const end = this.#scratch.subarray(0, this.#filled).indexOf(CRLF2);
    if (end < 0) {
      if (this.#filled === this.#scratch.length) throw new Error(`the data plane's answer head is over ${HEAD_BYTES} bytes`);
      return;
    }
    const lines = this.#scratch.toString('latin1', 0, end).split('\r\n');
    const status = /^HTTP\/1\.([01]) (\d{3})(?: |$)/.exec(lines[0]!);
    if (!status) throw new Error(`the data plane answered something other than HTTP/1.1: ${JSON.stringify(lines[0]!.slice(0, 40))}`);
    const headers = new Map<string, string>();
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
    }
    const code = Number(status[2]);
    if (code < 200) throw new Error(`the data plane answered ${code}, which no block request asks for`);
    const connection = headers.get('connection') ?? '';
    this.#keepAlive = status[1] === '1' ? !/\bclose\b/i.test(connection) : /\bkeep-alive\b/i.test(connection);
    const contentType = headers.get('content-type') ?? '';
    this.#answer = { status: code, contentType, body: null, sessionTag: headers.get(ANSWER_TAG_HEADER.toLowerCase()) ?? null };
    const sinks = this.#exchange!.sinks;
    this.#intoSinks = code < 300 && sinks !== null && /^application\/octet-stream/i.test(contentType);
    this.#sinks = this.#intoSinks ? sinks! : [];
    this.#sinkIndex = 0;
    this.#at = 0;
    const rest = this.#scratch.subarray(end + 4, this.#filled);
    if (/\bchunked\b/i.test(headers.get('transfer-encoding') ?? '')) {
      this.#phase = 'chunked';
      this.#chunks = [];
      this.#chunkLeft = -1;
      this.#keep(end + 4);
      return this.#decodeChunks();
    }
    const declared = headers.get('content-length');
    if (declared === undefined || !/^\d+$/.test(declared)) throw new Error('the data plane answered without a Content-Length');
    const length = Number(declared);
    if (this.#intoSinks) {
      const total = sinks!.reduce((n, sink) => n + sink.length, 0);
      if (length !== total) throw new Error(`the data plane answered ${length > total ? 'more' : 'fewer'} bytes than the operation yields`);
      this.#phase = 'sinks';
    } else {
      this.#answer.body = Buffer.allocUnsafe(length);
      this.#phase = 'whole';
    }
    // Bytes after the answer answer nothing that was asked: the answer stands, the connection goes.
    if (rest.length > length) this.#keepAlive = false;
    const body = rest.subarray(0, length);
    this.#filled = 0;
    if (this.#phase === 'sinks') this.#copyIntoSinks(body);
    else {
      this.#answer.body!.set(body, 0);
      this.#at = body.length;
    }
    if (this.#phase === 'sinks' ? this.#sinksFull() : this.#at === length) this.#finish();
  }

  #sinksFull(): boolean {
    while (this.#sinkIndex < this.#sinks.length && this.#at === this.#sinks[this.#sinkIndex]!.length) {
      this.#sinkIndex++;
      this.#at = 0;
    }
    return this.#sinkIndex === this.#sinks.length;
  }

  /** Copies bytes into the sinks from where they stand; fails if they hold fewer. */
  #copyIntoSinks(bytes: Uint8Array): void {
    let from = 0;
    while (from < bytes.length) {
      if (this.#sinksFull()) throw new Error('the data plane answered more bytes than the operation yields');
      const sink = this.#sinks[this.#sinkIndex]!;
      const n = Math.min(sink.length - this.#at, bytes.length - from);
      sink.set(bytes.subarray(from, from + n), this.#at);
      this.#at += n;
      from += n;
    }
  }

  /** Chunked transfer coding (RFC 9112 §7.1), decoded out of the scratch buffer; trailers are not expected. */
  #decodeChunks(): void {
    const bytes = this.#scratch;
    let at = 0;
    for (;;) {
      if (this.#chunkLeft < 0) {
        const eol = bytes.subarray(at, this.#filled).indexOf('\r\n');
        if (eol < 0 && at === 0 && this.#filled === bytes.length) throw new Error('the data plane sent a chunk line over 16 KiB');
        if (eol < 0) break;
        const size = Number.parseInt(bytes.toString('latin1', at, at + eol).split(';')[0]!.trim(), 16);
        if (!Number.isSafeInteger(size) || size < 0) throw new Error('the data plane sent a malformed chunk size');
        if (size === 0) {
          if (this.#filled - (at + eol + 2) < 2) break; // the blank line after the last chunk
          return this.#endChunked();
        }
        at += eol + 2;
        this.#chunkLeft = size + 2; // its data, then CRLF
      }
      const data = Math.min(this.#chunkLeft - 2, this.#filled - at);
      if (data > 0) {
        this.#chunks.push(Buffer.from(bytes.subarray(at, at + data)));
        at += data;
        this.#chunkLeft -= data;
      }
      if (this.#chunkLeft > 2 || this.#filled - at < this.#chunkLeft) break;
      at += this.#chunkLeft;
      this.#chunkLeft = -1;
    }
    this.#keep(at);
  }

  #endChunked(): void {
    const body = Buffer.concat(this.#chunks);
    this.#chunks = [];
    this.#filled = 0;
    if (this.#intoSinks) {
      this.#copyIntoSinks(body);
      if (!this.#sinksFull()) throw new Error('the data plane answered fewer bytes than the operation yields');
    } else {
      this.#answer.body = body;
    }
    this.#finish();
  }

  /** Keeps the scratch bytes from `at` on, at its start. */
  #keep(at: number): void {
    this.#scratch.copy(this.#scratch, 0, at, this.#filled);
    this.#filled -= at;
  }

  #finish(): void {
    const exchange = this.#exchange!;
    const answer = this.#answer;
    this.#exchange = null;
    this.#phase = 'idle';
    this.#sinks = [];
    this.#filled = 0;
    if (!this.#keepAlive) this.#socket.end();
    exchange.resolve(answer);
  }

  /** The connection is done for; a request on it fails — with ConnectionLost only if no byte of its answer came. */
  #fail(error: Error): void {
    this.#closed = true;
    const exchange = this.#exchange;
    this.#exchange = null;
    this.#phase = 'idle';
    this.#filled = 0;
    if (!exchange) return;
    const code = (error as NodeJS.ErrnoException).code ?? '';
    const lost = error instanceof ConnectionLost || code === 'ECONNRESET' || code === 'EPIPE';
    if (lost && !this.#answerBegan) exchange.reject(error instanceof ConnectionLost ? error : new ConnectionLost(code, error.message));
    else if (lost) exchange.reject(new Error('the data plane closed the connection before its answer was whole'));
    else exchange.reject(error);
  }
}
