// The wire under a block session (block-session.ts): binary requests on the data plane, each
// sealed under the session key — authenticated, and encrypted when it carries plaintext sectors —
// and block operations' answers sealed back (the formats and BODY_SEALS of @sealkeep/crypto's
// block-session.ts). Block operations go as frames
// on the session's block stream (block-stream.ts: one connection, pipelined) unless the session
// was opened without it; everything else (a volume attestation, the close), and block operations
// without the stream, as HTTP requests (`Authorization: Sealkeep-Session <seq>.<tag>`, the
// answer's seal in `Sealkeep-Session-Tag`) over a few keep-alive connections at once.
//
// Bodies are lists of buffers sealed where they lie and written one after another (no
// concatenation: a megabyte copied is a megabyte of page faults): a request's parts are the
// caller's to give up, and hold ciphertext once sent (when encrypted). Answers are read from the socket straight
// into buffers the caller names (sinks) and opened there, so a decrypted run lands where the
// caller wants it; an answer whose seal does not hold is an error, and its sinks hold nothing to
// use. A request whose connection (or stream) was lost before its answer began, or that was
// answered with a problem, has its parts unsealed again (the same keystream once more), so it can
// be sent again — never before every byte of them has left sealed or been dropped with the
// socket (an answer can come before the body is read: block-connection.ts, block-stream.ts). At
// most `connections` requests are in flight (without the stream, each on a keep-alive connection
// of its own); a sequence number is drawn only when a request is about to
// be written, so numbers reach the service in nearly increasing order and stay well inside its
// replay window. A request whose keep-alive connection the server had closed while idle, or
// whose stream was lost before any of its answer came, is sent once more on a fresh one (block
// operations are pure functions of their input).

import { BODY_SEALS, OTHER_BODY_SEALS, blockRequestUrl, blockStreamPath, openBody, sealBody, sessionAuthorization, type BlockOp, type BodySeal, type BodySeals } from '@sealkeep/crypto';
import { SealkeepError } from '../client.js';
import { BlockConnection, ConnectionLost, problemDocument } from './block-connection.js';
import { BlockStream } from './block-stream.js';

/** The session's answer named a problem: the problem document, parsed. */
export interface ProblemAnswer {
  status: number;
  problem: Record<string, unknown>;
}

/** A block operation's answer that does not open under the session key: altered on its way, or not the service's. */
export class AnswerSealError extends Error {
  constructor(method: string, path: string) {
    super(`the data plane's answer to ${method.toUpperCase()} ${path} does not hold its seal under the session key (altered on its way, or not from the service)`);
    this.name = 'AnswerSealError';
  }
}

/** A counting semaphore: `acquire` resolves when one of `size` slots is free. */
class Slots {
  #free: number;
  readonly #waiting: Array<() => void> = [];
  constructor(size: number) {
    this.#free = size;
  }
  acquire(): Promise<void> {
    if (this.#free > 0) {
      this.#free--;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#waiting.push(resolve));
  }
  release(): void {
    const next = this.#waiting.shift();
    if (next) next();
    else this.#free++;
  }
}

export interface BlockTransportOptions {
  /** The data plane's origin, e.g. http://127.0.0.1:7411. */
  baseUrl: string;
  sessionId: string;
  key: Buffer;
  /** Requests in flight at most (and, without the stream, connections). */
  connections: number;
  /** Block operations as frames on the session's block stream (true), or one HTTP request each. */
  stream: boolean;
  /** A request with no answer after this long fails (ETIMEDOUT). */
  timeoutMs: number;
}

export class BlockTransport {
  readonly #origin: URL;
  readonly #sessionId: string;
  readonly #useStream: boolean;
  readonly #key: Buffer;
  readonly #slots: Slots;
  readonly #timeoutMs: number;
  /** Idle keep-alive connections, the most recently used last. */
  readonly #idle: BlockConnection[] = [];
  readonly #open = new Set<BlockConnection>();
  #stream: BlockStream | null = null;
  /** Told when the service closes a stream with a problem under seq 0, whether or not requests waited for it. */
  onStreamClosedWith: ((answer: ProblemAnswer) => void) | null = null;
  #streamOpening: Promise<BlockStream | ProblemAnswer> | null = null;
  #seq = 0;
  #destroyed = false;

