// One journal record's bytes, declared once (README.md, "Journal"). All integers big-endian.
//
//   offset      size   field
//   0           8      magic 'SKJRNL03'
//   8           8      sequence number: one more than the record before it
//   16          2      kind: 1 sectors, 2 zeroes, 3 checkpoint
//   18          2      reserved, zero
//   20          4      sector count n (0 for a checkpoint)
//   24          8      first LBA; a checkpoint: the sequence number of the checkpoint record that
//                      began the round it follows (whose records replay takes first), 0 if it
//                      stands alone
//   32          8      durable through: when this record was appended, every record up to this
//                      sequence number was known durable (a completed fdatasync of its file;
//                      before a round that stands alone, its changes in durable data files)
//   40          32     SHA-256(volume id ‖ bytes 0..39 ‖ metadata)
//   72          8n     metadata: the new generation word of each sector
//   72+8n       32n    metadata: each sector's tag                        (sectors only)
//   72+8n       32     metadata: the record's authenticator               (zeroes only)
//   then        40n    metadata: each sector's tag-file entry before the record (generation
//                      word ‖ tag, as in the tag file): what the state the record started from
//                      is computed from at replay (a volume state record; open-volume.ts)
//   then        S·n    the sectors' ciphertext, as it goes to the data file (sectors only)
//
// The checksum binds header and metadata to the volume, against damage; it has no key. What no
// one without the keys can make: the ciphertext is bound by the tags themselves (HMAC over
// volume id, LBA, generation and ciphertext), and a zeroes record by its authenticator — the tag
// of a sector-sized block holding zeroesDigest() at its first LBA and first new generation word
// (a zeroed word, which no data sector's tag covers). Replay checks both, and that each new
// generation word follows the word before it, so the entries before a record are those of the
// one state its new entries can follow.
//
// Records of volume format 3 ('SKJRNL02') have no entries before; those of formats 1 and 2
// ('SKJRNL01') a 64-byte header with no durable-through field either (the checksum at 32, over
// bytes 0..31 and the metadata). They are still read, the latter as saying nothing of durability
// (durable through 0); replay judges damage among them as those formats did (sector-journal.ts).

import { createHash } from 'node:crypto';
import { decodeGenerations, encodeGenerations, GENERATION_BYTES, TAG_BYTES } from '@sealkeep/crypto';
import { TAG_ENTRY_BYTES } from './sector-state.js';

export const RECORD_MAGIC = 0x534b4a524e4c3033n;
/** The magic of records written by volume format 3: no entries before. */
const FORMAT_3_RECORD_MAGIC = 0x534b4a524e4c3032n;
/** The magic of records written by volume formats 1 and 2: a 64-byte header, no durable-through field. */
const EARLIER_RECORD_MAGIC = 0x534b4a524e4c3031n;
export const RECORD_HEADER_BYTES = 72;
const EARLIER_HEADER_BYTES = 64;
/** What both versions' magics begin with, as it lies in a file: what the search for records past a damaged one looks for (seven bytes: Buffer.indexOf finds them several times faster than eight). */
export const RECORD_MAGIC_PREFIX = Buffer.from('SKJRNL0', 'latin1');
/** Where each header version's checksum lies (its header ends 32 bytes later). */
const checksumOffset = (headerBytes: number) => headerBytes - 32;
/** The largest record: one 32 MiB request of 512-byte sectors. */
export const MAX_RECORD_SECTORS = 1 << 16;

export const RECORD_KIND = { sectors: 1, zeroes: 2, checkpoint: 3 } as const;
export type RecordKind = keyof typeof RECORD_KIND;

export interface JournalRecord {
  sequence: bigint;
  /** Every record up to this sequence number was known durable when this one was appended. */
  durableThrough: bigint;
  kind: RecordKind;
  firstLba: number;
  /** The generation word each sector has once the record is applied. */
  words: BigUint64Array;
  /** sectors only: 32 bytes per sector. */
  tags: Buffer | null;
  /** sectors only. */
  ciphertext: Buffer | null;
  /** Each sector's tag-file entry before the record (40 bytes each); null in a record of an earlier format. */
  previous: Buffer | null;
  /** zeroes only: the tag over zeroesDigest() (absent in a record of an earlier format). */
  authenticator?: Buffer | null;
}

