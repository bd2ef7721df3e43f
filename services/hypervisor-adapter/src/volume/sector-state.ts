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

import { endianness } from 'node:os';
import { GENERATION_BYTES, TAG_BYTES } from '@sealkeep/crypto';

export const ZEROED_FLAG = 1n << 63n;
const COUNTER_MASK = ZEROED_FLAG - 1n;

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

// Entries are converted 32 bits at a time (big-endian DataView reads and writes), with a word's
// two halves taken from or put into the BigUint64Array as the host orders them: no bigint per
// sector, and no call per field (a Buffer copy of a few bytes costs more than the bytes).
const HIGH = endianness() === 'LE' ? 1 : 0;
const LOW = 1 - HIGH;
const entryView = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);

export function decodeEntries(entries: Buffer, count: number): SectorStates {
  const tags = Buffer.allocUnsafe(count * TAG_BYTES);
  const from = entryView(entries);
  const to = entryView(tags);
  for (let i = 0; i < count; i++) {
    for (let j = 0; j < TAG_BYTES; j += 4) to.setUint32(i * TAG_BYTES + j, from.getUint32(i * TAG_ENTRY_BYTES + GENERATION_BYTES + j));
  }
  return { words: decodeWords(entries, count), tags };
}

/** The generation words alone of consecutive tag-file entries. */
export function decodeWords(entries: Buffer, count: number): BigUint64Array {
  const words = new BigUint64Array(count);
  const halves = new Uint32Array(words.buffer);
  const from = entryView(entries);
  for (let i = 0; i < count; i++) {
    halves[2 * i + HIGH] = from.getUint32(i * TAG_ENTRY_BYTES);
    halves[2 * i + LOW] = from.getUint32(i * TAG_ENTRY_BYTES + 4);
  }
  return words;
}

/** Tag-file entries for consecutive sectors; tags may be null (zeroed sectors: the tag is zeros). */
export function encodeEntries(words: BigUint64Array, tags: Buffer | null): Buffer {
  const entries = Buffer.alloc(words.length * TAG_ENTRY_BYTES);
  const halves = new Uint32Array(words.buffer, words.byteOffset, words.length * 2);
  const to = entryView(entries);
  const from = tags ? entryView(tags) : null;
  for (let i = 0; i < words.length; i++) {
    const at = i * TAG_ENTRY_BYTES;
    to.setUint32(at, halves[2 * i + HIGH]!);
    to.setUint32(at + 4, halves[2 * i + LOW]!);
    if (from) for (let j = 0; j < TAG_BYTES; j += 4) to.setUint32(at + GENERATION_BYTES + j, from.getUint32(i * TAG_BYTES + j));
  }
  return entries;
}

/** Writes one sector's entry (generation word ‖ tag, or zeros for no tag) at index `i` of a run of entries. */
export function setEntry(entries: Buffer, i: number, word: bigint, tag: Uint8Array | null): void {
  const at = i * TAG_ENTRY_BYTES;
  entries.writeBigUInt64BE(word, at);
  if (tag) entries.set(tag, at + GENERATION_BYTES);
  else entries.fill(0, at + GENERATION_BYTES, at + TAG_ENTRY_BYTES);
}

/** Whether each new generation word is the one a change of `kind` gives the sector's word before it (its entry in `previous`). */
export function followsOn(kind: 'sectors' | 'zeroes', words: BigUint64Array, previous: Buffer): boolean {
  const next = kind === 'sectors' ? nextDataGeneration : nextZeroedGeneration;
  const before = decodeWords(previous, words.length);
  try {
    return words.every((word, i) => word === next(before[i]!));
  } catch {
    return false; // (a counter exhausted: no change follows it)
  }
}
