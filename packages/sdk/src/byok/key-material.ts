// The key material an import carries, per key type (docs/byok.md): raw bytes for aes-256 (32 B),
// hmac-sha256 (32–64 B) and xts-aes-256 (64 B, the halves different); PKCS#8 DER for ec-p256,
// ec-p384, rsa-2048 and rsa-3072. And reading a tenant's key file into that material: PEM
// ("PRIVATE KEY" PKCS#8, "EC PRIVATE KEY" SEC1, "RSA PRIVATE KEY" PKCS#1) or DER for the
// asymmetric types, raw, hex or base64 bytes for the secret ones. The type is detected where the
// file says it, and a file that says something else than the type asked for is refused.

import { createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';

export const KEY_TYPES = ['aes-256', 'hmac-sha256', 'xts-aes-256', 'ec-p256', 'ec-p384', 'rsa-2048', 'rsa-3072'] as const;
export type KeyType = (typeof KEY_TYPES)[number];

/** Material lengths of the secret types, in bytes. */
const SECRET_LENGTH: Partial<Record<KeyType, { min: number; max: number }>> = {
  'aes-256': { min: 32, max: 32 },
  'hmac-sha256': { min: 32, max: 64 },
  'xts-aes-256': { min: 64, max: 64 },
};
const SECRET_TYPES = Object.keys(SECRET_LENGTH).join(', ');
const ASYMMETRIC_TYPES = KEY_TYPES.filter((t) => !SECRET_LENGTH[t]).join(', ');

export const isKeyType = (value: string): value is KeyType => (KEY_TYPES as readonly string[]).includes(value);
export const isSecretKeyType = (keyType: KeyType): boolean => SECRET_LENGTH[keyType] !== undefined;

/** The material is not what its key type takes; the message says why (never the bytes). */
export class KeyMaterialError extends Error {
  override name = 'KeyMaterialError';
}

export interface KeyMaterial {
  keyType: KeyType;
  /** Raw secret bytes or PKCS#8 DER: what gets wrapped. The caller zeroes it when done. */
  material: Buffer;
}

/** node's curve names → the import type and the NIST name. */
const CURVES: Record<string, { type: KeyType; label: string }> = {
  prime256v1: { type: 'ec-p256', label: 'P-256' },
  secp384r1: { type: 'ec-p384', label: 'P-384' },
};

/** What an asymmetric private key is, in words, and the import type it fits (if any). */
function classify(key: KeyObject): { type: KeyType | null; words: string } {
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'ec') {
    const curve = CURVES[details.namedCurve ?? ''];
    return { type: curve?.type ?? null, words: `an EC ${curve?.label ?? details.namedCurve ?? 'unknown-curve'} key` };
  }
  if (key.asymmetricKeyType === 'rsa') {
    const bits = details.modulusLength ?? 0;
    const type = bits === 2048 ? 'rsa-2048' : bits === 3072 ? 'rsa-3072' : null;
    return { type, words: `an RSA ${bits} key` };
  }
  return { type: null, words: `an ${key.asymmetricKeyType ?? 'unknown'} key` };
}

/** Throw unless `material` is what a key of `keyType` carries (raw bytes or PKCS#8 DER). */
export function checkMaterial(keyType: KeyType, material: Buffer): void {
  const length = SECRET_LENGTH[keyType];
  if (length) {
    if (material.length < length.min || material.length > length.max) {
      const want = length.min === length.max ? `${length.min}` : `${length.min} to ${length.max}`;
      throw new KeyMaterialError(`${keyType} material is ${want} bytes, not ${material.length}`);
    }
    if (keyType === 'xts-aes-256' && material.subarray(0, 32).equals(material.subarray(32))) {
      throw new KeyMaterialError('xts-aes-256 material is two different 32-byte keys; both halves are the same');
    }
    return;
  }
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: material, format: 'der', type: 'pkcs8' });
  } catch {
    throw new KeyMaterialError(`${keyType} material is a PKCS#8 DER private key, and this is not one`);
  }
  const { type, words } = classify(key);
  if (type !== keyType) throw new KeyMaterialError(`the material is ${words}, not ${keyType}`);
}

