// One journal record's bytes, declared once (README.md, "Journal"). All integers big-endian.
//
//   offset      size   field
//   0           8      magic 'SKJRNL01'
//   8           8      sequence number: one more than the record before it
//   16          2      kind: 1 sectors, 2 zeroes, 3 checkpoint
//   18          2      reserved, zero
//   20          4      sector count n (0 for a checkpoint)
//   24          8      first LBA; a checkpoint: the sequence number of the checkpoint record that
//                      began the round it follows (whose records replay takes first), 0 if it
//                      stands alone
//   32          32     SHA-256(volume id ‖ bytes 0..31 ‖ metadata)
//   64          8n     metadata: the new generation word of each sector
//   64+8n       32n    metadata: each sector's tag                        (sectors only)
//   64+40n      S·n    the sectors' ciphertext, as it goes to the data file (sectors only)
//
// The checksum binds header and metadata to the volume; the ciphertext is bound by the tags
// themselves (HMAC over volume id, LBA, generation and ciphertext), checked before replay.

import { createHash } from 'node:crypto';
import { decodeGenerations, encodeGenerations, GENERATION_BYTES, TAG_BYTES } from '@sealkeep/crypto';

export const RECORD_MAGIC = 0x534b4a524e4c3031n;
export const RECORD_HEADER_BYTES = 64;
const CHECKSUM_OFFSET = 32;
/** The largest record: one 32 MiB request of 512-byte sectors. */
export const MAX_RECORD_SECTORS = 1 << 16;

export const RECORD_KIND = { sectors: 1, zeroes: 2, checkpoint: 3 } as const;
export type RecordKind = keyof typeof RECORD_KIND;

export interface JournalRecord {
  sequence: bigint;
  kind: RecordKind;
  firstLba: number;
  /** The generation word each sector has once the record is applied. */
  words: BigUint64Array;
  /** sectors only: 32 bytes per sector. */
  tags: Buffer | null;
  /** sectors only. */
  ciphertext: Buffer | null;
}

/** The record that starts a round: `follows` is the sequence number of the checkpoint record that began the round before it, 0n if it stands alone. */
export function checkpointRecord(sequence: bigint, follows: bigint): JournalRecord {
  return { sequence, kind: 'checkpoint', firstLba: Number(follows), words: new BigUint64Array(0), tags: null, ciphertext: null };
}

/** The round a checkpoint record follows (see checkpointRecord). */
export function followsOf(checkpoint: JournalRecord): bigint {
  return BigInt(checkpoint.firstLba);
}

/** A record without its sequence number: a change to a run of sectors, as the volume makes it. */
export type SectorChange = Omit<JournalRecord, 'sequence'>;

/** What a record header says, before its checksum is known to hold. */
export interface RecordHeader {
  sequence: bigint;
  kind: RecordKind;
  count: number;
  firstLba: number;
}

export function metadataBytes(kind: RecordKind, count: number): number {
  return count * (GENERATION_BYTES + (kind === 'sectors' ? TAG_BYTES : 0));
}

/** Header, metadata and ciphertext together. */
export function recordBytes(kind: RecordKind, count: number, sectorSize: number): number {
  return RECORD_HEADER_BYTES + metadataBytes(kind, count) + (kind === 'sectors' ? count * sectorSize : 0);
}

/** The header and metadata of a record, checksum included; the ciphertext is written after it as is. */
export function encodeRecordHead(record: JournalRecord, volumeId: Uint8Array): Buffer {
  const count = record.words.length;
  const head = Buffer.alloc(RECORD_HEADER_BYTES + metadataBytes(record.kind, count));
  head.writeBigUInt64BE(RECORD_MAGIC, 0);
  head.writeBigUInt64BE(record.sequence, 8);
  head.writeUInt16BE(RECORD_KIND[record.kind], 16);
  head.writeUInt32BE(count, 20);
  head.writeBigUInt64BE(BigInt(record.firstLba), 24);
  encodeGenerations(record.words).copy(head, RECORD_HEADER_BYTES);
  if (record.kind === 'sectors') record.tags!.copy(head, RECORD_HEADER_BYTES + count * GENERATION_BYTES);
  checksum(head, volumeId).copy(head, CHECKSUM_OFFSET);
  return head;
}

/** The header's fields, or null if these 64 bytes cannot be the start of a record. */
export function parseRecordHeader(header: Buffer): RecordHeader | null {
  if (header.length < RECORD_HEADER_BYTES || header.readBigUInt64BE(0) !== RECORD_MAGIC) return null;
  const kind = (Object.keys(RECORD_KIND) as RecordKind[]).find((k) => RECORD_KIND[k] === header.readUInt16BE(16));
  const count = header.readUInt32BE(20);
  const firstLba = header.readBigUInt64BE(24);
  if (!kind || header.readUInt16BE(18) !== 0 || count > MAX_RECORD_SECTORS) return null;
  if ((kind === 'checkpoint') !== (count === 0) || firstLba > BigInt(Number.MAX_SAFE_INTEGER)) return null;
  return { sequence: header.readBigUInt64BE(8), kind, count, firstLba: Number(firstLba) };
}

/** Whether header ‖ metadata carry a checksum that holds for this volume. */
export function checksumHolds(head: Buffer, volumeId: Uint8Array): boolean {
  return checksum(head, volumeId).equals(head.subarray(CHECKSUM_OFFSET, CHECKSUM_OFFSET + 32));
}

/** The record from its verified head and its ciphertext (null for zeroes and checkpoints). */
export function decodeRecord(header: RecordHeader, head: Buffer, ciphertext: Buffer | null): JournalRecord {
  const { count, kind } = header;
  const words = decodeGenerations(head.subarray(RECORD_HEADER_BYTES, RECORD_HEADER_BYTES + count * GENERATION_BYTES));
  const tagsAt = RECORD_HEADER_BYTES + count * GENERATION_BYTES;
  const tags = kind === 'sectors' ? head.subarray(tagsAt, tagsAt + count * TAG_BYTES) : null;
  return { sequence: header.sequence, kind, firstLba: header.firstLba, words, tags, ciphertext };
}

function checksum(head: Buffer, volumeId: Uint8Array): Buffer {
  return createHash('sha256')
    .update(volumeId)
    .update(head.subarray(0, CHECKSUM_OFFSET))
    .update(head.subarray(RECORD_HEADER_BYTES))
    .digest();
}
