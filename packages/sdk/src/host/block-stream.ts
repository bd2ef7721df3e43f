// A block session's stream, the adapter's end: one connection to the data plane, upgraded to
// sealkeep-blocks/2, carrying every block operation as a frame (layouts in @sealkeep/crypto's
// block-stream.ts) — pipelined, answered in any order, each answer naming its seq. Frames are
// written from the caller's parts where they lie; a sealed answer's body is read from the socket
// straight into the sinks its request named (node:net's `onread`), and only headers and problem
// documents pass through a scratch buffer (a problem larger than it, into a buffer of its own).
// Sealing and opening are the transport's (block-transport.ts): here a frame is bytes.
//
// A request still unanswered when the connection is lost fails with ConnectionLost if no byte of
// its answer had come (so it may be sent again on a new stream); a problem under seq 0 (the
// service closing the stream: the session ended, or it could not read a frame) is every waiting
// request's answer, the socket destroyed first with any frame still waiting to leave. An answer
// is handed over only once its request's every write is done or dropped, so the caller may then
// change (unseal) the parts in place without a byte of that reaching the wire.

import type net from 'node:net';
import {
  ANSWER_HEADER_BYTES,
  ANSWER_SEALED,
  BLOCK_STREAM_PROTOCOL,
  blockStreamPath,
  decodeAnswerHeader,
  encodeRequestHeader,
  sessionAuthorization,
  type AnswerFrameHeader,
  type RequestFrameHeader,
} from '@sealkeep/crypto';
import { answerOnceWritten, ConnectionLost, connectReading, problemDocument, writeAll } from './block-connection.js';

const SCRATCH_BYTES = 16 * 1024;
/** A problem document's size at most (an integrity failure names every failing LBA: a batch's 32 Ki sectors fit). */
const MAX_PROBLEM_BYTES = 1 << 20;
const CRLF2 = Buffer.from('\r\n\r\n');

/** A problem the service answered with: its status and document. */
export interface StreamProblem {
  status: number;
  problem: Record<string, unknown>;
}

/** A frame's answer: its seal's tag, the body being in the sinks; or a problem. */
export type StreamAnswer = { sealed: true; tag: Buffer } | ({ sealed: false } & StreamProblem);

interface Waiting {
  sinks: readonly Buffer[];
  began: boolean;
  resolve(answer: StreamAnswer): void;
  reject(error: Error): void;
}

type Phase = 'head' | 'header' | 'sinks' | 'problem';

export class BlockStream {
  #socket!: net.Socket;
  readonly #scratch = Buffer.allocUnsafe(SCRATCH_BYTES);
  #filled = 0;
  #phase: Phase = 'head';
  /** Until the service answers the upgrade: settles the opening. */
  #opening: { resolve(stream: BlockStream | StreamProblem): void; reject(error: Error): void } | null = null;
  readonly #waiting = new Map<number, Waiting>();
  /** The request whose sealed answer is being read into its sinks, and where. */
  #reading: Waiting | null = null;
  #readingSeq = 0;
  #readingTag: Buffer = Buffer.alloc(0);
  /** A problem document too large for the scratch buffer, read into its own; its header. */
  #problem: { header: AnswerFrameHeader; body: Buffer } | null = null;
  #sinkIndex = 0;
  #at = 0;
  #closed = false;
  /** Told when the service closes the stream with a problem under seq 0 (why: a session that ended), waiting requests or not. */
  onClosedWith: ((answer: StreamProblem) => void) | null = null;

  private constructor() {}

