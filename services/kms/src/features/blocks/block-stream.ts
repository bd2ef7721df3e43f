// A block session's stream: the connection of `GET …/stream` once upgraded, carrying block
// requests as frames (layouts in @sealkeep/crypto's block-stream.ts). Each request frame is read
// into memory the body pool lends — the socket reads a body straight into it once its header is
// read (http/upgraded-reads.ts), and headers, with whatever follows them in the same read, into a
// staging buffer of the stream's own — and run exactly as the block route runs a request
// (block-batch.ts: the worker opens its seal, the answer is sealed) and answered as soon as its
// batch is done, so several are in flight at once and answers may overtake one another. A frame
// holds its place, and its body's bytes, from when its body is read until its answer has left for
// the socket. A frame is read only while the stream holds fewer than MAX_IN_FLIGHT frames and
// MAX_STREAM_BYTES, and every stream together less than streamBodyBytes' limit
// (http/body-budget.ts; streams waiting for room there are served in turn); a stream that holds
// none may always read one. Otherwise reading stops (what was read past the frame's header waits
// aside) and TCP holds the adapter back. A
// request the session refuses is answered with its problem and the stream goes on; a frame that
// does not parse is answered with a problem under seq 0 and the stream closes, as it does (saying
// why) when its session ends. Each frame is logged and counted (metrics) as a request of the block
// route, under `<upgrade's request id>#<seq>`. An adapter that takes none of its answers for
// streamTimeouts.stalledAnswersMs (no answer finishing its way into the socket, and nothing read)
// loses the stream: it is destroyed (and a warning logged) and every byte it held comes back, so a
// host that stopped reading, or vanished, does not keep its share of streamBodyBytes. TCP keep-alive probes an idle
// stream's peer, so one that vanished with nothing pending is closed too, in the kernel's time.

import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { ANSWER_PROBLEM, ANSWER_SEALED, REQUEST_HEADER_BYTES, SESSION_TAG_BYTES, blockRequestUrl, blockStreamPath, decodeRequestHeader, encodeAnswerHeader, type AnswerFrameHeader, type RequestFrameHeader } from '@sealkeep/crypto';
import { Problem } from '../../http/problems.js';
import type { UpgradedConnection } from '../../http/route.js';
import { binaryBodies } from '../../http/binary-body.js';
import { BodyBudget, type BudgetTicket } from '../../http/body-budget.js';
import { readIntoOwnMemory } from '../../http/upgraded-reads.js';
import { MAX_BATCH_BYTES, runSealedBatch } from './block-batch.js';
import type { BlockSession, BlockSessions, EndReason } from './block-sessions.js';
import { endedProblem } from './session-auth.js';

/** Request frames held (read, and their answers not yet handed to the socket) before reading stops. */
export const MAX_IN_FLIGHT = 16;
/** Body bytes one stream may hold in frames read and not yet answered (one frame, however large, always). */
export const MAX_STREAM_BYTES = 64 * 1024 * 1024;
/** Body bytes every block stream together may hold: one tenant's adapter cannot take the memory the others' need. */
export const streamBodyBytes = new BodyBudget(512 * 1024 * 1024);
/** After the stream's last problem, how long the adapter has to close its side. */
const LINGER_MS = 5_000;
/** How long answers may wait untaken before the stream is dropped (the adapter SDK's own wait for an answer). Settable for tests. */
export const streamTimeouts = { stalledAnswersMs: 60_000 };
/** Idle time before TCP keep-alive probes a stream's peer. */
const KEEPALIVE_MS = 60_000;
const NO_TAG = Buffer.alloc(SESSION_TAG_BYTES);
/** Where reads land while no body is being read: headers, and what follows them in the same read. */
const STAGING_BYTES = 64 * 1024;
const NOTHING = Buffer.alloc(0);

/** Serves the stream of session `s` on a connection its upgrade took; each frame is logged and counted as a request of `frameRoute`. */
export function serveBlockStream(connection: UpgradedConnection, sessions: BlockSessions, s: BlockSession, requestId: string, frameRoute: string): void {
  new BlockStream(connection, sessions, s, requestId, frameRoute);
}

