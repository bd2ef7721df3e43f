// Block sessions' sealed bodies, both ends (the service opens requests and seals answers, the
// SDK's client the other way round). A block session's key (agreed by ECDH P-256 when the session
// opened; HKDF-SHA-256, salt = the session id, info below) authenticates every body that travels
// under it, and encrypts every body that carries plaintext sectors, so sectors cross the network
// as ciphertext whatever carries them, and no database round trip or pass of SHA-256 over a
// megabyte is needed to check a request:
//
//   request  Authorization: Sealkeep-Session <seq>.<tag>       seq: decimal, 1 … 2^53−1, unique per session
//            AAD  = METHOD ‖ " " ‖ path?query ‖ "\n"
//            encrypted:      body = AES-256-GCM(key, IV = 0x00000000 ‖ seq u64 BE, AAD, body), tag its GCM tag
//            authenticated:  body as it is, tag = GMAC(key, IV, AAD ‖ body) (GCM with no plaintext)
//            (with no body, either is the GMAC of the AAD alone)
//   answer   Sealkeep-Session-Tag: <tag>                       (2xx answers to block operations)
//            the same under IV = 0x00000001 ‖ seq and the same AAD
//
// Which way a body is sealed follows from what it carries (BODY_SEALS): a block operation's body
// is encrypted when it holds plaintext sectors — encrypt's and encrypt-sign's requests, decrypt's
// and verify-decrypt's answers — and only authenticated when it holds nothing but what the
// volume's files give the provider anyway (XTS ciphertext, generations, tags): an observer of the
// network learns no more than the provider's disks show, an alteration still fails the seal, and
// GMAC costs a fraction of GCM's pass. Every other body (the stream's upgrade, volume
// attestations) is encrypted. The key's HKDF info names this format (v2): a peer of another
// format derives another key, and every seal between them fails.
//
// The service accepts each seq once, within a window of the highest seen (requests may overtake
// one another on parallel connections), so no IV repeats under a key. Bodies are sealed and
// opened where they lie (in place, over a list of parts), on the block engine.
//
// The opening itself is signed: the service's answer carries a session proof, a compact JWS
// (typ sealkeep-session+jwt, ES256) by the service's signing key over the session id, volume,
// VM, boot and both ECDH points, so an adapter that holds the service's public key knows the
// point it agrees with is the service's — no one on the network can stand in between.

import { createECDH, hkdfSync, type KeyObject } from 'node:crypto';
import { selectBlockCryptoEngine, type BlockCryptoEngine } from './block/index.js';
import type { BlockOp } from './block-stream.js';
import { decodeJws, jwkThumbprint, publicJwk, signJws, verifyJws } from './jose/jws.js';

export const SESSION_SCHEME = 'Sealkeep-Session';
export const SESSION_KEY_INFO = 'sealkeep/v2/block-session';
const WINDOW = 4096;

export const ANSWER_TAG_HEADER = 'Sealkeep-Session-Tag';
export const SESSION_TAG_BYTES = 16;

/** Which way a body travels: the first four bytes of its IV. */
export type SealDirection = 'request' | 'answer';

/** How a body is sealed: encrypted and authenticated (GCM), or authenticated only (GMAC), crossing as it is. */
export type BodySeal = 'encrypted' | 'authenticated';

/** How a request's body and its answer are sealed. */
export type BodySeals = Readonly<Record<SealDirection, BodySeal>>;

/** Each block operation's bodies, by what they carry: plaintext sectors are encrypted; ciphertext, generations and tags only authenticated. */
export const BODY_SEALS: Readonly<Record<BlockOp, BodySeals>> = {
  encrypt: { request: 'encrypted', answer: 'authenticated' }, // plaintext → ciphertext
  'encrypt-sign': { request: 'encrypted', answer: 'authenticated' }, // generations ‖ plaintext → ciphertext ‖ tags
  sign: { request: 'authenticated', answer: 'authenticated' }, // generations ‖ ciphertext → tags
  verify: { request: 'authenticated', answer: 'authenticated' }, // generations ‖ ciphertext ‖ tags → nothing
  decrypt: { request: 'authenticated', answer: 'encrypted' }, // ciphertext → plaintext
  'verify-decrypt': { request: 'authenticated', answer: 'encrypted' }, // generations ‖ ciphertext ‖ tags → plaintext
};