  /**
   * Opens the stream of session `sessionId`, the upgrade sealed with `seq` and `tag` (an empty
   * body under the session key): the stream, or the problem the service refused it with.
   */
  static open(origin: URL, sessionId: string, seq: number, tag: Buffer, timeoutMs: number): Promise<BlockStream | StreamProblem> {
    const stream = new BlockStream();
    return new Promise((resolve, reject) => {
      stream.#opening = { resolve, reject };
      const { socket, ready } = connectReading(origin, { buffer: () => stream.#nextBuffer(), callback: (n: number) => stream.#onRead(n) });
      stream.#socket = socket;
      // Every stretch of timeoutMs with nothing read or written is looked at, not only the first
      // (a listener of its own: setTimeout's callback is heard once): an idle stream stays, one
      // whose requests wait is given up.
      socket.setTimeout(timeoutMs);
      socket.on('timeout', () => {
        if (stream.#opening || stream.#waiting.size > 0) socket.destroy(Object.assign(new Error(`no answer from the data plane within ${timeoutMs} ms`), { code: 'ETIMEDOUT' }));
      });
      socket.on('error', (error: NodeJS.ErrnoException) => stream.#fail(error));
      socket.once('close', () => stream.#fail(new ConnectionLost('ECONNRESET', 'the data plane closed the block stream')));
      socket.once(ready, () =>
        socket.write(
          `GET ${blockStreamPath(sessionId)} HTTP/1.1\r\nHost: ${origin.host}\r\nConnection: Upgrade\r\nUpgrade: ${BLOCK_STREAM_PROTOCOL}\r\n` +
            `Authorization: ${sessionAuthorization(seq, tag)}\r\nAccept: application/problem+json\r\n\r\n`,
        ),
      );
    });
  }

  /** Whether frames may still be sent. */
  get usable(): boolean {
    return !this.#closed;
  }

  /** Sends one request frame (its body: `parts`, already sealed) and resolves with its answer, whose body fills `sinks` exactly. */
  send(frame: Omit<RequestFrameHeader, 'length'>, parts: readonly Uint8Array[], sinks: readonly Buffer[]): Promise<StreamAnswer> {
    if (this.#closed) return Promise.reject(new ConnectionLost('ECONNRESET', 'the block stream is closed'));
    let written!: Promise<void>;
    const answered = new Promise<StreamAnswer>((resolve, reject) => {
      this.#waiting.set(frame.seq, { sinks, began: false, resolve, reject });
      const length = parts.reduce((n, p) => n + p.length, 0);
      this.#socket.cork();
      written = writeAll(this.#socket, [encodeRequestHeader({ ...frame, length }), ...parts]);
      this.#socket.uncork();
    });
    // A problem under seq 0 can come while frames still wait to leave.
    return answerOnceWritten(answered, written);
  }

  destroy(): void {
    this.#socket.destroy();
  }

  #nextBuffer(): Uint8Array {
    if (this.#phase === 'sinks') return this.#reading!.sinks[this.#sinkIndex]!.subarray(this.#at);
    if (this.#phase === 'problem') return this.#problem!.body.subarray(this.#at);
    return this.#scratch.subarray(this.#filled);
  }

  #onRead(n: number): true {
    try {
      if (this.#phase === 'sinks') {
        this.#at += n;
        this.#advanceSinks();
      } else if (this.#phase === 'problem') {
        this.#at += n;
        if (this.#at === this.#problem!.body.length) {
          const { header, body } = this.#problem!;
          this.#problem = null;
          this.#phase = 'header';
          this.#problemAnswer(header, body);
          this.#parse();
        }
      } else {
        this.#filled += n;
        this.#parse();
      }
    } catch (error) {
      this.#fail(error as Error);
      this.#socket.destroy();
    }
    return true;
  }

  /** Whatever the scratch buffer holds: the upgrade's answer, then frame headers (and problem documents that fit it, whole). */
  #parse(): void {
    for (;;) {
      if (this.#phase === 'head') {
        if (!this.#parseHead()) return;
        continue;
      }
      if (this.#phase !== 'header' || this.#filled < ANSWER_HEADER_BYTES) return;
      const header = decodeAnswerHeader(this.#scratch);
      if (typeof header === 'string') throw new Error(`the data plane sent a malformed block stream frame: ${header}`);
      if (header.kind === ANSWER_SEALED) {
        const waiting = this.#waiting.get(header.seq);
        if (!waiting) throw new Error(`the data plane answered seq ${header.seq}, which no request waits for`);
        const total = waiting.sinks.reduce((s, sink) => s + sink.length, 0);
        if (header.length !== total) throw new Error(`the data plane answered ${header.length > total ? 'more' : 'fewer'} bytes than the operation yields`);
        waiting.began = true;
        this.#reading = waiting;
        this.#readingSeq = header.seq;
        this.#readingTag = header.tag;
        this.#phase = 'sinks';
        this.#sinkIndex = 0;
        this.#at = 0;
        const rest = this.#scratch.subarray(ANSWER_HEADER_BYTES, this.#filled);
        const used = this.#copyIntoSinks(rest);
        this.#consume(ANSWER_HEADER_BYTES + used);
        this.#advanceSinks();
        continue;
      }
      if (header.length > MAX_PROBLEM_BYTES) throw new Error(`the data plane sent a problem document over ${MAX_PROBLEM_BYTES} bytes`);
      if (this.#filled >= ANSWER_HEADER_BYTES + header.length) {
        const body = Buffer.from(this.#scratch.subarray(ANSWER_HEADER_BYTES, ANSWER_HEADER_BYTES + header.length));
        this.#consume(ANSWER_HEADER_BYTES + header.length);
        this.#problemAnswer(header, body);
        continue;
      }
      if (header.length <= SCRATCH_BYTES - ANSWER_HEADER_BYTES) return; // the rest will fit the scratch buffer
      // Larger than the scratch buffer: read into a buffer of its own.
      const body = Buffer.allocUnsafe(header.length);
      this.#at = this.#scratch.copy(body, 0, ANSWER_HEADER_BYTES, this.#filled);
      this.#filled = 0;
      this.#problem = { header, body };
      this.#phase = 'problem';
      return;
    }
  }

  /** A problem answer: its request's, or (seq 0) every waiting request's, the stream then closing. */
  #problemAnswer(header: AnswerFrameHeader, body: Buffer): void {
    const answer: StreamAnswer = { sealed: false, status: header.status, problem: problemDocument(body) };
    if (header.seq === 0) {
      // The service closes the stream, saying why: that is every waiting request's answer. The
      // socket goes first, with whatever frames still wait to leave: their parts are about to be
      // unsealed in place, and not one more byte of them may be sent.
      this.#closed = true;
      this.#socket.destroy();
      for (const w of this.#waiting.values()) w.resolve(answer);
      this.#waiting.clear();
      this.onClosedWith?.({ status: answer.status, problem: answer.problem });
      return;
    }
    const waiting = this.#waiting.get(header.seq);
    if (!waiting) throw new Error(`the data plane answered seq ${header.seq}, which no request waits for`);
    this.#waiting.delete(header.seq);
    waiting.resolve(answer);
  }

  /** The answer to the upgrade: 101, and the stream is open; any other status, and its problem is the opening's answer. */
  #parseHead(): boolean {
    const end = this.#scratch.subarray(0, this.#filled).indexOf(CRLF2);
    if (end < 0) {
      if (this.#filled === SCRATCH_BYTES) throw new Error('the data plane’s answer head is over 16 KiB');
      return false;
    }
    const lines = this.#scratch.toString('latin1', 0, end).split('\r\n');
    const status = Number(/^HTTP\/1\.[01] (\d{3})(?: |$)/.exec(lines[0]!)?.[1] ?? NaN);
    const headers = new Map(lines.slice(1).map((l) => [l.slice(0, l.indexOf(':')).trim().toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
    if (status === 101) {
      if ((headers.get('upgrade') ?? '').toLowerCase() !== BLOCK_STREAM_PROTOCOL) throw new Error(`the data plane switched to another protocol than ${BLOCK_STREAM_PROTOCOL}`);
      this.#consume(end + 4);
      this.#phase = 'header';
      this.#settleOpening(this);
      return true;
    }
    if (!(status >= 400 && status <= 599)) throw new Error(`the data plane answered the block stream's upgrade with ${lines[0]!.slice(0, 40)}`);
    const length = Number(headers.get('content-length') ?? NaN);
    if (!Number.isSafeInteger(length) || end + 4 + length > SCRATCH_BYTES) throw new Error('the data plane refused the block stream without a readable problem');
    if (this.#filled < end + 4 + length) return false;
    const problem = problemDocument(this.#scratch.subarray(end + 4, end + 4 + length));
    this.#closed = true;
    this.#settleOpening({ status, problem });
    this.#socket.destroy();
    return false;
  }

  #settleOpening(result: BlockStream | StreamProblem): void {
    const opening = this.#opening;
    this.#opening = null;
    opening?.resolve(result);
  }

  /** Copies bytes into the reading request's sinks from where they stand; answers how many it took. */
  #copyIntoSinks(bytes: Uint8Array): number {
    let from = 0;
    const sinks = this.#reading!.sinks;
    while (from < bytes.length && this.#sinkIndex < sinks.length) {
      const sink = sinks[this.#sinkIndex]!;
      const n = Math.min(sink.length - this.#at, bytes.length - from);
      sink.set(bytes.subarray(from, from + n), this.#at);
      this.#at += n;
      from += n;
      if (this.#at === sink.length) {
        this.#sinkIndex++;
        this.#at = 0;
      }
    }
    return from;
  }

  /** Steps past filled sinks; with all of them full, the request has its answer and the next header is read. */
  #advanceSinks(): void {
    const sinks = this.#reading!.sinks;
    while (this.#sinkIndex < sinks.length && this.#at === sinks[this.#sinkIndex]!.length) {
      this.#sinkIndex++;
      this.#at = 0;
    }
    if (this.#sinkIndex < sinks.length) return;
    const done = this.#reading!;
    this.#waiting.delete(this.#readingSeq);
    this.#reading = null;
    this.#phase = 'header';
    done.resolve({ sealed: true, tag: this.#readingTag });
    this.#parse();
  }

  /** Drops the first `n` bytes of the scratch buffer. */
  #consume(n: number): void {
    this.#scratch.copy(this.#scratch, 0, n, this.#filled);
    this.#filled -= n;
  }

  /** The stream is done for: the opening and every waiting request fail (ConnectionLost for those with no byte of answer). */
  #fail(error: Error): void {
    this.#closed = true;
    this.#opening?.reject(error);
    this.#opening = null;
    const code = (error as NodeJS.ErrnoException).code ?? '';
    const lost = error instanceof ConnectionLost || code === 'ECONNRESET' || code === 'EPIPE';
    for (const w of this.#waiting.values()) {
      if (lost && !w.began) w.reject(error instanceof ConnectionLost ? error : new ConnectionLost(code, error.message));
      else if (lost) w.reject(new Error('the data plane closed the block stream before the answer was whole'));
      else w.reject(error);
    }
    this.#waiting.clear();
    this.#reading = null;
  }
}