class BlockStream {
  readonly #socket: Duplex;
  readonly #header = Buffer.alloc(REQUEST_HEADER_BYTES);
  #headerFilled = 0;
  #frame: RequestFrameHeader | null = null;
  /** The body being read, once the frame's bytes are held (null: its header read, its bytes not yet). */
  #body: Buffer | null = null;
  #bodyFilled = 0;
  #inFlight = 0;
  /** Body bytes of the frames held: the one being read and those in flight. */
  #held = 0;
  /** This stream's place in the streams' line, for the frame whose header was read (null: not waiting). */
  #ticket: BudgetTicket | null = null;
  readonly #staging = Buffer.allocUnsafeSlow(STAGING_BYTES);
  /** The socket's next read goes into #body (true) or into #staging (false): what #target() last handed out. */
  #direct = false;
  /** Reading stopped, for room to hold the next frame's body; what was read past its header waits here. */
  #stopped = false;
  #parked: Buffer | null = null;
  readonly #wake = () => this.#resume();
  /** The adapter ended its side: ours ends once every held frame is answered. */
  #peerEnded = false;
  /** Closing: nothing more is read or run. */
  #closing = false;
  readonly #onSessionEnd = (reason: EndReason) => this.#close(new Problem('session-ended', `the block session ended: ${reason}`, { reason }));

  constructor(
    private readonly connection: UpgradedConnection,
    private readonly sessions: BlockSessions,
    private readonly s: BlockSession,
    private readonly requestId: string,
    private readonly frameRoute: string,
  ) {
    const moved = readIntoOwnMemory(connection.socket, { buffer: () => this.#target(), callback: (bytes) => this.#received(bytes) });
    this.#socket = moved?.socket ?? connection.socket;
    s.streams.add(this.#onSessionEnd);
    this.#socket.on('close', () => {
      s.streams.delete(this.#onSessionEnd);
      this.#dropUnfinishedBody();
    });
    this.#socket.on('end', () => {
      this.#peerEnded = true;
      if (this.#inFlight === 0) this.#socket.end();
    });
    if (!moved) this.#socket.on('data', (chunk: Buffer) => this.#take(chunk));
    if (this.#socket instanceof Socket) {
      this.#socket.setKeepAlive(true, KEEPALIVE_MS);
      // Fires after that long with nothing read and no write finished, and again after every such
      // stretch (a listener of its own: the one setTimeout takes hears only the first); only answers
      // left waiting count — an idle stream with nothing to answer is not dropped.
      this.#socket.setTimeout(streamTimeouts.stalledAnswersMs);
      this.#socket.on('timeout', () => {
        if (this.#socket.writableLength === 0) return;
        connection.warn('block stream dropped: its answers were left untaken', {
          sessionId: s.id,
          stalledSeconds: streamTimeouts.stalledAnswersMs / 1000,
          framesHeld: this.#inFlight,
          bytesHeld: this.#held,
          answerBytesUntaken: this.#socket.writableLength,
        });
        this.#socket.destroy();
      });
    }
    // A session that ended while the upgrade was checked has run its closers already.
    if (sessions.get(s.id) !== s) this.#close(endedProblem(sessions, s.id));
    else {
      const head = moved ? Buffer.concat([connection.head, moved.buffered]) : connection.head;
      if (head.length > 0) this.#take(head);
    }
  }