/** The record that starts a round: `follows` is the sequence number of the checkpoint record that began the round before it, 0n if it stands alone. */
export function checkpointRecord(sequence: bigint, follows: bigint, durableThrough: bigint): JournalRecord {
  return { sequence, durableThrough, kind: 'checkpoint', firstLba: Number(follows), words: new BigUint64Array(0), tags: null, ciphertext: null, previous: Buffer.alloc(0), authenticator: null };
}

/** The round a checkpoint record follows (see checkpointRecord). */
export function followsOf(checkpoint: JournalRecord): bigint {
  return BigInt(checkpoint.firstLba);
}

/** A record without what the journal gives it as it appends: a change to a run of sectors, as the volume makes it. */
export type SectorChange = Omit<JournalRecord, 'sequence' | 'durableThrough'>;

/** What a record header says, before its checksum is known to hold. */
export interface RecordHeader {
  sequence: bigint;
  durableThrough: bigint;
  kind: RecordKind;
  count: number;
  firstLba: number;
  /** 72, or 64 for a record of volume formats 1 and 2 (isEarlierFormat). */
  headerBytes: number;
  /** Whether the record carries each sector's entry before it (not in records of formats 1 to 3). */
  hasPrevious: boolean;
}

export function metadataBytes(kind: RecordKind, count: number, hasPrevious: boolean): number {
  const authenticator = kind === 'zeroes' && hasPrevious ? TAG_BYTES : 0;
  return count * (GENERATION_BYTES + (kind === 'sectors' ? TAG_BYTES : 0) + (hasPrevious ? TAG_ENTRY_BYTES : 0)) + authenticator;
}

/**
 * What a zeroes record's authenticator tags, as the data of a sector at its first LBA and first
 * new generation word: SHA-256 over the volume id and the record's sectors, new words and entries
 * before, then zeros to the sector's size.
 */
export function zeroesDigest(change: Pick<JournalRecord, 'firstLba' | 'words' | 'previous'>, volumeId: Uint8Array, sectorSize: number): Buffer {
  const where = Buffer.alloc(12);
  where.writeBigUInt64BE(BigInt(change.firstLba), 0);
  where.writeUInt32BE(change.words.length, 8);
  const block = Buffer.alloc(sectorSize);
  createHash('sha256').update('sealkeep zeroes record').update(volumeId).update(where).update(encodeGenerations(change.words)).update(change.previous!).digest().copy(block);
  return block;
}

/** A record of volume formats 1 and 2: it says nothing of durability. */
export const isEarlierFormat = (header: RecordHeader) => header.headerBytes < RECORD_HEADER_BYTES;

/** Header, metadata and ciphertext together. */
export function recordBytes(header: RecordHeader, sectorSize: number): number {
  return headBytes(header) + (header.kind === 'sectors' ? header.count * sectorSize : 0);
}

/** Header and metadata: what the checksum covers, with the checksum itself. */
export function headBytes(header: RecordHeader): number {
  return header.headerBytes + metadataBytes(header.kind, header.count, header.hasPrevious);
}