const PEM_PRIVATE_KEY_LABELS = new Set(['PRIVATE KEY', 'EC PRIVATE KEY', 'RSA PRIVATE KEY']);

/** The label of the first PEM block ("RSA PRIVATE KEY"), read without copying the rest into a string. */
function pemLabel(bytes: Buffer): string | null {
  const begin = bytes.indexOf('-----BEGIN ');
  if (begin < 0) return null;
  const end = bytes.indexOf('-----', begin + 11);
  return end < 0 ? null : bytes.subarray(begin + 11, end).toString('latin1');
}

/** A private key from PEM, or from DER as PKCS#8, SEC1 or PKCS#1; null when the bytes are none. */
function privateKeyOf(bytes: Buffer, source: string): KeyObject | null {
  const label = pemLabel(bytes);
  if (label !== null) {
    if (label === 'ENCRYPTED PRIVATE KEY' || bytes.includes('Proc-Type: 4,ENCRYPTED')) {
      throw new KeyMaterialError(`${source} is an encrypted private key; Sealkeep reads unencrypted keys only`);
    }
    if (!PEM_PRIVATE_KEY_LABELS.has(label)) {
      throw new KeyMaterialError(`${source} holds a PEM "${label}", not a private key ("PRIVATE KEY", "EC PRIVATE KEY" or "RSA PRIVATE KEY")`);
    }
    try {
      return createPrivateKey({ key: bytes, format: 'pem' });
    } catch (e) {
      throw new KeyMaterialError(`${source}: the "${label}" block does not parse (${(e as Error).message})`);
    }
  }
  for (const type of ['pkcs8', 'sec1', 'pkcs1'] as const) {
    try {
      return createPrivateKey({ key: bytes, format: 'der', type });
    } catch {
      // not this encoding
    }
  }
  return null;
}

/** Secret bytes written as hex or base64(url) text (whitespace ignored), or else the raw bytes themselves. */
function secretBytes(bytes: Buffer): Buffer {
  const text = bytes.toString('latin1').replace(/\s+/g, '');
  if (/^(?:[0-9a-fA-F]{2})+$/.test(text)) return Buffer.from(text, 'hex');
  if (text.length >= 16 && /^[A-Za-z0-9+/_-]+={0,2}$/.test(text)) return Buffer.from(text.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  return Buffer.from(bytes);
}

/**
 * The material in a key file's bytes, and its type. `keyType`, when given, must be what the file
 * holds; a secret key (raw, hex or base64 bytes) cannot say its type, so it needs one.
 */
export function keyMaterialOf(bytes: Buffer, opts: { keyType?: KeyType | undefined; source?: string } = {}): KeyMaterial {
  const source = opts.source ?? 'the key';
  const wanted = opts.keyType;
  const key = privateKeyOf(bytes, source);
  if (key) {
    const { type, words } = classify(key);
    if (wanted && type !== wanted) {
      const asked = isSecretKeyType(wanted) ? `raw ${wanted} key bytes` : wanted;
      throw new KeyMaterialError(`${source} holds ${words}${type ? ` (${type})` : ''}, not ${asked}`);
    }
    if (!type) throw new KeyMaterialError(`${source} holds ${words}; Sealkeep imports ${ASYMMETRIC_TYPES}`);
    return { keyType: type, material: key.export({ type: 'pkcs8', format: 'der' }) };
  }
  if (!wanted) throw new KeyMaterialError(`${source} is not a private key in PEM or DER; for secret key bytes give the type (${SECRET_TYPES})`);
  if (!isSecretKeyType(wanted)) throw new KeyMaterialError(`${source} is not a private key (PEM or DER), so it is not ${wanted}`);
  const material = secretBytes(bytes);
  try {
    checkMaterial(wanted, material);
  } catch (e) {
    material.fill(0);
    throw new KeyMaterialError(`${source}: ${(e as Error).message} (read as raw, hex or base64 bytes)`);
  }
  return { keyType: wanted, material };
}

/** Read a key file (see keyMaterialOf); the file's bytes are zeroed once read. */
export function readKeyFile(file: string, keyType?: KeyType): KeyMaterial {
  const bytes = readFileSync(file);
  try {
    return keyMaterialOf(bytes, { keyType, source: file });
  } finally {
    bytes.fill(0);
  }
}
