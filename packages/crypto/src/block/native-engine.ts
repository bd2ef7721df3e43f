// The native block engine: packages/crypto/native (C on the OpenSSL inside the node binary),
// loaded on first use. Keys live in native memory behind opaque handles: one AES-XTS context per
// direction and one HMAC context per key, keyed once; a whole batch is one call; destroy() (or the
// garbage collector, if it comes first) frees the contexts, which wipes the key schedules. The
// addon keeps no global state, so each worker thread can load it and open its own keys; a handle
// stays on the thread that opened it. An XTS key takes the provider path (the cipher functions of
// OpenSSL's provider called directly, less work per sector) when it is found and gives EVP's bytes
// on that key at open, else the EVP path; xtsPath says which. An integrity key takes the lanes path
// (sixteen sectors' tags at once in AVX-512 lanes) where the CPU has AVX-512, else the pairs path
// (two at once with SHA-NI) where it has SHA-NI, else the EVP path; tagPath says which. Sealed bodies (gcmInPlace) take AES-GCM on VAES and VPCLMULQDQ where the CPU
// has them, else OpenSSL's; nativeGcmPath says which.

import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { SectorCipher, SectorTagger, type BlockCryptoEngine, type SectorCipherOptions, type SectorTaggerOptions } from './engine.js';
import { BlockCryptoError } from './block-crypto-error.js';
import { TAG_BYTES } from './formats.js';

/** An opaque, type-tagged external: never holds key bytes in JS. */
type KeyHandle = object;

/** How an XTS key reaches AES-XTS: the provider's cipher functions directly, or the EVP API. */
export type NativeXtsPath = 'provider' | 'evp';

/** How an integrity key computes tags: sixteen sectors at a time in AVX-512 lanes, two at a time with SHA-NI, or OpenSSL's HMAC one at a time. */
export type NativeTagPath = 'lanes' | 'pairs' | 'evp';

/** The addon's TAG_ALLOW_* bits (sector_crypto.h): the paths an integrity key may take. */
const TAG_ALLOWED: Record<NativeTagPath, number> = { lanes: 1, pairs: 2, evp: 0 };

/** How gcmInPlace runs AES-GCM: sixteen blocks at a time in 512-bit registers, or OpenSSL's EVP. */
export type NativeGcmPath = 'vaes' | 'evp';

/** The calls this file makes of the addon (sealkeep_block.c's SEALKEEP_BLOCK_ABI; 2: gcmInPlace's
 * authenticateOnly; 3: openTagKey's evpOnly and tagKeyPath; 4: gcmInPlace's evpOnly and gcmPath;
 * 5: openTagKey's allowed paths in place of evpOnly, and the pairs path). */
const NATIVE_ABI = 5;

interface BlockAddon {
  /** Absent before ABI 2. */
  abi?: number;
  /** evpOnly: stay on the EVP path (for tests that compare the two). */
  openXtsKey(key: Uint8Array, sectorSize: number, evpOnly?: boolean): KeyHandle;
  xtsKeyPath(handle: KeyHandle): NativeXtsPath;
  xtsCrypt(handle: KeyHandle, encrypt: boolean, firstLba: bigint, input: Uint8Array, output: Uint8Array): void;
  /** allowed: TAG_ALLOWED bits, every path when absent (for tests that compare the paths). */
  openTagKey(key: Uint8Array, volumeId: Uint8Array, sectorSize: number, allowed?: number): KeyHandle;
  tagKeyPath(handle: KeyHandle): NativeTagPath;
  tagSectors(handle: KeyHandle, firstLba: bigint, generations: BigUint64Array, ciphertext: Uint8Array, tagsOut: Uint8Array): void;
  /** Indices in the batch of the sectors whose tag differs. */
  verifySectorTags(handle: KeyHandle, firstLba: bigint, generations: BigUint64Array, ciphertext: Uint8Array, tags: Uint8Array): number[];
  destroy(handle: KeyHandle): void;
  merkleRoot(tags: Uint8Array, rootOut: Uint8Array): void;
  gcmInPlace(encrypt: boolean, key: Uint8Array, iv: Uint8Array, aad: Uint8Array, parts: readonly Uint8Array[], tag: Uint8Array, authenticateOnly: boolean, evpOnly?: boolean): boolean;
  gcmPath(): NativeGcmPath;
}

/** Where node-gyp puts the addon: the same relative path from src/block and from dist/block. */
export const nativeAddonPath = fileURLToPath(new URL('../../native/build/Release/sealkeep_block.node', import.meta.url));

class NativeSectorCipher extends SectorCipher {
  readonly #addon: BlockAddon;
  readonly #handle: KeyHandle;
  /** The path this key took at open (see NativeXtsPath). */
  readonly xtsPath: NativeXtsPath;

