// RSA encoding methods from PKCS #1 v2.2 (RFC 8017) as the TPM uses them (Part 1 §11.4.3 and
// Annex B): EME-OAEP and EME-PKCS1-v1_5 for encryption, EMSA-PKCS1-v1_5 and EMSA-PSS for
// signatures over a caller-supplied digest. Pure byte transforms; the RSA primitive is rsa.ts.

import { randomBytes, timingSafeEqual } from 'node:crypto';
import { TPM_ALG } from '../wire/constants.js';
import { digest, digestSize } from './hash.js';

/** MGF1(seed, length) with the given hash (RFC 8017 §B.2.1). */
export function mgf1(hashAlg: number, seed: Uint8Array, length: number): Buffer {
  const hLen = digestSize(hashAlg);
  const blocks: Buffer[] = [];
  const counter = Buffer.alloc(4);
  for (let i = 0; i * hLen < length; i++) {
    counter.writeUInt32BE(i);
    blocks.push(digest(hashAlg, seed, counter));
  }
  return Buffer.concat(blocks).subarray(0, length);
}

function xorInto(target: Buffer, mask: Uint8Array): void {
  for (let i = 0; i < target.length; i++) target[i]! ^= mask[i]!;
}

/** Longest message EME-OAEP can carry in k bytes (RFC 8017 §7.1.1 step 1b). */
export function oaepCapacity(hashAlg: number, k: number): number {
  return k - 2 * digestSize(hashAlg) - 2;
}

/**
 * EME-OAEP encoding (RFC 8017 §7.1.1 step 2) into k bytes. `seed` (hLen bytes) is random unless
 * given, which only known-answer tests do. The caller has checked the message fits.
 */
export function oaepEncode(hashAlg: number, k: number, label: Uint8Array, message: Uint8Array, seed?: Uint8Array): Buffer {
  const hLen = digestSize(hashAlg);
  const db = Buffer.alloc(k - hLen - 1);
  digest(hashAlg, label).copy(db, 0);
  db[db.length - message.length - 1] = 0x01;
  Buffer.from(message).copy(db, db.length - message.length);
  const s = Buffer.from(seed ?? randomBytes(hLen));
  if (s.length !== hLen) throw new Error(`OAEP seed must be ${hLen} bytes`);
  xorInto(db, mgf1(hashAlg, s, db.length));
  xorInto(s, mgf1(hashAlg, db, hLen));
  return Buffer.concat([Buffer.of(0), s, db]);
}

/**
 * EME-PKCS1-v1_5 encoding (RFC 8017 §7.2.1 step 2): 0x00 0x02 PS 0x00 M with PS of nonzero
 * random bytes. The caller has checked message.length ≤ k - 11.
 */
export function pkcs1EncryptionEncode(k: number, message: Uint8Array): Buffer {
  const ps = Buffer.alloc(k - message.length - 3);
  for (let filled = 0; filled < ps.length; ) {
    for (const b of randomBytes(ps.length)) if (b !== 0 && filled < ps.length) ps[filled++] = b;
  }
  return Buffer.concat([Buffer.of(0, 2), ps, Buffer.of(0), message]);
}

/**
 * EME-PKCS1-v1_5 decoding (RFC 8017 §7.2.2 step 3): the message, or null for any malformed
 * encoding. The scan does not stop early at the separator.
 */
export function pkcs1EncryptionDecode(em: Uint8Array): Buffer | null {
  let bad = em[0]! | (em[1]! ^ 0x02);
  let separator = 0;
  for (let i = 2; i < em.length; i++) {
    const isZero = em[i] === 0 ? 1 : 0;
    if (separator === 0 && isZero) separator = i;
  }
  if (separator < 10) bad |= 1; // fewer than 8 padding bytes, or no separator
  return bad ? null : Buffer.from(em.subarray(separator + 1));
}