/** The header and metadata of a record, checksum included; the ciphertext is written after it as is. */
export function encodeRecordHead(record: JournalRecord, volumeId: Uint8Array): Buffer {
  const count = record.words.length;
  if (record.previous?.length !== count * TAG_ENTRY_BYTES) throw new RangeError(`a record of ${count} sectors carries ${count * TAG_ENTRY_BYTES} bytes of entries before it`);
  const head = Buffer.alloc(RECORD_HEADER_BYTES + metadataBytes(record.kind, count, true));
  head.writeBigUInt64BE(RECORD_MAGIC, 0);
  head.writeBigUInt64BE(record.sequence, 8);
  head.writeUInt16BE(RECORD_KIND[record.kind], 16);
  head.writeUInt32BE(count, 20);
  head.writeBigUInt64BE(BigInt(record.firstLba), 24);
  head.writeBigUInt64BE(record.durableThrough, 32);
  encodeGenerations(record.words).copy(head, RECORD_HEADER_BYTES);
  if (record.kind === 'sectors') record.tags!.copy(head, RECORD_HEADER_BYTES + count * GENERATION_BYTES);
  if (record.kind === 'zeroes') {
    if (record.authenticator?.length !== TAG_BYTES) throw new RangeError('a zeroes record carries its authenticator');
    record.authenticator.copy(head, RECORD_HEADER_BYTES + count * GENERATION_BYTES);
  }
  record.previous.copy(head, head.length - record.previous.length);
  checksum(head, RECORD_HEADER_BYTES, volumeId).copy(head, checksumOffset(RECORD_HEADER_BYTES));
  return head;
}

/** The header's fields, or null if these bytes (up to RECORD_HEADER_BYTES of them) cannot be the start of a record. */
export function parseRecordHeader(header: Buffer): RecordHeader | null {
  const magic = header.length >= EARLIER_HEADER_BYTES ? header.readBigUInt64BE(0) : 0n;
  const headerBytes = magic === RECORD_MAGIC || magic === FORMAT_3_RECORD_MAGIC ? RECORD_HEADER_BYTES : magic === EARLIER_RECORD_MAGIC ? EARLIER_HEADER_BYTES : 0;
  if (headerBytes === 0 || header.length < headerBytes) return null;
  const kind = (Object.keys(RECORD_KIND) as RecordKind[]).find((k) => RECORD_KIND[k] === header.readUInt16BE(16));
  const count = header.readUInt32BE(20);
  const firstLba = header.readBigUInt64BE(24);
  if (!kind || header.readUInt16BE(18) !== 0 || count > MAX_RECORD_SECTORS) return null;
  if ((kind === 'checkpoint') !== (count === 0) || firstLba > BigInt(Number.MAX_SAFE_INTEGER)) return null;
  const sequence = header.readBigUInt64BE(8);
  const durableThrough = headerBytes === RECORD_HEADER_BYTES ? header.readBigUInt64BE(32) : 0n;
  if (durableThrough >= sequence) return null;
  return { sequence, durableThrough, kind, count, firstLba: Number(firstLba), headerBytes, hasPrevious: magic === RECORD_MAGIC };
}

/** Whether header ‖ metadata (of the header version `header` names) carry a checksum that holds for this volume. */
export function checksumHolds(header: RecordHeader, head: Buffer, volumeId: Uint8Array): boolean {
  const at = checksumOffset(header.headerBytes);
  return checksum(head, header.headerBytes, volumeId).equals(head.subarray(at, at + 32));
}

/** The record from its verified head and its ciphertext (null for zeroes and checkpoints). */
export function decodeRecord(header: RecordHeader, head: Buffer, ciphertext: Buffer | null): JournalRecord {
  const { count, kind, headerBytes } = header;
  const words = decodeGenerations(head.subarray(headerBytes, headerBytes + count * GENERATION_BYTES));
  const tagsAt = headerBytes + count * GENERATION_BYTES;
  const tags = kind === 'sectors' ? head.subarray(tagsAt, tagsAt + count * TAG_BYTES) : null;
  const previous = header.hasPrevious ? head.subarray(head.length - count * TAG_ENTRY_BYTES) : null;
  const authenticator = kind === 'zeroes' && header.hasPrevious ? head.subarray(tagsAt, tagsAt + TAG_BYTES) : null;
  return { sequence: header.sequence, durableThrough: header.durableThrough, kind, firstLba: header.firstLba, words, tags, ciphertext, previous, authenticator };
}

function checksum(head: Buffer, headerBytes: number, volumeId: Uint8Array): Buffer {
  return createHash('sha256')
    .update(volumeId)
    .update(head.subarray(0, checksumOffset(headerBytes)))
    .update(head.subarray(headerBytes))
    .digest();
}
