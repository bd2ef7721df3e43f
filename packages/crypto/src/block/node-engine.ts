// The pure-Node block engine on node:crypto, used when the native addon is not built or is
// switched off (SEALKEEP_CRYPTO_NATIVE=0). node:crypto can neither give a keyed cipher a new IV
// nor write into a caller's buffer, so each sector costs one createCipheriv (key schedule
// included) and one small output buffer copied into place; everything else (IV, tag header, key
// object) is made once per key. An order of magnitude slower than the addon (bench/block.bench.ts).

import { createCipheriv, createDecipheriv, createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';
import { SectorCipher, SectorTagger, type BlockCryptoEngine, type SectorCipherOptions, type SectorTaggerOptions } from './engine.js';
import { TAG_BYTES, newTagHeader, writeTagHeader, writeXtsTweak } from './formats.js';
import { merkleRoot } from './merkle-root.js';

class NodeSectorCipher extends SectorCipher {
  // A KeyObject keeps the key in native memory, but node:crypto cannot wipe it: destroy() only
  // drops the reference, and the garbage collector frees it later.
  #key: KeyObject | null;
  readonly #iv = Buffer.alloc(16);

  constructor(options: SectorCipherOptions) {
    super(options);
    this.#key = createSecretKey(options.key);
  }

  protected onCrypt(encrypt: boolean, firstLba: bigint, input: Uint8Array, output: Uint8Array, sectors: number): void {
    const key = this.#key!;
    const size = this.sectorSize;
    for (let i = 0, at = 0; i < sectors; i++, at += size) {
      writeXtsTweak(this.#iv, firstLba + BigInt(i));
      const cipher = encrypt ? createCipheriv('aes-256-xts', key, this.#iv) : createDecipheriv('aes-256-xts', key, this.#iv);
      // XTS returns the whole data unit from update(); final() would only return an empty buffer.
      output.set(cipher.update(input.subarray(at, at + size)), at);
    }
  }

  protected onDestroy(): void {
    this.#key = null;
  }
}

class NodeSectorTagger extends SectorTagger {
  #key: KeyObject | null; // not wipeable either: see NodeSectorCipher
  readonly #header: Buffer;

  constructor(options: SectorTaggerOptions) {
    super(options);
    this.#key = createSecretKey(options.key);
    this.#header = newTagHeader(this.volumeId);
  }

  #tagOf(lba: bigint, generation: bigint, sector: Uint8Array): Buffer {
    writeTagHeader(this.#header, lba, generation);
    return createHmac('sha256', this.#key!).update(this.#header).update(sector).digest();
  }

  protected onTag(firstLba: bigint, generations: BigUint64Array, ciphertext: Uint8Array, tagsOut: Uint8Array, sectors: number): void {
    const size = this.sectorSize;
    for (let i = 0; i < sectors; i++) {
      const tag = this.#tagOf(firstLba + BigInt(i), generations[generations.length === 1 ? 0 : i]!, ciphertext.subarray(i * size, (i + 1) * size));
      tagsOut.set(tag, i * TAG_BYTES);
    }
  }

  protected onVerify(firstLba: bigint, generations: BigUint64Array, ciphertext: Uint8Array, tags: Uint8Array, sectors: number): number[] {
    const size = this.sectorSize;
    const failed: number[] = [];
    for (let i = 0; i < sectors; i++) {
      const tag = this.#tagOf(firstLba + BigInt(i), generations[generations.length === 1 ? 0 : i]!, ciphertext.subarray(i * size, (i + 1) * size));
      if (!timingSafeEqual(tag, tags.subarray(i * TAG_BYTES, (i + 1) * TAG_BYTES))) failed.push(i);
    }
    return failed;
  }

  protected onDestroy(): void {
    this.#key = null;
  }
}

/** node:crypto's GCM answers each update with a new buffer: copied back in 64 KiB steps. */
const GCM_STEP = 64 * 1024;

function gcmInPlace(encrypt: boolean, key: Uint8Array, iv: Uint8Array, aad: Uint8Array, parts: readonly Uint8Array[], tag: Uint8Array, authenticateOnly: boolean): boolean {
  const run = (gcm: { update(data: Uint8Array): Buffer; setAAD(aad: Uint8Array): unknown }) => {
    // Additional data may come in several pieces, all before any plaintext.
    gcm.setAAD(aad);
    if (authenticateOnly) return void parts.forEach((part) => gcm.setAAD(part));
    for (const part of parts) {
      for (let at = 0; at < part.length; at += GCM_STEP) part.set(gcm.update(part.subarray(at, at + GCM_STEP)), at);
    }
  };
  if (encrypt) {
    const gcm = createCipheriv('aes-256-gcm', key, iv);
    run(gcm);
    gcm.final();
    tag.set(gcm.getAuthTag());
    return true;
  }
  const gcm = createDecipheriv('aes-256-gcm', key, iv);
  run(gcm);
  gcm.setAuthTag(tag);
  try {
    gcm.final();
    return true;
  } catch {
    return false;
  }
}

export const nodeBlockCryptoEngine: BlockCryptoEngine = {
  name: 'node',
  openSectorCipher: (options) => new NodeSectorCipher(options),
  openSectorTagger: (options) => new NodeSectorTagger(options),
  merkleRoot,
  gcmInPlace,
};
