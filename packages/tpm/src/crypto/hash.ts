// Hash algorithms by TPM_ALG_ID (Part 2 §6.3): node names, digest sizes, one-shot digests and
// HMACs over several parts, and incremental sequences for TPM2_HashSequenceStart / HMAC_Start
// (Part 3 §17). Everything above this module names hashes by TPM_ALG id only.

import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { TPM_ALG } from '../wire/constants.js';

interface HashInfo {
  readonly nodeName: string;
  readonly digestSize: number;
  readonly blockSize: number;
}

const HASHES: ReadonlyMap<number, HashInfo> = new Map([
  [TPM_ALG.SHA1, { nodeName: 'sha1', digestSize: 20, blockSize: 64 }],
  [TPM_ALG.SHA256, { nodeName: 'sha256', digestSize: 32, blockSize: 64 }],
  [TPM_ALG.SHA384, { nodeName: 'sha384', digestSize: 48, blockSize: 128 }],
  [TPM_ALG.SHA512, { nodeName: 'sha512', digestSize: 64, blockSize: 128 }],
]);

/** True when `alg` is a hash algorithm this TPM implements (TPMI_ALG_HASH, Part 2 §9.27). */
export function isHashAlg(alg: number): boolean {
  return HASHES.has(alg);
}

function info(alg: number): HashInfo {
  const h = HASHES.get(alg);
  if (!h) throw new Error(`hash algorithm 0x${alg.toString(16)} is not implemented`);
  return h;
}

/** Digest size in bytes for a TPM_ALG hash id; 0 for TPM_ALG_NULL or unknown (Part 1 §11.4.2). */
export function digestSize(alg: number): number {
  return HASHES.get(alg)?.digestSize ?? 0;
}

/** The hash's internal block size in bytes (used by HMAC, Part 1 §11.4.3). */
export function blockSize(alg: number): number {
  return info(alg).blockSize;
}

/** node:crypto name ('sha256', ...) for a TPM_ALG hash id. */
export function nodeHashName(alg: number): string {
  return info(alg).nodeName;
}

/** H(parts[0] || parts[1] || ...), Part 1 §11.4.2. */
export function digest(alg: number, ...parts: Uint8Array[]): Buffer {
  const h = createHash(info(alg).nodeName);
  for (const p of parts) h.update(p);
  return h.digest();
}

/** HMAC(key, parts[0] || parts[1] || ...), Part 1 §11.4.3 (RFC 2104). */
export function hmac(alg: number, key: Uint8Array, ...parts: Uint8Array[]): Buffer {
  const h = createHmac(info(alg).nodeName, key);
  for (const p of parts) h.update(p);
  return h.digest();
}

/** An incremental hash: TPM2_HashSequenceStart / SequenceUpdate / SequenceComplete (Part 3 §17). */
export class HashSequence {
  readonly digestSize: number;
  private constructor(
    readonly alg: number,
    private state: Hash,
  ) {
    this.digestSize = info(alg).digestSize;
  }

  static start(alg: number): HashSequence {
    return new HashSequence(alg, createHash(info(alg).nodeName));
  }

  update(...parts: Uint8Array[]): this {
    for (const p of parts) this.state.update(p);
    return this;
  }

  /** The digest so far, leaving the sequence usable (for event sequences over several banks). */
  peek(): Buffer {
    return this.state.copy().digest();
  }

  /** Finish; the sequence cannot be updated afterwards. */
  complete(): Buffer {
    return this.state.digest();
  }
}

/** An incremental HMAC: TPM2_HMAC_Start / SequenceUpdate / SequenceComplete (Part 3 §17.3). */
export class HmacSequence {
  readonly digestSize: number;
  private readonly state: Hmac;
  constructor(
    readonly alg: number,
    key: Uint8Array,
  ) {
    this.digestSize = info(alg).digestSize;
    this.state = createHmac(info(alg).nodeName, key);
  }

  update(...parts: Uint8Array[]): this {
    for (const p of parts) this.state.update(p);
    return this;
  }

  complete(): Buffer {
    return this.state.digest();
  }
}