  constructor(o: BlockTransportOptions) {
    this.#origin = new URL(o.baseUrl);
    this.#sessionId = o.sessionId;
    this.#useStream = o.stream;
    this.#key = Buffer.from(o.key);
    this.#slots = new Slots(o.connections);
    this.#timeoutMs = o.timeoutMs;
  }

  /**
   * One sealed request: `parts` are the body in order (sealed where they lie: the caller gives
   * them up); a 2xx answer's bytes fill `sinks` in order (each entirely: the answer must be
   * exactly their total length) and are opened there, or, when sinks is null (not a block
   * operation: its answer is not sealed), come back as one buffer. A problem answer resolves as
   * a ProblemAnswer, with the parts unsealed again. `seals`: how the body and the answer are
   * sealed (a block operation's BODY_SEALS; every other body is encrypted).
   */
  async send(method: string, path: string, parts: readonly Uint8Array[], sinks: readonly Buffer[] | null, seals: BodySeals = OTHER_BODY_SEALS): Promise<Buffer | ProblemAnswer | null> {
    await this.#slots.acquire();
    try {
      const reused = this.#idle.pop();
      try {
        return await this.#once(reused ?? (await this.#connect()), method, path, parts, sinks, seals);
      } catch (e) {
        // A keep-alive connection the server closed while it was idle: once more on a fresh one.
        if (!(reused && e instanceof ConnectionLost)) throw e;
        return await this.#once(await this.#connect(), method, path, parts, sinks, seals);
      }
    } finally {
      this.#slots.release();
    }
  }

