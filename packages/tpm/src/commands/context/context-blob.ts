// Saved contexts (Part 1 §30, reference Context_spt.c): the TPMS_CONTEXT_DATA a context is saved
// as. Its body is encrypted and HMACed with keys derived from a secret this TPM never reveals
// and the proof of the context's hierarchy; the HMAC also covers a value that changes at every
// TPM Reset (and, for stClear objects, at every TPM Restart), the sequence number and the saved
// handle, so a context tampered with, or kept across a reset, answers TPM_RC_INTEGRITY.
// A saved session leaves only its fingerprint in the blob; the TPM keeps the session itself,
// its handle reserved, until the blob is loaded once or the session is flushed.

import { randomBytes, timingSafeEqual } from 'node:crypto';
import { marshal, struct, u32, u8, unmarshal, type Infer } from '../../wire/codec.js';
import { TPM_ALG, TPM_RC, TPM_RH } from '../../wire/constants.js';
import { rcParam } from '../../wire/rc.js';
import { TPM2B_CONTEXT_SENSITIVE, TPM2B_DIGEST, TPM2B_NAME, TPM2B_PUBLIC, TPM2B_SENSITIVE, TPMT_PUBLIC } from '../../wire/types/index.js';
import { splitDigestAndData } from '../../crypto/blob-layout.js';
import { digest, hmac } from '../../crypto/hash.js';
import { kdfa } from '../../crypto/kdf.js';
import { cfbDecrypt, cfbEncrypt } from '../../crypto/symmetric.js';
import { fail } from '../../engine/command.js';
import { objectName } from '../../engine/names.js';
import { ownBytes } from '../../engine/owned-bytes.js';
import type { TpmObject } from '../../engine/objects.js';
import type { Tpm } from '../../engine/tpm.js';

/** savedHandle of an object context (Part 2 §14.5): ordinary, hash sequence, stClear. */
export const SAVED_OBJECT = 0x80000000;
export const SAVED_STCLEAR_OBJECT = 0x80000002;

const HASH = TPM_ALG.SHA256;
const KEY_BYTES = 16;
const IV_BYTES = 16;

interface ContextKeys {
  secret: Buffer;
  sequence: bigint;
}
const perTpm = new WeakMap<Tpm, ContextKeys>();

function state(tpm: Tpm): ContextKeys {
  let s = perTpm.get(tpm);
  if (!s) perTpm.set(tpm, (s = { secret: randomBytes(32), sequence: 0n }));
  return s;
}

/** This TPM's context secret and sequence number, for its persistent state (engine/state.ts). */
export function exportContextSecret(tpm: Tpm): { secret: Buffer; sequence: bigint } {
  const s = state(tpm);
  return { secret: Buffer.from(s.secret), sequence: s.sequence };
}
export function importContextSecret(tpm: Tpm, saved: { secret: Buffer; sequence: bigint }): void {
  perTpm.set(tpm, { secret: ownBytes(saved.secret), sequence: saved.sequence });
}

/** The next context sequence number (Part 1 §30.2: never repeats). */
export function nextSequence(tpm: Tpm): bigint {
  return ++state(tpm).sequence;
}

function be(v: bigint | number, bytes: number): Buffer {
  const b = Buffer.alloc(bytes);
  if (bytes === 8) b.writeBigUInt64BE(BigInt(v));
  else b.writeUInt32BE(Number(v) >>> 0);
  return b;
}

/** hProof of Part 1 §30.3: this TPM's context secret bound to the hierarchy's current seed. */
function proof(tpm: Tpm, hierarchy: number): Buffer {
  return hmac(HASH, state(tpm).secret, Buffer.from('CONTEXT PROOF'), be(hierarchy, 4), tpm.hierarchy.seed(hierarchy));
}

/** resetValue (|| clearCount for stClear objects): the null seed is replaced at every TPM Reset. */
function epoch(tpm: Tpm, savedHandle: number): Buffer {
  const reset = digest(HASH, tpm.hierarchy.seed(TPM_RH.NULL));
  return savedHandle === SAVED_STCLEAR_OBJECT ? Buffer.concat([reset, be(tpm.clock.restartCount, 4)]) : reset;
}

