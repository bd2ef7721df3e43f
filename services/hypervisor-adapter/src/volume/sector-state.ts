// A sector's state, as the tag file and the journal hold it: one 64-bit generation word and, for
// written data, the sector's 32-byte tag.
//
//   generation word   meaning                         on read
//   0                 never written                   zeros, nothing to check
//   bit 63 set        zeroed (trim, write-zeroes)     zeros, nothing to check
//   otherwise g       data written at generation g    tag checked over (volume, LBA, g, ciphertext)
//
// The counter (bits 0..62) grows by one on every change of the sector, zeroing included, so a
// sector's tag never repeats and an older copy of the sector fails the check against the current
// generation. Tag file entry, per LBA at LBA × 40: generation word (u64 big-endian) ‖ tag.

import { TAG_BYTES } from '@sealkeep/crypto';

export const ZEROED_FLAG = 1n << 63n;
const COUNTER_MASK = ZEROED_FLAG - 1n;

export const GENERATION_BYTES = 8;
export const TAG_ENTRY_BYTES = GENERATION_BYTES + TAG_BYTES;

export type SectorKind = 'unwritten' | 'zeroed' | 'data';

export function sectorKind(word: bigint): SectorKind {
  if (word === 0n) return 'unwritten';
  return (word & ZEROED_FLAG) !== 0n ? 'zeroed' : 'data';
}

/** The generation word of the next data write over a sector in state `word`. */
export function nextDataGeneration(word: bigint): bigint {
  const next = (word & COUNTER_MASK) + 1n;
  if (next > COUNTER_MASK) throw new RangeError('sector generation counter exhausted');
  return next;
}

/** The generation word of a sector in state `word` once zeroed: unwritten and zeroed sectors stay as they are. */
export function nextZeroedGeneration(word: bigint): bigint {
  return sectorKind(word) === 'data' ? nextDataGeneration(word) | ZEROED_FLAG : word;
}

/** Generation words and tags of consecutive sectors, decoded from tag-file entries. */
export interface SectorStates {
  words: BigUint64Array;
  /** 32 bytes per sector; meaningful for 'data' sectors only. */
  tags: Buffer;
}

export function decodeEntries(entries: Buffer, count: number): SectorStates {
  const words = new BigUint64Array(count);
  const tags = Buffer.allocUnsafe(count * TAG_BYTES);
  for (let i = 0; i < count; i++) {
    const at = i * TAG_ENTRY_BYTES;
    words[i] = entries.readBigUInt64BE(at);
    entries.copy(tags, i * TAG_BYTES, at + GENERATION_BYTES, at + TAG_ENTRY_BYTES);
  }
  return { words, tags };
}

/** Tag-file entries for consecutive sectors; tags may be null (zeroed sectors: the tag is zeros). */
export function encodeEntries(words: BigUint64Array, tags: Buffer | null): Buffer {
  const entries = Buffer.alloc(words.length * TAG_ENTRY_BYTES);
  for (let i = 0; i < words.length; i++) {
    const at = i * TAG_ENTRY_BYTES;
    entries.writeBigUInt64BE(words[i]!, at);
    if (tags) tags.copy(entries, at + GENERATION_BYTES, i * TAG_BYTES, (i + 1) * TAG_BYTES);
  }
  return entries;
}
