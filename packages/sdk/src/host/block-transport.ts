// The wire under a block session (block-session.ts): binary requests on the data plane, each
// authenticated by the session key (`Authorization: Sealkeep-Session <seq>.<tag>`, the format of
// @sealkeep/crypto's block-session.ts), sent over a few keep-alive connections at once.
//
// Bodies are lists of buffers written one after another (no concatenation: a megabyte copied is
// a megabyte of page faults), and the MAC is computed over the same list. Answers are read from
// the socket straight into buffers the caller names (sinks; block-connection.ts), so a decrypted
// run lands where the caller wants it. At most `connections` requests are in flight, each on a
// keep-alive connection of its own; a sequence number is drawn only when a request has its
// connection, so numbers reach the service in nearly increasing order and stay well inside its
// replay window. A keep-alive connection the server closed while idle is retried once on a fresh
// one (block operations are pure functions of their input).

import { createCipheriv } from 'node:crypto';
import { SESSION_SCHEME } from '@sealkeep/crypto';
import { SealkeepError } from '../client.js';
import { BlockConnection, ConnectionLost } from './block-connection.js';

/** The session's answer named a problem: the problem document, parsed. */
export interface ProblemAnswer {
  status: number;
  problem: Record<string, unknown>;
}

/** GMAC over METHOD ‖ " " ‖ path?query ‖ "\n" ‖ body parts, IV = 0⁴ ‖ seq (u64 BE): sessionTag() of @sealkeep/crypto over a body in parts. */
export function sessionTagOver(key: Buffer, seq: number, method: string, url: string, parts: readonly Uint8Array[]): Buffer {
  const iv = Buffer.alloc(12);
  iv.writeBigUInt64BE(BigInt(seq), 4);
  const gmac = createCipheriv('aes-256-gcm', key, iv);
  gmac.setAAD(Buffer.from(`${method.toUpperCase()} ${url}\n`));
  for (const part of parts) if (part.length > 0) gmac.setAAD(part);
  gmac.final();
  return gmac.getAuthTag();
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
  key: Buffer;
  /** Requests (and connections) in flight at most. */
  connections: number;
  /** A request with no answer after this long fails (ETIMEDOUT). */
  timeoutMs: number;
}

export class BlockTransport {
  readonly #origin: URL;
  readonly #key: Buffer;
  readonly #slots: Slots;
  readonly #timeoutMs: number;
  /** Idle keep-alive connections, the most recently used last. */
  readonly #idle: BlockConnection[] = [];
  readonly #open = new Set<BlockConnection>();
  #seq = 0;
  #destroyed = false;

  constructor(o: BlockTransportOptions) {
    this.#origin = new URL(o.baseUrl);
    this.#key = Buffer.from(o.key);
    this.#slots = new Slots(o.connections);
    this.#timeoutMs = o.timeoutMs;
  }

  /**
   * One authenticated request: `parts` are the body in order; a 2xx answer's bytes fill `sinks` in
   * order (each entirely: the answer must be exactly their total length), or, when sinks is null,
   * come back as one buffer. A problem answer resolves as a ProblemAnswer.
   */
  async send(method: string, path: string, parts: readonly Uint8Array[], sinks: readonly Buffer[] | null): Promise<Buffer | ProblemAnswer | null> {
    await this.#slots.acquire();
    try {
      const reused = this.#idle.pop();
      try {
        return await this.#once(reused ?? (await this.#connect()), method, path, parts, sinks);
      } catch (e) {
        // A keep-alive connection the server closed while it was idle: once more on a fresh one.
        if (!(reused && e instanceof ConnectionLost)) throw e;
        return await this.#once(await this.#connect(), method, path, parts, sinks);
      }
    } finally {
      this.#slots.release();
    }
  }

  async #connect(): Promise<BlockConnection> {
    if (this.#destroyed) throw new Error('the block session is closed');
    const connection = await BlockConnection.open(this.#origin, this.#timeoutMs);
    this.#open.add(connection);
    return connection;
  }

  async #once(connection: BlockConnection, method: string, path: string, parts: readonly Uint8Array[], sinks: readonly Buffer[] | null): Promise<Buffer | ProblemAnswer | null> {
    if (this.#destroyed) throw new Error('the block session is closed');
    const seq = ++this.#seq;
    const tag = sessionTagOver(this.#key, seq, method, path, parts);
    const length = parts.reduce((n, p) => n + p.length, 0);
    const head =
      `${method.toUpperCase()} ${path} HTTP/1.1\r\nHost: ${this.#origin.host}\r\n` +
      `Authorization: ${SESSION_SCHEME} ${seq}.${tag.toString('base64url')}\r\n` +
      `Content-Type: application/octet-stream\r\nContent-Length: ${length}\r\n` +
      'Accept: application/octet-stream, application/problem+json\r\nConnection: keep-alive\r\n\r\n';
    let answer;
    try {
      answer = await connection.request(head, parts, sinks);
    } catch (e) {
      this.#open.delete(connection);
      connection.destroy();
      throw e;
    }
    if (connection.reusable && !this.#destroyed) this.#idle.push(connection);
    else this.#open.delete(connection);
    const { status, contentType, body } = answer;
    if (status >= 200 && status < 300) {
      if (body === null) return null; // read into the sinks
      if (sinks !== null && sinks.some((s) => s.length > 0)) throw new Error(`the data plane answered ${contentType || 'no content type'} where sectors were expected`);
      return body;
    }
    let problem: Record<string, unknown>;
    try {
      problem = JSON.parse(body!.toString('utf8')) as Record<string, unknown>;
    } catch {
      problem = { type: 'about:blank', detail: body!.toString('utf8').slice(0, 200) };
    }
    return { status, problem };
  }

  destroy(): void {
    this.#destroyed = true;
    this.#key.fill(0);
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