  constructor(addon: BlockAddon, options: SectorCipherOptions, evpOnly = false) {
    super(options);
    this.#addon = addon;
    this.#handle = addon.openXtsKey(options.key, options.sectorSize, evpOnly);
    this.xtsPath = addon.xtsKeyPath(this.#handle);
  }

  protected onCrypt(encrypt: boolean, firstLba: bigint, input: Uint8Array, output: Uint8Array): void {
    this.#addon.xtsCrypt(this.#handle, encrypt, firstLba, input, output);
  }

  protected onDestroy(): void {
    this.#addon.destroy(this.#handle);
  }
}

class NativeSectorTagger extends SectorTagger {
  readonly #addon: BlockAddon;
  readonly #handle: KeyHandle;
  /** The path this key took at open (see NativeTagPath). */
  readonly tagPath: NativeTagPath;

  constructor(addon: BlockAddon, options: SectorTaggerOptions, only?: NativeTagPath) {
    super(options);
    this.#addon = addon;
    this.#handle = addon.openTagKey(options.key, this.volumeId, options.sectorSize, only && TAG_ALLOWED[only]);
    this.tagPath = addon.tagKeyPath(this.#handle);
  }

  protected onTag(firstLba: bigint, generations: BigUint64Array, ciphertext: Uint8Array, tagsOut: Uint8Array): void {
    this.#addon.tagSectors(this.#handle, firstLba, generations, ciphertext, tagsOut);
  }

  protected onVerify(firstLba: bigint, generations: BigUint64Array, ciphertext: Uint8Array, tags: Uint8Array): number[] {
    return this.#addon.verifySectorTags(this.#handle, firstLba, generations, ciphertext, tags);
  }

  protected onDestroy(): void {
    this.#addon.destroy(this.#handle);
  }
}

let loaded: { engine: BlockCryptoEngine; addon: BlockAddon } | { error: Error } | undefined;

function load(): { engine: BlockCryptoEngine; addon: BlockAddon } | { error: Error } {
  if (loaded) return loaded;
  try {
    const addon = createRequire(import.meta.url)(nativeAddonPath) as BlockAddon;
    if (addon.abi !== NATIVE_ABI) throw new Error(`${nativeAddonPath} was built from other sources (ABI ${addon.abi ?? 1}, this code needs ${NATIVE_ABI}): run npm run build`);
    loaded = {
      addon,
      engine: {
        name: 'native',
        openSectorCipher: (options) => new NativeSectorCipher(addon, options),
        openSectorTagger: (options) => new NativeSectorTagger(addon, options),
        merkleRoot: (tags) => {
          if (!(tags instanceof Uint8Array) || tags.length % TAG_BYTES !== 0) throw new BlockCryptoError('INVALID_ARGUMENT', `tags must be a whole number of ${TAG_BYTES}-byte tags`);
          const root = Buffer.alloc(32);
          addon.merkleRoot(tags, root);
          return root;
        },
        gcmInPlace: (encrypt, key, iv, aad, parts, tag, authenticateOnly) => addon.gcmInPlace(encrypt, key, iv, aad, [...parts], tag, authenticateOnly),
      },
    };
  } catch (e) {
    loaded = { error: e as Error };
  }
  return loaded;
}

/** The native engine, or null when the addon is not built or does not load (see nativeLoadError). */
export function nativeBlockCryptoEngine(): BlockCryptoEngine | null {
  const result = load();
  return 'engine' in result ? result.engine : null;
}

/** Why the addon did not load, or null when it did. */
export function nativeLoadError(): Error | null {
  const result = load();
  return 'error' in result ? result.error : null;
}

/** For tests and benchmarks: a native sector cipher, held on the EVP path when evpOnly is set, with
 * the path it took; null when the addon does not load. */
export function openNativeSectorCipher(
  options: SectorCipherOptions,
  { evpOnly = false }: { evpOnly?: boolean } = {},
): (SectorCipher & { readonly xtsPath: NativeXtsPath }) | null {
  const result = load();
  return 'addon' in result ? new NativeSectorCipher(result.addon, options, evpOnly) : null;
}

/** For tests and benchmarks: a native sector tagger, held to one path when `only` names it (it
 * takes EVP where the CPU lacks that path), with the path it took; null when the addon does not load. */
export function openNativeSectorTagger(
  options: SectorTaggerOptions,
  { only }: { only?: NativeTagPath } = {},
): (SectorTagger & { readonly tagPath: NativeTagPath }) | null {
  const result = load();
  return 'addon' in result ? new NativeSectorTagger(result.addon, options, only) : null;
}

/** For tests and benchmarks: the path sealed bodies take on this CPU, or null when the addon does not load. */
export function nativeGcmPath(): NativeGcmPath | null {
  const result = load();
  return 'addon' in result ? result.addon.gcmPath() : null;
}

/** For tests and benchmarks: the engine's gcmInPlace held on OpenSSL's path; null when the addon does not load. */
export function nativeEvpGcmInPlace(): BlockCryptoEngine['gcmInPlace'] | null {
  const result = load();
  if (!('addon' in result)) return null;
  const { addon } = result;
  return (encrypt, key, iv, aad, parts, tag, authenticateOnly) => addon.gcmInPlace(encrypt, key, iv, aad, [...parts], tag, authenticateOnly, true);
}
