// Block-cipher modes for TPM2_EncryptDecrypt (Part 3 §15.2) and for the CFB encryption used in
// protected storage, credentials and parameter encryption (Part 1 §11.4.6, §22, §21.3).
// AES-128/192/256 only. Each call returns the output and the chaining value ("ivOut") the next
// call must use, with the reference implementation's rules for a trailing partial block.

import { createCipheriv, createDecipheriv } from 'node:crypto';
import { TPM_ALG, TPM_RC } from '../wire/constants.js';
import { CryptoFailure } from './errors.js';

export const AES_BLOCK_SIZE = 16;

/** Cipher modes of TPMI_ALG_CIPHER_MODE (Part 2 §9.31). */
export type CipherMode = typeof TPM_ALG.CFB | typeof TPM_ALG.CTR | typeof TPM_ALG.OFB | typeof TPM_ALG.CBC | typeof TPM_ALG.ECB;

export interface SymmetricResult {
  readonly output: Buffer;
  /** Chaining value for the next call (TPM2_EncryptDecrypt ivOut). */
  readonly ivOut: Buffer;
}

const MODE_NAMES: ReadonlyMap<number, string> = new Map([
  [TPM_ALG.CFB, 'cfb'],
  [TPM_ALG.CTR, 'ctr'],
  [TPM_ALG.OFB, 'ofb'],
  [TPM_ALG.CBC, 'cbc'],
  [TPM_ALG.ECB, 'ecb'],
]);

/** True for a mode this module implements. */
export function isCipherMode(mode: number): mode is CipherMode {
  return MODE_NAMES.has(mode);
}

/** Block size in bytes of a symmetric algorithm, 0 when not implemented (Part 2 §11.1.3). */
export function symmetricBlockSize(alg: number): number {
  return alg === TPM_ALG.AES ? AES_BLOCK_SIZE : 0;
}

function cipherName(alg: number, key: Uint8Array, mode: number): string {
  if (alg !== TPM_ALG.AES) throw new Error(`symmetric algorithm 0x${alg.toString(16)} is not implemented`);
  if (![16, 24, 32].includes(key.length)) throw new Error(`AES key of ${key.length} bytes`);
  const m = MODE_NAMES.get(mode);
  if (!m) throw new Error(`cipher mode 0x${mode.toString(16)} is not implemented`);
  return `aes-${key.length * 8}-${m}`;
}

function run(decrypt: boolean, name: string, key: Uint8Array, iv: Uint8Array | null, data: Uint8Array): Buffer {
  const c = decrypt ? createDecipheriv(name, key, iv) : createCipheriv(name, key, iv);
  c.setAutoPadding(false);
  return Buffer.concat([c.update(data), c.final()]);
}

/** Add `blocks` to a 128-bit big-endian counter, wrapping (the CTR counter, Part 1 §11.4.6.3). */
function addToCounter(iv: Uint8Array, blocks: number): Buffer {
  const v = (BigInt('0x' + Buffer.from(iv).toString('hex')) + BigInt(blocks)) & ((1n << 128n) - 1n);
  return Buffer.from(v.toString(16).padStart(32, '0'), 'hex');
}

/** CFB chaining value: the last ciphertext block; a partial block is its bytes then zeros. */
function cfbChain(iv: Uint8Array, ciphertext: Buffer): Buffer {
  if (ciphertext.length === 0) return Buffer.from(iv);
  const tail = ciphertext.length % AES_BLOCK_SIZE || AES_BLOCK_SIZE;
  const out = Buffer.alloc(AES_BLOCK_SIZE);
  ciphertext.copy(out, 0, ciphertext.length - tail);
  return out;
}

function transform(decrypt: boolean, alg: number, key: Uint8Array, mode: number, iv: Uint8Array, data: Uint8Array): SymmetricResult {
  const name = cipherName(alg, key, mode);
  const blocks = Math.ceil(data.length / AES_BLOCK_SIZE);
  if ((mode === TPM_ALG.CBC || mode === TPM_ALG.ECB) && data.length % AES_BLOCK_SIZE !== 0) {
    throw new CryptoFailure(TPM_RC.SIZE, 'CBC/ECB data is not a whole number of blocks');
  }
  if (mode === TPM_ALG.ECB) return { output: run(decrypt, name, key, null, data), ivOut: Buffer.from(iv) };
  if (iv.length !== AES_BLOCK_SIZE) throw new CryptoFailure(TPM_RC.SIZE, `IV must be ${AES_BLOCK_SIZE} bytes`);
  const output = run(decrypt, name, key, iv, data);
  switch (mode) {
    case TPM_ALG.CFB:
      return { output, ivOut: cfbChain(iv, decrypt ? Buffer.from(data) : output) };
    case TPM_ALG.CBC: {
      const ct = decrypt ? Buffer.from(data) : output;
      return { output, ivOut: ct.length ? ct.subarray(ct.length - AES_BLOCK_SIZE) : Buffer.from(iv) };
    }
    case TPM_ALG.CTR:
      return { output, ivOut: addToCounter(iv, blocks) };
    default: {
      // OFB: the chaining value is the last keystream block, E^blocks(iv).
      if (blocks === 0) return { output, ivOut: Buffer.from(iv) };
      const stream = run(false, name, key, iv, Buffer.alloc(blocks * AES_BLOCK_SIZE));
      return { output, ivOut: stream.subarray(stream.length - AES_BLOCK_SIZE) };
    }
  }
}

/** Encrypt with a TPM cipher mode (Part 1 §11.4.6, Part 3 §15.2 TPM2_EncryptDecrypt). */
export function symmetricEncrypt(alg: number, key: Uint8Array, mode: number, iv: Uint8Array, data: Uint8Array): SymmetricResult {
  return transform(false, alg, key, mode, iv, data);
}

/** Decrypt with a TPM cipher mode (Part 1 §11.4.6, Part 3 §15.2 TPM2_EncryptDecrypt). */
export function symmetricDecrypt(alg: number, key: Uint8Array, mode: number, iv: Uint8Array, data: Uint8Array): SymmetricResult {
  return transform(true, alg, key, mode, iv, data);
}

const ZERO_IV = Buffer.alloc(AES_BLOCK_SIZE);

/** AES-CFB128 encryption, zero IV unless given: the form of Part 1 §22.2 and §24.4. */
export function cfbEncrypt(key: Uint8Array, data: Uint8Array, iv: Uint8Array = ZERO_IV): Buffer {
  return run(false, cipherName(TPM_ALG.AES, key, TPM_ALG.CFB), key, iv, data);
}

/** AES-CFB128 decryption, zero IV unless given (Part 1 §22.2, §24.4). */
export function cfbDecrypt(key: Uint8Array, data: Uint8Array, iv: Uint8Array = ZERO_IV): Buffer {
  return run(true, cipherName(TPM_ALG.AES, key, TPM_ALG.CFB), key, iv, data);
}