  /** Where the socket reads next (asked after every read): the rest of the body being read, or staging. */
  #target(): Buffer {
    this.#direct = this.#body !== null && !this.#closing;
    return this.#direct ? this.#body!.subarray(this.#bodyFilled) : this.#staging;
  }

  /** The socket read `bytes` into the last #target(); false stops it reading. */
  #received(bytes: number): boolean {
    if (this.#closing) return true; // (what the adapter still sends is dropped)
    if (!this.#direct) this.#take(this.#staging.subarray(0, bytes));
    else if ((this.#bodyFilled += bytes) === this.#frame!.length) this.#dispatch();
    return !this.#stopped;
  }

  /** Bytes from the socket: frame headers decoded, bodies gathered into lent memory, each whole frame run. */
  #take(chunk: Buffer): void {
    let at = 0;
    while (!this.#closing) {
      if (this.#frame === null) {
        if (at === chunk.length) return;
        const n = Math.min(REQUEST_HEADER_BYTES - this.#headerFilled, chunk.length - at);
        chunk.copy(this.#header, this.#headerFilled, at, at + n);
        this.#headerFilled += n;
        at += n;
        if (this.#headerFilled < REQUEST_HEADER_BYTES) return;
        this.#headerFilled = 0;
        const frame = decodeRequestHeader(this.#header, MAX_BATCH_BYTES);
        if (typeof frame === 'string') return this.#close(new Problem('malformed-request', `not a block stream frame: ${frame}`));
        this.#frame = frame;
      }
      if (this.#body === null) {
        // Held to the limit: the rest of this read waits aside, and reading stops, until an answer leaves.
        if (!this.#hold(this.#frame.length)) return this.#stop(chunk.subarray(at));
        this.#body = binaryBodies.take(this.#frame.length);
        this.#bodyFilled = 0;
      }
      const n = Math.min(this.#frame.length - this.#bodyFilled, chunk.length - at);
      chunk.copy(this.#body, this.#bodyFilled, at, at + n);
      this.#bodyFilled += n;
      at += n;
      if (this.#bodyFilled < this.#frame.length) return; // (the chunk is used up)
      this.#dispatch();
    }
  }

  /** The frame whose body is all read goes to run. */
  #dispatch(): void {
    const [frame, body] = [this.#frame!, this.#body!];
    this.#frame = null;
    this.#body = null; // (the frame's bytes are #run's to give back now, not a close's)
    void this.#run(frame, body);
  }

  #stop(rest: Buffer): void {
    this.#parked = rest.length > 0 ? rest : null; // (a view of staging will do: nothing is read into it again until #resume has taken this)
    this.#stopped = true;
    this.#socket.pause();
  }

  /** Reading goes on, if it stopped and nothing stops it again: what waited aside first. */
  #resume(): void {
    if (this.#closing || !this.#stopped) return;
    this.#stopped = false;
    const parked = this.#parked ?? NOTHING;
    this.#parked = null;
    this.#take(parked);
    if (!this.#stopped) this.#socket.resume();
  }

  /** Whether a frame of `bytes` may be read now; if so its bytes are held (until #settled). */
  #hold(bytes: number): boolean {
    const alone = this.#inFlight === 0; // (no other body is being read: frames are read one at a time)
    if (!alone && (this.#inFlight >= MAX_IN_FLIGHT || this.#held + bytes > MAX_STREAM_BYTES)) return false;
    const ticket = this.#ticket;
    if (ticket?.granted) {
      this.#ticket = null; // held for this frame while the stream waited in line
    } else {
      if (ticket && !alone) return false; // still in line; the grant wakes the stream
      this.#leaveLine(); // alone now: it goes ahead
      if (!streamBodyBytes.take(bytes, alone)) {
        const place = streamBodyBytes.queue(bytes, this.#wake);
        if (!place.granted) {
          this.#ticket = place; // the grant wakes the stream
          return false;
        }
      }
    }
    this.#held += bytes;
    return true;
  }

  #leaveLine(): void {
    if (this.#ticket) streamBodyBytes.leave(this.#ticket);
    this.#ticket = null;
  }

  /**
   * A body the stream stopped reading (it closed): its bytes go back, and its place in line; its
   * memory too, or — while the socket may still read into it — once the socket has closed.
   */
  #dropUnfinishedBody(): void {
    this.#leaveLine();
    if (this.#frame === null || this.#body === null) return;
    this.#held -= this.#frame.length;
    streamBodyBytes.give(this.#frame.length);
    const memory = this.#body.buffer as ArrayBuffer;
    if (this.#direct && !this.#socket.destroyed) this.#socket.once('close', () => binaryBodies.give(memory));
    else binaryBodies.give(memory);
    this.#frame = null;
    this.#body = null;
  }

  async #run(frame: RequestFrameHeader, body: Buffer): Promise<void> {
    this.#inFlight++;
    const { s, sessions } = this;
    const started = process.hrtime.bigint();
    const requestId = `${this.requestId}#${frame.seq}`;
    let status = 200;
    try {
      if (sessions.get(s.id) !== s) throw endedProblem(sessions, s.id);
      const ended = await sessions.stillHolds(s);
      if (ended) throw new Problem('session-ended', `the block session ended: ${ended}`, { reason: ended });
      if (!s.seq.fresh(frame.seq)) throw new Problem('unauthenticated', 'this sequence number was already used (replay)');
      const seal = { seq: frame.seq, method: 'POST', url: blockRequestUrl(s.id, frame.op, frame.lba), tag: frame.tag };
      const answer = await runSealedBatch(sessions, s, frame.op, frame.lba, body, seal, requestId);
      this.#write(frame, 200, ANSWER_SEALED, answer.tag, answer.data, () => binaryBodies.give(answer.data.buffer as ArrayBuffer));
    } catch (e) {
      const problem = this.#problemOf(e);
      status = problem.status;
      this.#write(frame, problem.status, ANSWER_PROBLEM, NO_TAG, this.#document(problem), () => undefined);
      // A session that ended ends its streams (its own closer has, when it ended in this process).
      if (problem.slug === 'session-ended') this.#close(null);
    } finally {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      this.connection.observe({ requestId, method: 'POST', route: this.frameRoute, status, ms });
    }
  }

  /** Writes the answer to `frame`; the frame stops being held once the answer has left for the socket. */
  #write(frame: RequestFrameHeader, status: number, kind: AnswerFrameHeader['kind'], tag: Buffer, body: Buffer, sent: () => void): void {
    if (this.#socket.destroyed || this.#socket.writableEnded) {
      sent();
      return this.#settled(frame.length);
    }
    this.#socket.cork();
    this.#socket.write(encodeAnswerHeader({ length: body.length, status, kind, seq: frame.seq, tag }));
    this.#socket.write(body, () => {
      sent();
      this.#settled(frame.length);
    });
    this.#socket.uncork();
  }

  #settled(bytes: number): void {
    this.#inFlight--;
    this.#held -= bytes;
    streamBodyBytes.give(bytes); // (may grant this stream's place in line)
    this.#resume();
    if (this.#peerEnded && this.#inFlight === 0 && !this.#socket.writableEnded) this.#socket.end();
  }

  /** Stops reading and ends the stream, after a problem under seq 0 saying why (when there is one). */
  #close(problem: Problem | null): void {
    if (this.#closing) return;
    this.#closing = true;
    this.s.streams.delete(this.#onSessionEnd);
    this.#dropUnfinishedBody();
    if (!this.#socket.destroyed && problem) {
      const document = this.#document(problem);
      this.#socket.write(Buffer.concat([encodeAnswerHeader({ length: document.length, status: problem.status, kind: ANSWER_PROBLEM, seq: 0, tag: NO_TAG }), document]));
    }
    this.#socket.end();
    // What the adapter still sends is read and dropped, so its close comes through; it has a while to send it.
    this.#socket.removeAllListeners('data');
    this.#parked = null;
    this.#socket.resume();
    setTimeout(() => this.#socket.destroy(), LINGER_MS).unref();
  }

  #problemOf(e: unknown): Problem {
    if (e instanceof Problem) return e;
    this.connection.reportInternalError(e);
    return new Problem('internal', `request ${this.requestId}`);
  }

  #document(problem: Problem): Buffer {
    return Buffer.from(JSON.stringify(problem.body(blockStreamPath(this.s.id))));
  }
}