/** Every body that is not a block operation's (the stream's upgrade, volume attestations, the close): encrypted both ways. */
export const OTHER_BODY_SEALS: BodySeals = { request: 'encrypted', answer: 'encrypted' };

/** How the bodies of a request to the block route `op` (or, undefined or unknown, any other) are sealed. */
export function bodySealsOf(op: string | undefined): BodySeals {
  return op !== undefined && Object.hasOwn(BODY_SEALS, op) ? BODY_SEALS[op as BlockOp] : OTHER_BODY_SEALS;
}

let engine: BlockCryptoEngine | undefined;

function gcm(encrypt: boolean, seal: BodySeal, key: Uint8Array, seq: number, direction: SealDirection, method: string, url: string, parts: readonly Uint8Array[], tag: Uint8Array): boolean {
  const iv = Buffer.alloc(12);
  iv.writeUInt32BE(direction === 'request' ? 0 : 1, 0);
  iv.writeBigUInt64BE(BigInt(seq), 4);
  engine ??= selectBlockCryptoEngine();
  return engine.gcmInPlace(encrypt, key, iv, Buffer.from(`${method.toUpperCase()} ${url}\n`), parts, tag, seal === 'authenticated');
}

/** Seals a body where it lies (its parts, in order: encrypted, or left as they are when only authenticated) and answers its 16-byte tag. */
export function sealBody(key: Uint8Array, seq: number, direction: SealDirection, seal: BodySeal, method: string, url: string, parts: readonly Uint8Array[]): Buffer {
  const tag = Buffer.alloc(SESSION_TAG_BYTES);
  gcm(true, seal, key, seq, direction, method, url, parts, tag);
  return tag;
}

/**
 * Opens a sealed body where it lies (decrypted, or only checked when it was only authenticated)
 * and answers whether its tag holds; when it does not, the parts hold nothing to use (neither what
 * was sent nor what arrived).
 */
export function openBody(key: Uint8Array, seq: number, direction: SealDirection, seal: BodySeal, method: string, url: string, parts: readonly Uint8Array[], tag: Uint8Array): boolean {
  return tag.length === SESSION_TAG_BYTES && gcm(false, seal, key, seq, direction, method, url, parts, tag);
}

/** The Authorization header of a request sealed under `seq` with `tag`. */
export function sessionAuthorization(seq: number, tag: Uint8Array): string {
  return `${SESSION_SCHEME} ${seq}.${Buffer.from(tag.buffer, tag.byteOffset, tag.length).toString('base64url')}`;
}

export const SESSION_PROOF_TYPE = 'sealkeep-session+jwt';

/** What a session proof binds: the session, its volume, VM and boot, and the two ECDH points (base64url). */
export interface SessionOpening {
  sid: string;
  vol: string;
  vm: string;
  boot: string;
  adapter: string;
  service: string;
}

/** The service's proof of a session's opening: a JWS by its signing key (named by `kid`, the key's JWK thumbprint). */
export function signSessionOpening(key: { privateKey: KeyObject; kid: string }, opening: SessionOpening): string {
  return signJws(key.privateKey, { typ: SESSION_PROOF_TYPE, kid: key.kid }, { ...opening, iat: Math.floor(Date.now() / 1000) });
}

/**
 * Why a session proof does not prove `expected` under the service's public key, or null when it
 * does: its type, its key, its signature and every field it binds are checked.
 */
export function sessionProofFault(proof: unknown, serviceKey: KeyObject, expected: SessionOpening): string | null {
  if (typeof proof !== 'string') return 'the answer carries no session proof';
  let jws;
  try {
    jws = decodeJws(proof);
  } catch {
    return 'the session proof is not a JWS';
  }
  if (jws.header.typ !== SESSION_PROOF_TYPE) return `the session proof's type is not ${SESSION_PROOF_TYPE}`;
  if (jws.header.kid !== jwkThumbprint(publicJwk(serviceKey))) return 'the session proof is signed by another key than the service key this adapter trusts';
  if (!verifyJws(jws, serviceKey)) return "the session proof's signature does not verify";
  for (const field of ['sid', 'vol', 'vm', 'boot', 'adapter', 'service'] as const) {
    if (jws.payload[field] !== expected[field]) return `the session proof names another ${field}`;
  }
  return null;
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
