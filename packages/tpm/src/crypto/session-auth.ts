// The HMAC-session arithmetic of Part 1 §19 (Authorizations): the session key derived at
// TPM2_StartAuthSession, cpHash and rpHash over a command's or response's handles' Names and
// parameters, and the command and response HMACs that prove knowledge of an authValue.

import { hmac, digest, digestSize } from './hash.js';
import { kdfa } from './kdf.js';

const EMPTY = Buffer.alloc(0);

function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v >>> 0);
  return b;
}

export interface SessionKeyInput {
  /** authHash of the session. */
  readonly hashAlg: number;
  /** authValue of the bind entity (empty for unbound sessions). */
  readonly bindAuth: Uint8Array;
  /** The decrypted salt (empty for unsalted sessions). */
  readonly salt: Uint8Array;
  readonly nonceTpm: Uint8Array;
  readonly nonceCaller: Uint8Array;
  /** The session has a bind entity (bind ≠ TPM_RH_NULL), even one whose authValue is empty. */
  readonly bound?: boolean;
}

/**
 * sessionKey = KDFa(authHash, bind.authValue || salt, "ATH", nonceTPM, nonceCaller, digestBits),
 * or empty when the session is neither bound nor salted (Part 1 §19.6.8). A session bound to
 * an entity with an empty authValue still gets a key (KDFa with an empty HMAC key), as in the
 * reference SessionCreate().
 */
export function sessionKey(s: SessionKeyInput): Buffer {
  const key = Buffer.concat([s.bindAuth, s.salt]);
  if (key.length === 0 && !s.bound) return EMPTY;
  return kdfa(s.hashAlg, key, 'ATH', s.nonceTpm, s.nonceCaller, digestSize(s.hashAlg) * 8);
}

/** cpHash = H(commandCode || Name(handle1) || Name(handle2) || Name(handle3) || parameters) (Part 1 §18.7). */
export function cpHash(hashAlg: number, commandCode: number, names: readonly Uint8Array[], parameters: Uint8Array): Buffer {
  return digest(hashAlg, u32(commandCode), ...names, parameters);
}

/** rpHash = H(responseCode || commandCode || parameters) (Part 1 §18.8); responseCode is 0 when it is computed. */
export function rpHash(hashAlg: number, responseCode: number, commandCode: number, parameters: Uint8Array): Buffer {
  return digest(hashAlg, u32(responseCode), u32(commandCode), parameters);
}

export interface CommandHmacInput {
  readonly hashAlg: number;
  readonly sessionKey: Uint8Array;
  /** authValue of the entity being authorized; empty when the session is bound to it (§19.6.9). */
  readonly authValue: Uint8Array;
  readonly cpHash: Uint8Array;
  readonly nonceCaller: Uint8Array;
  readonly nonceTpm: Uint8Array;
  /** nonceTPM of the decrypt session, when it is another session and is the first session (§19.6.5). */
  readonly nonceTpmDecrypt?: Uint8Array;
  /** nonceTPM of the encrypt session, likewise. */
  readonly nonceTpmEncrypt?: Uint8Array;
  readonly sessionAttributes: number;
}

/**
 * Command HMAC, Part 1 §19.6.5: HMAC(sessionKey || authValue, cpHash || nonceNewer (caller)
 * || nonceOlder (TPM) || nonceTPMdecrypt || nonceTPMencrypt || sessionAttributes).
 */
export function commandHmac(c: CommandHmacInput): Buffer {
  return hmac(
    c.hashAlg,
    Buffer.concat([c.sessionKey, c.authValue]),
    c.cpHash,
    c.nonceCaller,
    c.nonceTpm,
    c.nonceTpmDecrypt ?? EMPTY,
    c.nonceTpmEncrypt ?? EMPTY,
    Buffer.of(c.sessionAttributes & 0xff),
  );
}

export interface ResponseHmacInput {
  readonly hashAlg: number;
  readonly sessionKey: Uint8Array;
  readonly authValue: Uint8Array;
  readonly rpHash: Uint8Array;
  /** The TPM's new nonce (nonceNewer of the response). */
  readonly nonceTpm: Uint8Array;
  readonly nonceCaller: Uint8Array;
  readonly sessionAttributes: number;
}

/**
 * Response HMAC, Part 1 §19.6.6 (as §19.6.5 with the nonces swapped and no extra nonces):
 * HMAC(sessionKey || authValue, rpHash || nonceTPM || nonceCaller || sessionAttributes).
 */
export function responseHmac(r: ResponseHmacInput): Buffer {
  return hmac(r.hashAlg, Buffer.concat([r.sessionKey, r.authValue]), r.rpHash, r.nonceTpm, r.nonceCaller, Buffer.of(r.sessionAttributes & 0xff));
}
