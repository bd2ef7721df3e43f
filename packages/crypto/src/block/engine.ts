// The block engine's one interface, implemented twice: native-engine.ts (the C addon on Node's
// own OpenSSL) and node-engine.ts (node:crypto). The two base classes here check every key and
// every batch the same way before an implementation sees it; a subclass only implements the
// work (onCrypt, onTag, onVerify) and the wiping (onDestroy).

import { randomBytes, timingSafeEqual } from 'node:crypto';
import { BlockCryptoError } from './block-crypto-error.js';
import { INTEGRITY_KEY_BYTES, MAX_U64, SECTOR_SIZES, TAG_BYTES, VOLUME_ID_BYTES, XTS_KEY_BYTES, type SectorSize } from './formats.js';

export interface SectorCipherOptions {
  /** 64 bytes: key1 (data) || key2 (tweak); the two halves must differ. */
  key: Uint8Array;
  sectorSize: SectorSize;
}

export interface SectorTaggerOptions {
  /** 32 bytes, used only for tags. */
  key: Uint8Array;
  /** 16 bytes, a UUID's bytes (see volumeIdFromUuid). */
  volumeId: Uint8Array;
  sectorSize: SectorSize;
}

/** A write generation for the whole batch, or one per sector. */
export type Generations = bigint | BigUint64Array;

export interface BlockCryptoEngine {
  readonly name: 'native' | 'node';
  openSectorCipher(options: SectorCipherOptions): SectorCipher;
  openSectorTagger(options: SectorTaggerOptions): SectorTagger;
  /** The RFC 6962 root of whole 32-byte tags in LBA order (merkle-root.ts defines it). */
  merkleRoot(tags: Uint8Array): Buffer;
  /**
   * AES-256-GCM over `parts` in order, each encrypted or decrypted where it lies (block sessions'
   * sealed bodies, ../block-session.ts). Encrypting writes `tag` (16 bytes) and returns true;
   * decrypting returns whether `tag` holds — when it does not, the parts hold nothing to use.
   * `authenticateOnly`: GMAC — the parts are additional data after `aad`, authenticated and left
   * as they are (encrypting only computes the tag, decrypting only checks it).
   */
  gcmInPlace(encrypt: boolean, key: Uint8Array, iv: Uint8Array, aad: Uint8Array, parts: readonly Uint8Array[], tag: Uint8Array, authenticateOnly: boolean): boolean;
}

function invalid(message: string): BlockCryptoError {
  return new BlockCryptoError('INVALID_ARGUMENT', message);
}

function checkKeyLength(key: Uint8Array, bytes: number, what: string): void {
  if (!(key instanceof Uint8Array)) throw new BlockCryptoError('KEY_LENGTH', `${what} must be a Uint8Array of ${bytes} bytes`);
  if (key.length !== bytes) throw new BlockCryptoError('KEY_LENGTH', `${what} must be ${bytes} bytes, got ${key.length}`);
}

function checkSectorSize(size: number): asserts size is SectorSize {
  if (!SECTOR_SIZES.includes(size as SectorSize)) throw invalid(`sector size must be 512 or 4096, got ${size}`);
}

/** The number of sectors in a batch at firstLba, after checking it is whole sectors within u64 LBAs. */
function sectorCount(firstLba: bigint, data: Uint8Array, sectorSize: SectorSize, what: string): number {
  if (!(data instanceof Uint8Array)) throw invalid(`${what} must be a Uint8Array`);
  if (data.length % sectorSize !== 0) {
    throw invalid(`${what} is ${data.length} bytes, not a whole number of ${sectorSize}-byte sectors`);
  }
  const count = data.length / sectorSize;
  if (typeof firstLba !== 'bigint' || firstLba < 0n || firstLba + BigInt(Math.max(count - 1, 0)) > MAX_U64) {
    throw invalid(`LBAs ${String(firstLba)} + ${count} sectors fall outside 0..2^64-1`);
  }
  return count;
}

function overlap(a: Uint8Array, b: Uint8Array): 'none' | 'same' | 'partial' {
  if (a.buffer !== b.buffer || a.byteOffset >= b.byteOffset + b.length || b.byteOffset >= a.byteOffset + a.length) return 'none';
  return a.byteOffset === b.byteOffset && a.length === b.length ? 'same' : 'partial';
}

/** AES-256-XTS over runs of consecutive sectors; tweak = plain64 sector number. */
export abstract class SectorCipher {
  readonly sectorSize: SectorSize;
  #destroyed = false;

  constructor({ key, sectorSize }: SectorCipherOptions) {
    checkSectorSize(sectorSize);
    checkKeyLength(key, XTS_KEY_BYTES, 'AES-256-XTS key (key1 || key2)');
    const half = XTS_KEY_BYTES / 2;
    if (timingSafeEqual(key.subarray(0, half), key.subarray(half))) {
      throw new BlockCryptoError(
        'XTS_DUPLICATED_KEY_HALVES',
        'AES-256-XTS key halves are equal (key1 == key2): such a key is refused, as OpenSSL refuses it; the two halves must be generated independently',
      );
    }
    this.sectorSize = sectorSize;
  }