  /**
   * One block operation: on the session's block stream (opened at the first, and again after it
   * is lost), or as an HTTP request. Its answer fills `sinks` and is opened there; a problem
   * resolves as a ProblemAnswer with the parts unsealed again. A request lost with its stream
   * before any of its answer came is sent once more, on a new one.
   */
  async block(op: BlockOp, lba: bigint, parts: readonly Uint8Array[], sinks: readonly Buffer[]): Promise<ProblemAnswer | null> {
    if (!this.#useStream) return (await this.send('POST', blockRequestUrl(this.#sessionId, op, lba), parts, sinks, BODY_SEALS[op])) as ProblemAnswer | null;
    await this.#slots.acquire();
    try {
      try {
        return await this.#onStream(op, lba, parts, sinks);
      } catch (e) {
        if (!(e instanceof ConnectionLost)) throw e;
        return await this.#onStream(op, lba, parts, sinks);
      }
    } finally {
      this.#slots.release();
    }
  }

  async #onStream(op: BlockOp, lba: bigint, parts: readonly Uint8Array[], sinks: readonly Buffer[]): Promise<ProblemAnswer | null> {
    const stream = await this.#openStream();
    if (!(stream instanceof BlockStream)) return stream;
    if (this.#destroyed) throw new Error('the block session is closed');
    const seq = ++this.#seq;
    const url = blockRequestUrl(this.#sessionId, op, lba);
    const seals = BODY_SEALS[op];
    const tag = sealBody(this.#key, seq, 'request', seals.request, 'POST', url, parts);
    const unseal = this.#unsealer(seq, seals.request, 'POST', url, parts);
    let answer;
    try {
      answer = await stream.send({ op, seq, lba, tag }, parts, sinks);
    } catch (e) {
      if (e instanceof ConnectionLost) unseal();
      throw e;
    }
    if (answer.sealed) {
      if (!openBody(this.#key, seq, 'answer', seals.answer, 'POST', url, sinks, answer.tag)) throw new AnswerSealError('POST', url);
      return null;
    }
    unseal();
    return { status: answer.status, problem: answer.problem };
  }

  /** What gives a sealed request's parts back as they were: the same keystream once more unless they were only authenticated (as sealBody encrypts unless told they are). */
  #unsealer(seq: number, seal: BodySeal, method: string, path: string, parts: readonly Uint8Array[]): () => void {
    return () => void (seal !== 'authenticated' && sealBody(this.#key, seq, 'request', seal, method, path, parts));
  }

  /** The open block stream, or a new one (its upgrade sealed under the session like any request); the problem it was refused with. */
  #openStream(): Promise<BlockStream | ProblemAnswer> {
    if (this.#destroyed) return Promise.reject(new Error('the block session is closed'));
    if (this.#stream?.usable) return Promise.resolve(this.#stream);
    this.#streamOpening ??= (async () => {
      try {
        const seq = ++this.#seq;
        const tag = sealBody(this.#key, seq, 'request', OTHER_BODY_SEALS.request, 'GET', blockStreamPath(this.#sessionId), []);
        const opened = await BlockStream.open(this.#origin, this.#sessionId, seq, tag, this.#timeoutMs);
        if (!(opened instanceof BlockStream)) return opened;
        opened.onClosedWith = (answer) => this.onStreamClosedWith?.(answer);
        if (this.#destroyed) opened.destroy();
        else this.#stream = opened;
        return opened;
      } finally {
        this.#streamOpening = null;
      }
    })();
    return this.#streamOpening;
  }

  async #connect(): Promise<BlockConnection> {
    if (this.#destroyed) throw new Error('the block session is closed');
    const connection = await BlockConnection.open(this.#origin, this.#timeoutMs);
    this.#open.add(connection);
    return connection;
  }

  async #once(connection: BlockConnection, method: string, path: string, parts: readonly Uint8Array[], sinks: readonly Buffer[] | null, seals: BodySeals): Promise<Buffer | ProblemAnswer | null> {
    if (this.#destroyed) throw new Error('the block session is closed');
    const seq = ++this.#seq;
    const tag = sealBody(this.#key, seq, 'request', seals.request, method, path, parts);
    const unseal = this.#unsealer(seq, seals.request, method, path, parts);
    const length = parts.reduce((n, p) => n + p.length, 0);
    const head =
      `${method.toUpperCase()} ${path} HTTP/1.1\r\nHost: ${this.#origin.host}\r\n` +
      `Authorization: ${sessionAuthorization(seq, tag)}\r\n` +
      `Content-Type: application/octet-stream\r\nContent-Length: ${length}\r\n` +
      'Accept: application/octet-stream, application/problem+json\r\nConnection: keep-alive\r\n\r\n';
    let answer;
    try {
      answer = await connection.request(head, parts, sinks);
    } catch (e) {
      this.#open.delete(connection);
      connection.destroy();
      if (e instanceof ConnectionLost) unseal();
      throw e;
    }
    if (connection.reusable && !this.#destroyed) this.#idle.push(connection);
    else this.#open.delete(connection);
    const { status, contentType, body } = answer;
    if (status >= 200 && status < 300) {
      if (sinks === null) return body;
      if (body !== null && sinks.some((s) => s.length > 0)) throw new Error(`the data plane answered ${contentType || 'no content type'} where sectors were expected`);
      const sealed = body === null ? sinks : [body];
      if (answer.sessionTag === null || !openBody(this.#key, seq, 'answer', seals.answer, method, path, sealed, Buffer.from(answer.sessionTag, 'base64url'))) throw new AnswerSealError(method, path);
      return body;
    }
    unseal();
    return { status, problem: problemDocument(body!) };
  }

  destroy(): void {
    this.#destroyed = true;
    this.#key.fill(0);
    this.#stream?.destroy();
    for (const connection of this.#open) connection.destroy();
    this.#open.clear();
    this.#idle.length = 0;
  }
}

/** A problem answer as the SDK's error. */
export function problemError(answer: ProblemAnswer): SealkeepError {
  const { status, problem } = answer;
  return new SealkeepError(status, String(problem.type ?? 'about:blank'), problem.detail as string | undefined, problem);
}