/** DER DigestInfo prefixes of EMSA-PKCS1-v1_5 (RFC 8017 §9.2 note 1). */
const DIGEST_INFO_PREFIX: ReadonlyMap<number, Buffer> = new Map([
  [TPM_ALG.SHA1, Buffer.from('3021300906052b0e03021a05000414', 'hex')],
  [TPM_ALG.SHA256, Buffer.from('3031300d060960864801650304020105000420', 'hex')],
  [TPM_ALG.SHA384, Buffer.from('3041300d060960864801650304020205000430', 'hex')],
  [TPM_ALG.SHA512, Buffer.from('3051300d060960864801650304020305000440', 'hex')],
]);

/**
 * EMSA-PKCS1-v1_5 encoding of a digest into k bytes (RFC 8017 §9.2 steps 2-5), or null when the
 * modulus is too short for the DigestInfo (the TPM's TPM_RC_KEY).
 */
export function pkcs1SignatureEncode(hashAlg: number, k: number, hash: Uint8Array): Buffer | null {
  const prefix = DIGEST_INFO_PREFIX.get(hashAlg);
  if (!prefix) throw new Error(`no DigestInfo for hash 0x${hashAlg.toString(16)}`);
  const t = Buffer.concat([prefix, hash]);
  if (k < t.length + 11) return null;
  return Buffer.concat([Buffer.of(0, 1), Buffer.alloc(k - t.length - 3, 0xff), Buffer.of(0), t]);
}

/**
 * The PSS salt length the TPM uses: the digest size, reduced when the modulus is too short
 * (reference CryptRsa.c PssEncode; FIPS 186-4 §5.5 caps it at hLen).
 */
export function pssSaltLength(hashAlg: number, emLen: number): number {
  const hLen = digestSize(hashAlg);
  return Math.min(hLen, emLen - hLen - 2);
}

/** EMSA-PSS encoding of a digest (RFC 8017 §9.1.1) for a modulus of `modBits` bits. */
export function pssEncode(hashAlg: number, modBits: number, hash: Uint8Array, salt?: Uint8Array): Buffer {
  const hLen = digestSize(hashAlg);
  const emBits = modBits - 1;
  const emLen = Math.ceil(emBits / 8);
  const s = Buffer.from(salt ?? randomBytes(pssSaltLength(hashAlg, emLen)));
  const h = digest(hashAlg, Buffer.alloc(8), hash, s);
  const db = Buffer.alloc(emLen - hLen - 1);
  db[db.length - s.length - 1] = 0x01;
  s.copy(db, db.length - s.length);
  xorInto(db, mgf1(hashAlg, h, db.length));
  db[0]! &= 0xff >> (8 * emLen - emBits);
  return Buffer.concat([db, h, Buffer.of(0xbc)]);
}

/** EMSA-PSS verification (RFC 8017 §9.1.2) accepting any salt length, as the TPM does. */
export function pssVerify(hashAlg: number, modBits: number, hash: Uint8Array, em: Uint8Array): boolean {
  const hLen = digestSize(hashAlg);
  const emBits = modBits - 1;
  const emLen = Math.ceil(emBits / 8);
  if (em.length !== emLen || hash.length !== hLen || emLen < hLen + 2) return false;
  if (em[emLen - 1] !== 0xbc) return false;
  const db = Buffer.from(em.subarray(0, emLen - hLen - 1));
  const h = em.subarray(emLen - hLen - 1, emLen - 1);
  const topMask = 0xff >> (8 * emLen - emBits);
  if ((db[0]! & ~topMask) !== 0) return false;
  xorInto(db, mgf1(hashAlg, h, db.length));
  db[0]! &= topMask;
  const one = db.findIndex((b) => b !== 0);
  if (one < 0 || db[one] !== 0x01) return false;
  const salt = db.subarray(one + 1);
  return timingSafeEqual(digest(hashAlg, Buffer.alloc(8), hash, salt), h);
}