  /** Encrypts whole sectors, the first at firstLba, into output (same length; may be input itself). */
  encrypt(firstLba: bigint, plaintext: Uint8Array, output: Uint8Array): void {
    this.onCrypt(true, firstLba, plaintext, output, this.#check(firstLba, plaintext, output));
  }

  /** Decrypts whole sectors, the first at firstLba, into output (same length; may be input itself). */
  decrypt(firstLba: bigint, ciphertext: Uint8Array, output: Uint8Array): void {
    this.onCrypt(false, firstLba, ciphertext, output, this.#check(firstLba, ciphertext, output));
  }

  /** Wipes the key now; every later call throws. Idempotent. */
  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.onDestroy();
  }

  #check(firstLba: bigint, input: Uint8Array, output: Uint8Array): number {
    if (this.#destroyed) throw new BlockCryptoError('DESTROYED', 'the sector cipher was destroyed');
    const count = sectorCount(firstLba, input, this.sectorSize, 'input');
    if (!(output instanceof Uint8Array) || output.length !== input.length) {
      throw invalid(`output must be a Uint8Array as long as the input (${input.length} bytes)`);
    }
    if (overlap(input, output) === 'partial') throw invalid('input and output overlap without being the same bytes');
    return count;
  }

  protected abstract onCrypt(encrypt: boolean, firstLba: bigint, input: Uint8Array, output: Uint8Array, sectors: number): void;
  protected abstract onDestroy(): void;
}

/** HMAC-SHA-256 tags over (volume id, LBA, generation, ciphertext), one per sector. */
export abstract class SectorTagger {
  readonly sectorSize: SectorSize;
  readonly volumeId: Buffer;
  #destroyed = false;

  constructor({ key, volumeId, sectorSize }: SectorTaggerOptions) {
    checkSectorSize(sectorSize);
    checkKeyLength(key, INTEGRITY_KEY_BYTES, 'integrity key');
    if (!(volumeId instanceof Uint8Array) || volumeId.length !== VOLUME_ID_BYTES) {
      throw invalid(`volume id must be ${VOLUME_ID_BYTES} bytes (a UUID's bytes)`);
    }
    this.sectorSize = sectorSize;
    this.volumeId = Buffer.from(volumeId);
  }

  /** Writes one 32-byte tag per sector of ciphertext into tagsOut (sectors × 32 bytes). */
  tag(firstLba: bigint, generations: Generations, ciphertext: Uint8Array, tagsOut: Uint8Array): void {
    const [count, perSector] = this.#check(firstLba, generations, ciphertext, tagsOut);
    this.onTag(firstLba, perSector, ciphertext, tagsOut, count);
  }

  /** The LBAs whose tag does not match (compared in constant time); empty when all do. */
  verify(firstLba: bigint, generations: Generations, ciphertext: Uint8Array, tags: Uint8Array): bigint[] {
    const [count, perSector] = this.#check(firstLba, generations, ciphertext, tags);
    return this.onVerify(firstLba, perSector, ciphertext, tags, count).map((i) => firstLba + BigInt(i));
  }

  /** Wipes the key now; every later call throws. Idempotent. */
  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.onDestroy();
  }

  #check(firstLba: bigint, generations: Generations, ciphertext: Uint8Array, tags: Uint8Array): [number, BigUint64Array] {
    if (this.#destroyed) throw new BlockCryptoError('DESTROYED', 'the sector tagger was destroyed');
    const count = sectorCount(firstLba, ciphertext, this.sectorSize, 'ciphertext');
    if (!(tags instanceof Uint8Array) || tags.length !== count * TAG_BYTES) {
      throw invalid(`tags must be a Uint8Array of ${count} × ${TAG_BYTES} bytes`);
    }
    if (overlap(ciphertext, tags) !== 'none') throw invalid('tags and ciphertext overlap');
    if (typeof generations === 'bigint') {
      if (generations < 0n || generations > MAX_U64) throw invalid(`generation ${generations} is outside 0..2^64-1`);
      return [count, BigUint64Array.of(generations)];
    }
    if (!(generations instanceof BigUint64Array) || generations.length !== count) {
      throw invalid(`generations: one bigint, or a BigUint64Array of one per sector (${count})`);
    }
    return [count, generations];
  }

  /** generations holds one value for every sector, or a single value for all. */
  protected abstract onTag(firstLba: bigint, generations: BigUint64Array, ciphertext: Uint8Array, tagsOut: Uint8Array, sectors: number): void;
  /** The indices (0-based, in the batch) of the sectors whose tag does not match. */
  protected abstract onVerify(firstLba: bigint, generations: BigUint64Array, ciphertext: Uint8Array, tags: Uint8Array, sectors: number): number[];
  protected abstract onDestroy(): void;
}

/** A fresh random AES-256-XTS key whose halves differ (drawn again in the 2^-256 case they do not). */
export function generateXtsKey(): Buffer {
  for (;;) {
    const key = randomBytes(XTS_KEY_BYTES);
    if (!timingSafeEqual(key.subarray(0, XTS_KEY_BYTES / 2), key.subarray(XTS_KEY_BYTES / 2))) return key;
  }
}
