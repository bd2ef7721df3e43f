// The one seam between a volume and its keys: encrypt, decrypt, tag and verify runs of whole
// sectors of one volume. The adapter proper implements it by calling the service's data plane,
// one call per request (never per sector); LocalSectorCrypto implements it in-process on the
// block engine of @sealkeep/crypto, for tests and for running with a local key until then.

import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import {
  INTEGRITY_KEY_BYTES,
  TAG_BYTES,
  XTS_KEY_BYTES,
  generateXtsKey,
  selectBlockCryptoEngine,
  type BlockCryptoEngine,
  type SectorCipher,
  type SectorSize,
  type SectorTagger,
  type Continuity,
  type VolumeStateMoment,
} from '@sealkeep/crypto';

/**
 * Sector cryptography for one volume (its id and keys are bound in). Every argument is a run of
 * whole consecutive sectors starting at firstLba; generations hold one value per sector.
 * encrypt and decrypt are handed their input: they may write their output over it (in place).
 */
export interface SectorCrypto {
  encrypt(firstLba: bigint, plaintext: Uint8Array): Promise<Buffer>;
  decrypt(firstLba: bigint, ciphertext: Uint8Array): Promise<Buffer>;
  /** 32 bytes per sector: HMAC-SHA-256 over volume id, LBA, generation and ciphertext. */
  tag(firstLba: bigint, generations: BigUint64Array, ciphertext: Uint8Array): Promise<Buffer>;
  /** The LBAs whose tag does not match, in order; empty when all do. */
  verify(firstLba: bigint, generations: BigUint64Array, ciphertext: Uint8Array, tags: Uint8Array): Promise<bigint[]>;
  /** Releases the keys (or the session holding them). */
  close(): void;
  /**
   * Optional: encrypt and tag in one call (the data plane's encrypt-sign: one round trip, and the
   * only way to write a high-integrity volume). May write the ciphertext over the plaintext.
   */
  encryptAndTag?(firstLba: bigint, generations: BigUint64Array, plaintext: Uint8Array): Promise<{ ciphertext: Buffer; tags: Buffer }>;
  /**
   * Optional: verify, then decrypt, in one call (verify-decrypt): the plaintext (possibly written
   * over the ciphertext), or every LBA whose tag does not match and no plaintext at all.
   */
  verifyAndDecrypt?(firstLba: bigint, generations: BigUint64Array, ciphertext: Uint8Array, tags: Uint8Array): Promise<{ plaintext: Buffer } | { failing: bigint[] }>;
  /**
   * Optional: records the volume's state root (its tags and generation words, chunk-state.ts) with the keys' holder when the
   * volume opens, its journal replayed (with the roots of the states the replay passed through:
   * the start of each round), at each checkpoint before the journal's round is retired, and when
   * it closes cleanly (the data plane's volume state records), so that a volume rolled back at
   * rest is refused at its next open: then it rejects (VolumeStateDiffersError). Answers what the
   * holder found.
   */
  recordState?(moment: VolumeStateMoment, merkleRoot: Buffer, passedThrough?: Buffer[]): Promise<Continuity>;
  /**
   * Where a new volume's key check is computed (volume-metadata.ts); default KEY_CHECK_LBA, past
   * every volume. The data plane takes only LBAs inside the volume, so a remote crypto uses 0
   * (still with generation 2^64−1, which no written sector has).
   */
  readonly keyCheckLba?: bigint;
}

/** A volume's two keys: AES-256-XTS (key1 ‖ key2, halves distinct) and the tag key. */
export interface VolumeKeys {
  dataKey: Buffer;
  integrityKey: Buffer;
}

const KEY_FILE_BYTES = XTS_KEY_BYTES + INTEGRITY_KEY_BYTES;

export function generateVolumeKeys(): VolumeKeys {
  return { dataKey: generateXtsKey(), integrityKey: randomBytes(INTEGRITY_KEY_BYTES) };
}

/** A local key file: 96 raw bytes, the XTS key then the integrity key. */
export async function readVolumeKeyFile(path: string): Promise<VolumeKeys> {
  const bytes = await readFile(path);
  if (bytes.length !== KEY_FILE_BYTES) throw new Error(`${path}: a volume key file holds ${KEY_FILE_BYTES} bytes, this one ${bytes.length}`);
  const keys = { dataKey: Buffer.from(bytes.subarray(0, XTS_KEY_BYTES)), integrityKey: Buffer.from(bytes.subarray(XTS_KEY_BYTES)) };
  bytes.fill(0);
  return keys;
}

/** Writes a new key file readable by its owner only; refuses to overwrite one. */
export async function writeVolumeKeyFile(path: string, keys: VolumeKeys): Promise<void> {
  const bytes = Buffer.concat([keys.dataKey, keys.integrityKey]);
  try {
    await writeFile(path, bytes, { mode: 0o600, flag: 'wx' });
  } finally {
    bytes.fill(0);
  }
}

export interface LocalSectorCryptoOptions {
  keys: VolumeKeys;
  /** 16 bytes: the volume's UUID (volumeIdFromUuid). */
  volumeId: Uint8Array;
  sectorSize: SectorSize;
  engine?: BlockCryptoEngine;
}

/**
 * SectorCrypto on the block engine in this process; encrypts and decrypts in place (a fresh
 * buffer per call costs more than the cipher: performance notes). The caller's key buffers are
 * wiped once keyed.
 */
export class LocalSectorCrypto implements SectorCrypto {
  readonly #cipher: SectorCipher;
  readonly #tagger: SectorTagger;

  constructor({ keys, volumeId, sectorSize, engine = selectBlockCryptoEngine() }: LocalSectorCryptoOptions) {
    this.#cipher = engine.openSectorCipher({ key: keys.dataKey, sectorSize });
    this.#tagger = engine.openSectorTagger({ key: keys.integrityKey, volumeId, sectorSize });
    keys.dataKey.fill(0);
    keys.integrityKey.fill(0);
  }

  async encrypt(firstLba: bigint, plaintext: Uint8Array): Promise<Buffer> {
    this.#cipher.encrypt(firstLba, plaintext, plaintext);
    return Buffer.from(plaintext.buffer, plaintext.byteOffset, plaintext.length);
  }

  async decrypt(firstLba: bigint, ciphertext: Uint8Array): Promise<Buffer> {
    this.#cipher.decrypt(firstLba, ciphertext, ciphertext);
    return Buffer.from(ciphertext.buffer, ciphertext.byteOffset, ciphertext.length);
  }

  async tag(firstLba: bigint, generations: BigUint64Array, ciphertext: Uint8Array): Promise<Buffer> {
    const tags = Buffer.allocUnsafe((ciphertext.length / this.#tagger.sectorSize) * TAG_BYTES);
    this.#tagger.tag(firstLba, generations, ciphertext, tags);
    return tags;
  }

  async verify(firstLba: bigint, generations: BigUint64Array, ciphertext: Uint8Array, tags: Uint8Array): Promise<bigint[]> {
    return this.#tagger.verify(firstLba, generations, ciphertext, tags);
  }

  close(): void {
    this.#cipher.destroy();
    this.#tagger.destroy();
  }
}
