// The byte layouts of the block engine, declared once for both implementations (the C addon
// writes the same bytes; README.md beside this file is the prose version):
//   XTS tweak  = sector number as u64 little-endian, zero-padded to 16 bytes (dm-crypt `plain64`)
//   tag input  = volume id (16) || LBA (u64 big-endian) || generation (u64 big-endian) || ciphertext
//   tag        = HMAC-SHA-256(integrity key, tag input), 32 bytes
//   generations, wherever they travel or are stored in runs (block requests, journal records,
//   tag files): u64 big-endian, one per sector

import { endianness } from 'node:os';
import { BlockCryptoError } from './block-crypto-error.js';

/** Data-unit sizes the engine accepts: one XTS data unit is one sector. */
export type SectorSize = 512 | 4096;
export const SECTOR_SIZES: readonly SectorSize[] = [512, 4096];

/** key1 (data) || key2 (tweak), 32 bytes each. */
export const XTS_KEY_BYTES = 64;
export const INTEGRITY_KEY_BYTES = 32;
export const VOLUME_ID_BYTES = 16;
export const TAG_BYTES = 32;
export const GENERATION_BYTES = 8;
/** volume id, LBA and generation: the fixed part of a tag's input, before the ciphertext. */
export const TAG_HEADER_BYTES = VOLUME_ID_BYTES + 8 + 8;
export const MAX_U64 = (1n << 64n) - 1n;

const LITTLE_ENDIAN = endianness() === 'LE';

/** Generation words as u64 big-endian bytes, one after another: one copy and one byte swap, no bigint per word. */
export function encodeGenerations(words: BigUint64Array): Buffer {
  const out = Buffer.allocUnsafe(words.byteLength);
  out.set(new Uint8Array(words.buffer, words.byteOffset, words.byteLength));
  return LITTLE_ENDIAN ? out.swap64() : out;
}

/** The generation words of u64 big-endian bytes (a whole number of 8). */
export function decodeGenerations(bytes: Uint8Array): BigUint64Array {
  if (bytes.length % GENERATION_BYTES !== 0) throw new BlockCryptoError('INVALID_ARGUMENT', `generations must be whole ${GENERATION_BYTES}-byte words`);
  const words = new BigUint64Array(bytes.length / GENERATION_BYTES);
  const view = Buffer.from(words.buffer);
  view.set(bytes);
  if (LITTLE_ENDIAN) view.swap64();
  return words;
}

/** Writes the XTS tweak of sector `lba` into `iv` (16 bytes; the upper 8 must already be zero). */
export function writeXtsTweak(iv: Buffer, lba: bigint): void {
  iv.writeBigUInt64LE(lba, 0);
}

/** Writes a tag header's LBA and generation; bytes 0..15 hold the volume id, written once. */
export function writeTagHeader(header: Buffer, lba: bigint, generation: bigint): void {
  header.writeBigUInt64BE(lba, VOLUME_ID_BYTES);
  header.writeBigUInt64BE(generation, VOLUME_ID_BYTES + 8);
}

/** A tag header with the volume id in place and LBA and generation zero. */
export function newTagHeader(volumeId: Uint8Array): Buffer {
  const header = Buffer.alloc(TAG_HEADER_BYTES);
  header.set(volumeId, 0);
  return header;
}

/** The 16 bytes of a UUID (RFC 9562 §4: the hex digits in string order). */
export function volumeIdFromUuid(uuid: string): Buffer {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(uuid)) {
    throw new BlockCryptoError('INVALID_ARGUMENT', `volume id: not a UUID: ${JSON.stringify(uuid)}`);
  }
  return Buffer.from(uuid.replaceAll('-', ''), 'hex');
}
