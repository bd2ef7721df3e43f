// The byte formats of what AES keys produce, each led by the key version that made it so
// rotation never strands old data:
//
//   ciphertext   "SK" 0x01 | version u32 BE | IV (12) | AES-256-GCM ciphertext | tag (16)
//                AAD = "sealkeep/v1/aes-256-gcm" 0x00 | key id (16 bytes) | version u32 BE | caller's AAD
//   wrapped key  "SK" 0x02 | version u32 BE | AES key wrap with padding (RFC 5649) of the data key
//
// A ciphertext moved to another key, another version or another AAD does not open.

import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { KWP_ALTERNATIVE_IV } from '@sealkeep/crypto';
import { Problem } from '../../http/problems.js';

const MAGIC = Buffer.from('SK');
const GCM = 0x01;
const KWP = 0x02;
const HEADER = 7;
const IV = 12;
const TAG = 16;
const GCM_DOMAIN = Buffer.from('sealkeep/v1/aes-256-gcm\0');

function header(kind: number, version: number): Buffer {
  const h = Buffer.alloc(HEADER);
  MAGIC.copy(h);
  h[2] = kind;
  h.writeUInt32BE(version, 3);
  return h;
}

function aadFor(keyId: string, version: number, aad: Buffer): Buffer {
  const v = Buffer.alloc(4);
  v.writeUInt32BE(version);
  return Buffer.concat([GCM_DOMAIN, Buffer.from(keyId.replace(/-/g, ''), 'hex'), v, aad]);
}

/** The key version a ciphertext or wrapped key names, or a decryption-failed problem. */
export function versionOf(blob: Buffer, kind: 'ciphertext' | 'wrapped'): number {
  const expected = kind === 'ciphertext' ? GCM : KWP;
  const min = kind === 'ciphertext' ? HEADER + IV + TAG : HEADER + 16;
  if (blob.length < min || !blob.subarray(0, 2).equals(MAGIC) || blob[2] !== expected) throw new Problem('decryption-failed', `not a Sealkeep ${kind}`);
  return blob.readUInt32BE(3);
}

export function sealGcm(secret: Buffer, keyId: string, version: number, plaintext: Buffer, aad: Buffer): Buffer {
  const iv = randomBytes(IV);
  const c = createCipheriv('aes-256-gcm', secret, iv);
  c.setAAD(aadFor(keyId, version, aad));
  const body = Buffer.concat([c.update(plaintext), c.final()]);
  return Buffer.concat([header(GCM, version), iv, body, c.getAuthTag()]);
}

export function openGcm(secret: Buffer, keyId: string, blob: Buffer, aad: Buffer): Buffer {
  const version = versionOf(blob, 'ciphertext');
  const iv = blob.subarray(HEADER, HEADER + IV);
  const d = createDecipheriv('aes-256-gcm', secret, iv);
  d.setAAD(aadFor(keyId, version, aad));
  d.setAuthTag(blob.subarray(blob.length - TAG));
  try {
    return Buffer.concat([d.update(blob.subarray(HEADER + IV, blob.length - TAG)), d.final()]);
  } catch {
    throw new Problem('decryption-failed');
  }
}

export function wrapKwp(secret: Buffer, version: number, dataKey: Buffer): Buffer {
  const c = createCipheriv('id-aes256-wrap-pad', secret, KWP_ALTERNATIVE_IV);
  return Buffer.concat([header(KWP, version), c.update(dataKey), c.final()]);
}

export function unwrapKwp(secret: Buffer, blob: Buffer): Buffer {
  versionOf(blob, 'wrapped');
  const d = createDecipheriv('id-aes256-wrap-pad', secret, KWP_ALTERNATIVE_IV);
  try {
    return Buffer.concat([d.update(blob.subarray(HEADER)), d.final()]);
  } catch {
    throw new Problem('decryption-failed');
  }
}
