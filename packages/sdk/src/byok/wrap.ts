// Wrapping a tenant's key material on the tenant's own machine, in the two formats the import
// takes (docs/byok.md "Wrapped import"); the plaintext never leaves this process:
//   rsa-aes-key-wrap-sha256  PKCS#11 CKM_RSA_AES_KEY_WRAP: a fresh 32-byte AES key under
//                            RSA-OAEP (SHA-256, MGF1-SHA-256, empty label), followed by the
//                            material under AES key wrap with padding (RFC 5649) with that key
//   rsa-oaep-sha256          the material itself under RSA-OAEP-SHA-256 (32 bytes at most)
// The wrapping public key is the one verifyImportEvidence built from the TPM's public area.

import { constants, createCipheriv, publicEncrypt, randomFillSync, type KeyObject } from 'node:crypto';
import { KWP_ALTERNATIVE_IV } from '@sealkeep/crypto';

export const WRAPPING_ALGORITHMS = ['rsa-aes-key-wrap-sha256', 'rsa-oaep-sha256'] as const;
export type WrappingAlgorithm = (typeof WRAPPING_ALGORITHMS)[number];

export const isWrappingAlgorithm = (value: string): value is WrappingAlgorithm => (WRAPPING_ALGORITHMS as readonly string[]).includes(value);

export { KWP_ALTERNATIVE_IV };

/** The most material rsa-oaep-sha256 carries (docs/byok.md). */
export const MAX_RSA_OAEP_MATERIAL = 32;

/** Bytes of the ephemeral AES key of rsa-aes-key-wrap-sha256. */
const EPHEMERAL_KEY_BYTES = 32;

/** AES key wrap with padding (RFC 5649) of `plaintext` under `kek` (16, 24 or 32 bytes). */
export function aesKeyWrapWithPadding(kek: Buffer, plaintext: Buffer): Buffer {
  const cipherName = ({ 16: 'id-aes128-wrap-pad', 24: 'id-aes192-wrap-pad', 32: 'id-aes256-wrap-pad' } as Record<number, string>)[kek.length];
  if (!cipherName) throw new RangeError(`an AES key-encryption key is 16, 24 or 32 bytes, not ${kek.length}`);
  if (plaintext.length === 0) throw new RangeError('AES key wrap needs at least one byte to wrap');
  const cipher = createCipheriv(cipherName, kek, KWP_ALTERNATIVE_IV);
  return Buffer.concat([cipher.update(plaintext), cipher.final()]);
}

/** RSA-OAEP with SHA-256 and MGF1-SHA-256, empty label. */
export function rsaOaepSha256Encrypt(publicKey: KeyObject, data: Buffer): Buffer {
  return publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, data);
}

/** The wrapped key as the import takes it (`wrappedKey`, before base64). */
export function wrapKeyMaterial(material: Buffer, wrappingPublicKey: KeyObject, algorithm: WrappingAlgorithm = 'rsa-aes-key-wrap-sha256'): Buffer {
  if (wrappingPublicKey.type !== 'public' || wrappingPublicKey.asymmetricKeyType !== 'rsa') throw new TypeError('the wrapping key is an RSA public key');
  if (material.length === 0) throw new RangeError('no key material to wrap');
  if (algorithm === 'rsa-oaep-sha256') {
    if (material.length > MAX_RSA_OAEP_MATERIAL) {
      throw new RangeError(`rsa-oaep-sha256 carries at most ${MAX_RSA_OAEP_MATERIAL} bytes of material, not ${material.length}; use rsa-aes-key-wrap-sha256`);
    }
    return rsaOaepSha256Encrypt(wrappingPublicKey, material);
  }
  if (algorithm !== 'rsa-aes-key-wrap-sha256') throw new RangeError(`unknown wrapping algorithm "${String(algorithm)}"`);
  // Buffer.alloc is never a slice of the shared pool, so zeroing it zeroes the only copy we hold.
  const ephemeral = randomFillSync(Buffer.alloc(EPHEMERAL_KEY_BYTES));
  try {
    return Buffer.concat([rsaOaepSha256Encrypt(wrappingPublicKey, ephemeral), aesKeyWrapWithPadding(ephemeral, material)]);
  } finally {
    ephemeral.fill(0);
  }
}
