// The wire under a block session (block-session.ts): binary requests on the data plane, each
// authenticated by the session key (`Authorization: Sealkeep-Session <seq>.<tag>`, the format of
// @sealkeep/crypto's block-session.ts), sent over a few keep-alive connections at once.
//
// Bodies are lists of buffers written one after another (no concatenation: a megabyte copied is
// a megabyte of page faults), and the MAC is computed over the same list. Answers are read
// straight into buffers the caller names (sinks), so a decrypted run lands where the caller wants
// it. At most `connections` requests are in flight; a sequence number is drawn only when a
// request gets its connection, so numbers reach the service in nearly increasing order and stay
// well inside its replay window. A keep-alive connection the server closed while idle is retried
// once on a fresh one (block operations are pure functions of their input).

import { createCipheriv } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { SESSION_SCHEME } from '@sealkeep/crypto';
import { SealkeepError } from '../client.js';

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

const RETRYABLE = new Set(['ECONNRESET', 'EPIPE']);

export class BlockTransport {
  readonly #origin: URL;
  readonly #key: Buffer;
  readonly #agent: http.Agent;
  readonly #request: typeof http.request;
  readonly #slots: Slots;
  readonly #timeoutMs: number;
  #seq = 0;
  #destroyed = false;

  constructor(o: BlockTransportOptions) {
    this.#origin = new URL(o.baseUrl);
    this.#key = Buffer.from(o.key);
    const secure = this.#origin.protocol === 'https:';
    const agentOptions = { keepAlive: true, maxSockets: o.connections, maxFreeSockets: o.connections, scheduling: 'lifo' as const };
    this.#agent = secure ? new https.Agent(agentOptions) : new http.Agent(agentOptions);
    this.#request = secure ? https.request : http.request;
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
      try {
        return await this.#once(method, path, parts, sinks);
      } catch (e) {
        if (!(e instanceof StaleConnection)) throw e;
        return await this.#once(method, path, parts, sinks);
      }
    } finally {
      this.#slots.release();
    }
  }

  #once(method: string, path: string, parts: readonly Uint8Array[], sinks: readonly Buffer[] | null): Promise<Buffer | ProblemAnswer | null> {
    if (this.#destroyed) return Promise.reject(new Error('the block session is closed'));
    const seq = ++this.#seq;
    const tag = sessionTagOver(this.#key, seq, method, path, parts);
    const length = parts.reduce((n, p) => n + p.length, 0);
    return new Promise((resolve, reject) => {
      let answered = false;
      const req = this.#request(
        {
          protocol: this.#origin.protocol,
          hostname: this.#origin.hostname.replace(/^\[(.*)\]$/, '$1'),
          port: this.#origin.port,
          method,
          path,
          agent: this.#agent,
          headers: {
            authorization: `${SESSION_SCHEME} ${seq}.${tag.toString('base64url')}`,
            'content-type': 'application/octet-stream',
            'content-length': String(length),
            accept: 'application/octet-stream, application/problem+json',
          },
        },
        (res) => {
          answered = true;
          const status = res.statusCode ?? 0;
          const binary = status >= 200 && status < 300 && sinks !== null && /^application\/octet-stream/.test(res.headers['content-type'] ?? '');
          if (binary) readInto(res, sinks!, resolve, reject);
          else readWhole(res, status, sinks, resolve, reject);
        },
      );
      req.setTimeout(this.#timeoutMs, () => req.destroy(Object.assign(new Error(`no answer from the data plane within ${this.#timeoutMs} ms`), { code: 'ETIMEDOUT' })));
      req.on('error', (e: NodeJS.ErrnoException) => {
        if (!answered && req.reusedSocket && RETRYABLE.has(e.code ?? '')) reject(new StaleConnection());
        else reject(e);
      });
      req.cork();
      for (const part of parts) if (part.length > 0) req.write(part);
      req.end();
    });
  }

  destroy(): void {
    this.#destroyed = true;
    this.#key.fill(0);
    this.#agent.destroy();
  }
}

class StaleConnection extends Error {}

/** Fills the sinks from a binary answer; fails if it is longer or shorter than they are. */
function readInto(res: http.IncomingMessage, sinks: readonly Buffer[], resolve: (v: null) => void, reject: (e: Error) => void): void {
  let index = 0;
  let at = 0;
  let overflow = false;
  const skipEmpty = () => {
    while (index < sinks.length && at === sinks[index]!.length) {
      index++;
      at = 0;
    }
  };
  skipEmpty();
  res.on('data', (chunk: Buffer) => {
    let from = 0;
    while (from < chunk.length) {
      if (index >= sinks.length) {
        overflow = true;
        return;
      }
      const sink = sinks[index]!;
      const n = Math.min(sink.length - at, chunk.length - from);
      chunk.copy(sink, at, from, from + n);
      at += n;
      from += n;
      skipEmpty();
    }
  });
  res.on('error', reject);
  res.on('end', () => {
    if (overflow || index < sinks.length) reject(new Error(`the data plane answered ${overflow ? 'more' : 'fewer'} bytes than the operation yields`));
    else resolve(null);
  });
}

/** A JSON (problem) answer, or a whole binary answer when no sinks were named. */
function readWhole(res: http.IncomingMessage, status: number, sinks: readonly Buffer[] | null, resolve: (v: Buffer | ProblemAnswer) => void, reject: (e: Error) => void): void {
  const chunks: Buffer[] = [];
  res.on('data', (chunk: Buffer) => chunks.push(chunk));
  res.on('error', reject);
  res.on('end', () => {
    const body = Buffer.concat(chunks);
    if (status >= 200 && status < 300) {
      if (sinks !== null && sinks.some((s) => s.length > 0)) return reject(new Error(`the data plane answered ${res.headers['content-type'] ?? 'no content type'} where sectors were expected`));
      return resolve(body);
    }
    let problem: Record<string, unknown>;
    try {
      problem = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
    } catch {
      problem = { type: 'about:blank', detail: body.toString('utf8').slice(0, 200) };
    }
    resolve({ status, problem });
  });
}

/** A problem answer as the SDK's error. */
export function problemError(answer: ProblemAnswer): SealkeepError {
  const { status, problem } = answer;
  return new SealkeepError(status, String(problem.type ?? 'about:blank'), problem.detail as string | undefined, problem);
}
