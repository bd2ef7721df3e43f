// Session-based parameter encryption (Part 1 §21): the XOR obfuscation form (§21.2) and the
// CFB form (§21.3) that encrypt the first TPM2B parameter of a command or response. The key
// is sessionKey || authValue; nonceNewer/nonceOlder are the caller's and TPM's nonces in the
// order of the message being protected (caller first for commands, TPM first for responses).

import { TPM_ALG } from '../wire/constants.js';
import { kdfa } from './kdf.js';
import { AES_BLOCK_SIZE, cfbDecrypt, cfbEncrypt } from './symmetric.js';

export interface ParameterKey {
  /** The session's hash algorithm (authHash). */
  readonly hashAlg: number;
  /** sessionKey || authValue of the entity the session is bound or used for. */
  readonly key: Uint8Array;
  readonly nonceNewer: Uint8Array;
  readonly nonceOlder: Uint8Array;
}

/**
 * XOR obfuscation, Part 1 §21.2 (and §11.4.6.4): data ⊕ KDFa(hashAlg, key, "XOR", nonceNewer,
 * nonceOlder, 8·size). Its own inverse.
 */
export function xorObfuscate(p: ParameterKey, data: Uint8Array): Buffer {
  return xorWithMask(p.hashAlg, p.key, p.nonceNewer, p.nonceOlder, data);
}

/** data ⊕ KDFa(hashAlg, key, "XOR", contextU, contextV, 8·size) (Part 1 §11.4.6.4 "XOR Obfuscation"). */
export function xorWithMask(hashAlg: number, key: Uint8Array, contextU: Uint8Array, contextV: Uint8Array, data: Uint8Array): Buffer {
  const mask = kdfa(hashAlg, key, 'XOR', contextU, contextV, data.length * 8);
  const out = Buffer.alloc(data.length);
  for (let i = 0; i < data.length; i++) out[i] = data[i]! ^ mask[i]!;
  return out;
}

/**
 * CFB key and IV, Part 1 §21.3: KDFa(hashAlg, key, "CFB", nonceNewer, nonceOlder, keyBits + 128);
 * the first keyBits/8 bytes are the AES key, the next 16 the IV.
 */
function cfbKeyAndIv(p: ParameterKey, symAlg: number, keyBits: number): { key: Buffer; iv: Buffer } {
  if (symAlg !== TPM_ALG.AES) throw new Error(`parameter encryption with 0x${symAlg.toString(16)} is not implemented`);
  const material = kdfa(p.hashAlg, p.key, 'CFB', p.nonceNewer, p.nonceOlder, keyBits + AES_BLOCK_SIZE * 8);
  return { key: material.subarray(0, keyBits / 8), iv: material.subarray(keyBits / 8) };
}

/** Encrypt a parameter with the session's symmetric algorithm in CFB mode (Part 1 §21.3). */
export function cfbEncryptParameter(p: ParameterKey, symAlg: number, keyBits: number, data: Uint8Array): Buffer {
  const { key, iv } = cfbKeyAndIv(p, symAlg, keyBits);
  return cfbEncrypt(key, data, iv);
}

/** Decrypt a parameter encrypted with cfbEncryptParameter (Part 1 §21.3). */
export function cfbDecryptParameter(p: ParameterKey, symAlg: number, keyBits: number, data: Uint8Array): Buffer {
  const { key, iv } = cfbKeyAndIv(p, symAlg, keyBits);
  return cfbDecrypt(key, data, iv);
}