export interface ContextHeader {
  sequence: bigint;
  savedHandle: number;
  hierarchy: number;
}

function keys(tpm: Tpm, h: ContextHeader): { key: Buffer; iv: Buffer; mac: Buffer } {
  const p = proof(tpm, h.hierarchy);
  const kv = kdfa(HASH, p, 'CONTEXT', be(h.sequence, 8), be(h.savedHandle, 4), (KEY_BYTES + IV_BYTES) * 8);
  return { key: kv.subarray(0, KEY_BYTES), iv: kv.subarray(KEY_BYTES), mac: p };
}

/** Seal `body` into a TPM2B_CONTEXT_DATA: TPM2B_DIGEST(integrity) || TPM2B_CONTEXT_SENSITIVE(enc). */
export function sealContext(tpm: Tpm, h: ContextHeader, body: Buffer): Buffer {
  const k = keys(tpm, h);
  const encrypted = marshal(TPM2B_CONTEXT_SENSITIVE, cfbEncrypt(k.key, Buffer.concat([be(h.sequence, 8), body]), k.iv));
  const integrity = hmac(HASH, k.mac, epoch(tpm, h.savedHandle), be(h.sequence, 8), be(h.savedHandle, 4), encrypted);
  return Buffer.concat([marshal(TPM2B_DIGEST, integrity), encrypted]);
}

/** Check and open a context blob (parameter 1 of ContextLoad); returns the body. */
export function openContext(tpm: Tpm, h: ContextHeader, blob: Buffer): Buffer {
  const parts = splitDigestAndData(blob);
  if (!parts || parts.digest.length !== 32 || parts.data.length < 2) return fail(rcParam(TPM_RC.SIZE, 1));
  const k = keys(tpm, h);
  const expected = hmac(HASH, k.mac, epoch(tpm, h.savedHandle), be(h.sequence, 8), be(h.savedHandle, 4), parts.data);
  if (!timingSafeEqual(expected, parts.digest)) fail(rcParam(TPM_RC.INTEGRITY, 1));
  let plain: Buffer;
  try {
    plain = cfbDecrypt(k.key, unmarshal(TPM2B_CONTEXT_SENSITIVE, parts.data), k.iv);
  } catch {
    return fail(rcParam(TPM_RC.INTEGRITY, 1));
  }
  if (plain.length < 8 || !plain.subarray(0, 8).equals(be(h.sequence, 8))) fail(rcParam(TPM_RC.INTEGRITY, 1));
  return plain.subarray(8);
}

// ---- the saved form of an object ------------------------------------------------------------------

const SavedObject = struct('SavedObject', {
  hierarchy: u32,
  flags: u8,
  qualifiedName: TPM2B_NAME,
  public: TPM2B_PUBLIC.plus,
  sensitive: TPM2B_SENSITIVE,
});
type SavedObject = Infer<typeof SavedObject>;

const PRIMARY = 1;
const EXTERNAL = 2;

export function saveObject(obj: TpmObject): Buffer {
  const flags = (obj.isPrimary ? PRIMARY : 0) | (obj.isExternal ? EXTERNAL : 0);
  const saved: SavedObject = { hierarchy: obj.hierarchy, flags, qualifiedName: obj.qualifiedName, public: obj.public, sensitive: obj.sensitive };
  return marshal(SavedObject, saved);
}

export function restoreObject(body: Buffer): TpmObject {
  let s: SavedObject;
  try {
    s = unmarshal(SavedObject, body);
  } catch {
    return fail(rcParam(TPM_RC.INTEGRITY, 1));
  }
  return {
    public: s.public,
    publicArea: marshal(TPMT_PUBLIC.plus, s.public),
    name: objectName(s.public),
    sensitive: s.sensitive,
    authValue: s.sensitive ? s.sensitive.authValue : Buffer.alloc(0),
    hierarchy: s.hierarchy,
    qualifiedName: s.qualifiedName,
    isPrimary: (s.flags & PRIMARY) !== 0,
    isExternal: (s.flags & EXTERNAL) !== 0,
  };
}
