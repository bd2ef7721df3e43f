// Block sessions' request authentication, both ends (the service checks, the SDK's client
// signs). How a block request proves it comes from its session's holder, without a database round trip
// or a pass of SHA-256 over a megabyte: AES-256-GMAC under the session key (agreed by ECDH P-256
// when the session opened; HKDF-SHA-256, salt = the session id, info below) over the request.
//
//   Authorization: Sealkeep-Session <seq>.<tag>          seq: decimal, 1 … 2^53−1, unique per session
//   tag  = GMAC(key, IV = 0x00000000 ‖ seq u64 BE, AAD = METHOD ‖ " " ‖ path?query ‖ "\n" ‖ body)
//
// The service accepts each seq once, within a window of the highest seen (requests may overtake
// one another on parallel connections).

import { createCipheriv, createECDH, hkdfSync, timingSafeEqual } from 'node:crypto';

export const SESSION_SCHEME = 'Sealkeep-Session';
export const SESSION_KEY_INFO = 'sealkeep/v1/block-session';
const WINDOW = 4096;

export function sessionTag(key: Buffer, seq: number, method: string, url: string, body: Uint8Array): Buffer {
  const iv = Buffer.alloc(12);
  iv.writeBigUInt64BE(BigInt(seq), 4);
  const gmac = createCipheriv('aes-256-gcm', key, iv);
  gmac.setAAD(Buffer.from(`${method.toUpperCase()} ${url}\n`));
  gmac.setAAD(body);
  gmac.final();
  return gmac.getAuthTag();
}

export function sessionAuthorization(key: Buffer, seq: number, method: string, url: string, body: Uint8Array): string {
  return `${SESSION_SCHEME} ${seq}.${sessionTag(key, seq, method, url, body).toString('base64url')}`;
}

/** The session key both ends derive: ECDH P-256 shared secret, HKDF-SHA-256. */
export function deriveSessionKey(sharedSecret: Buffer, sessionId: string): Buffer {
  return Buffer.from(hkdfSync('sha256', sharedSecret, Buffer.from(sessionId), SESSION_KEY_INFO, 32));
}

/** The service's half of the agreement: its ephemeral public point and the derived key. */
export function agreeSessionKey(peerPublicPoint: Buffer, sessionId: string): { publicPoint: Buffer; key: Buffer } {
  const ecdh = createECDH('prime256v1');
  const publicPoint = ecdh.generateKeys();
  const shared = ecdh.computeSecret(peerPublicPoint);
  try {
    return { publicPoint, key: deriveSessionKey(shared, sessionId) };
  } finally {
    shared.fill(0);
  }
}

/** Sequence numbers seen, within a window below the highest. */
export class SeqWindow {
  #highest = 0;
  readonly #seen = new Set<number>();

  /** Whether seq could still be accepted (inside the window, not seen); remembers nothing. */
  fresh(seq: number): boolean {
    return seq > this.#highest - WINDOW && !this.#seen.has(seq);
  }

  /** True (and remembered) the first time seq is presented inside the window. */
  accept(seq: number): boolean {
    if (!this.fresh(seq)) return false;
    this.#seen.add(seq);
    if (seq > this.#highest) {
      this.#highest = seq;
      if (this.#seen.size > 2 * WINDOW) for (const s of this.#seen) if (s <= this.#highest - WINDOW) this.#seen.delete(s);
    }
    return true;
  }
}

/** The seq and tag of a session Authorization header, or null when it is not one. */
export function parseSessionAuthorization(header: string | undefined): { seq: number; tag: Buffer } | null {
  const m = /^Sealkeep-Session ([1-9][0-9]{0,15})\.([A-Za-z0-9_-]{22})$/.exec(header ?? '');
  if (!m) return null;
  const seq = Number(m[1]);
  return Number.isSafeInteger(seq) ? { seq, tag: Buffer.from(m[2]!, 'base64url') } : null;
}

export const sameTag = (a: Buffer, b: Buffer) => a.length === b.length && timingSafeEqual(a, b);
