// The write-ahead journal of a volume (README.md, "Crash safety"): two files, used in turn, each
// holding one round of records. Records are appended at the tail of the active file, one
// positional writev each, and made durable by sync() (fdatasync). A checkpoint starts the next
// round in the other file, at offset 0, with a checkpoint record — sequence numbers carrying on —
// that names the round it follows (by its checkpoint record's sequence number); that round, in the
// file just left, stays what replay takes first until retirePrevious() says its records are all
// in durable data files, and erases its checkpoint record durably: a retired round is never taken
// for a round again. Only then may the round after next reuse its file, so a checkpoint never
// waits for the files to be written: appends go on in the new round meanwhile. Replay follows
// records from offset 0 of each file while each is whole, its checksum holds and its sequence
// number is the next one, so bytes of earlier rounds beyond a tail are never mistaken for records.

import { constants, writeSync, writevSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import type { Logger } from '../logger.js';
import {
  RECORD_HEADER_BYTES,
  checkpointRecord,
  checksumHolds,
  decodeRecord,
  encodeRecordHead,
  followsOf,
  metadataBytes,
  parseRecordHeader,
  recordBytes,
  type JournalRecord,
  type RecordHeader,
  type SectorChange,
} from './journal-record.js';
import { readFully } from './sector-files.js';

/** A record that is not the journal's torn tail failed its checks: replaying past it would lose acknowledged writes. */
export class JournalDamaged extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JournalDamaged';
  }
}

/** Applies a replayed record; false if its ciphertext fails its tags (the record is then not applied). */
export type ReplayRecord = (record: JournalRecord) => Promise<boolean>;

type ReadResult =
  | { ok: true; record: JournalRecord; length: number }
  | { ok: false; reason: string; header: RecordHeader | null; length: number };

type FileIndex = 0 | 1;

/**
 * How far past the last replayed record the sequence numbers go on after a replay: records of a
 * torn round may lie beyond its tear, and a later round in that file must never number a record
 * as one of them so that a replay could chain into it.
 */
const SEQUENCE_GAP_AFTER_REPLAY = 1n << 32n;

interface JournalFile {
  readonly handle: FileHandle;
  /** End of the last appended record (everything before it is whole). */
  tail: number;
  /** How far the file is known to be on stable storage. */
  durable: number;
  syncing: Promise<void> | null;
  /** Counts the rounds started in this file, so that a sync of an earlier one never vouches for a later one. */
  round: number;
}

export class SectorJournal {
  readonly #files: [JournalFile, JournalFile];
  #active: FileIndex = 0;
  /** The round before the active one while its records may not all be in durable data files. */
  #previous: FileIndex | null = null;
  /** The sequence number of the active round's checkpoint record: what the next round follows. */
  #roundStart = 0n;
  readonly #volumeId: Uint8Array;
  readonly #sectorSize: number;
  #nextSequence = 1n;
  #syncFailure: Error | null = null;

  private constructor(handles: [FileHandle, FileHandle], volumeId: Uint8Array, sectorSize: number) {
    const file = (handle: FileHandle): JournalFile => ({ handle, tail: 0, durable: 0, syncing: null, round: 0 });
    this.#files = [file(handles[0]), file(handles[1])];
    this.#volumeId = volumeId;
    this.#sectorSize = sectorSize;
  }

  /**
   * Opens (or makes) the two journal files; `create` starts them empty. A file made here is made
   * durable by the caller's fsync of the directory (open-volume.ts writes volume.json, whose write
   * does it, whenever it makes a volume or gives one its second journal file). Call replay()
   * before the first append.
   */
  static async open(paths: readonly [string, string], volumeId: Uint8Array, sectorSize: number, create: boolean): Promise<SectorJournal> {
    const flags = constants.O_RDWR | constants.O_CREAT | (create ? constants.O_TRUNC : 0);
    const first = await open(paths[0], flags, 0o600);
    const second = await open(paths[1], flags, 0o600).catch(async (error: unknown) => {
      await first.close();
      throw error;
    });
    return new SectorJournal([first, second], volumeId, sectorSize);
  }

  /** Bytes of the active round: how long it has grown since the last checkpoint. */
  get bytes(): number {
    return this.#files[this.#active].tail;
  }

  /** The sequence number the next record (or checkpoint) takes: it only grows, across rounds too. */
  get nextSequence(): bigint {
    return this.#nextSequence;
  }

  /**
   * Hands every record that a crash may have left unapplied to `apply`, in order: the newest
   * round's, after those of the round it follows if the other file still begins with that round.
   * If it does not, that round was retired (its changes are in durable files), or its checkpoint
   * record never became durable — then no sync (no flush, no write-back) completed since it began,
   * and each sector the newest round changes is still its old or its new content. A record that
   * fails its checks ends its round as the torn tail of the crash, unless a valid record follows
   * it: that is damage, and JournalDamaged is thrown instead — for a round's checkpoint record
   * too. Leaves the newest round's file active, its tail after its last record.
   */
  async replay(apply: ReplayRecord, log: Logger): Promise<{ records: number }> {
    const starts = await Promise.all(([0, 1] as const).map((i) => this.#readAt(i, 0)));
    for (const i of [0, 1] as const) {
      const read = starts[i]!;
      const claimed = read.ok ? null : read.header?.sequence;
      if (claimed !== undefined && claimed !== null && (await this.#recordFollows(i, read.length, claimed + 1n))) {
        throw new JournalDamaged(`journal file ${i}: the checkpoint record ${claimed} that begins its round fails (${(read as { reason: string }).reason}), yet record ${claimed + 1n} follows it`);
      }
    }
    const start = (i: FileIndex) => {
      const read = starts[i]!;
      return read.ok && read.record.kind === 'checkpoint' ? read.record : null;
    };
    const rounds = ([0, 1] as const).filter((i) => start(i) !== null).sort((a, b) => (start(a)!.sequence < start(b)!.sequence ? -1 : 1));
    const newest = rounds.at(-1);
    if (newest === undefined) {
      this.#active = 1; // nothing to replay (a new journal): the first round starts in the first file
      return { records: 0 };
    }
    const follows = followsOf(start(newest)!);
    let records = 0;
    if (follows !== 0n) {
      const other: FileIndex = newest === 0 ? 1 : 0;
      if (start(other)?.sequence === follows) records += (await this.#replayRound(other, apply, log)).records;
      else log.info({ follows }, 'journal replay: the round the newest follows is retired (or never became durable); the newest round alone is replayed');
    }
    const last = await this.#replayRound(newest, apply, log);
    records += last.records;
    this.#active = newest;
    this.#roundStart = start(newest)!.sequence;
    this.#nextSequence = last.last + 1n + SEQUENCE_GAP_AFTER_REPLAY;
    return { records };
  }

  /**
   * Appends a record (its sequence number assigned here) with one synchronous pwritev into the
   * page cache, so records follow one another with no hole and never interleave; durable after
   * the next sync().
   */
  append(record: SectorChange): void {
    const full: JournalRecord = { ...record, sequence: this.#nextSequence };
    const head = encodeRecordHead(full, this.#volumeId);
    const parts = record.ciphertext ? [head, record.ciphertext] : [head];
    const length = head.length + (record.ciphertext?.length ?? 0);
    const file = this.#files[this.#active];
    const written = writevSync(file.handle.fd, parts, file.tail);
    if (written !== length) throw new Error(`journal append wrote ${written} of ${length} bytes`);
    file.tail += length;
    this.#nextSequence++;
  }

  /**
   * Makes every record appended so far durable (fdatasync), the previous round's too while it is
   * not retired. Callers share syncs: one that arrives while a sync runs waits for it, then starts
   * another only if records came after it began.
   */
  async sync(): Promise<void> {
    await Promise.all([this.#previous === null ? undefined : this.#syncFile(this.#previous), this.#syncFile(this.#active)]);
  }

  /** Appended bytes of the active round not yet known durable. */
  get unsyncedBytes(): number {
    const file = this.#files[this.#active];
    return file.tail - file.durable;
  }

  /**
   * Starts the next round in the other file, whose own round must be retired: it is overwritten
   * from offset 0. `follows`: the records so far are not all in durable data files yet, so replay
   * takes them first; otherwise they all are and the new round stands alone. Either way the round
   * left is the previous one until retirePrevious().
   */
  switchRound(follows: boolean): void {
    if (this.#previous !== null) throw new Error('the previous round is not retired yet');
    const next: FileIndex = this.#active === 0 ? 1 : 0;
    const file = this.#files[next];
    const head = encodeRecordHead(checkpointRecord(this.#nextSequence, follows ? this.#roundStart : 0n), this.#volumeId);
    file.round++;
    file.tail = 0;
    file.durable = 0;
    const written = writeSync(file.handle.fd, head, 0, head.length, 0);
    if (written !== head.length) throw new Error(`journal checkpoint wrote ${written} of ${head.length} bytes`);
    file.tail = head.length;
    this.#previous = this.#active;
    this.#active = next;
    this.#roundStart = this.#nextSequence;
    this.#nextSequence++;
  }

  /**
   * The previous round's records are all in durable data files: once the active round's start is
   * durable (else a power loss could leave neither file beginning with a round newer than stale
   * ones), the previous round's checkpoint record is erased and that made durable, so replay
   * never takes the round again, nor anything later written over part of its file; then the round
   * after next may reuse the file.
   */
  async retirePrevious(): Promise<void> {
    const index = this.#previous;
    if (index === null) return;
    await this.#syncFile(this.#active);
    const file = this.#files[index];
    const erased = Buffer.alloc(RECORD_HEADER_BYTES);
    await file.handle.write(erased, 0, erased.length, 0);
    await file.handle.datasync();
    this.#previous = null;
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.#files.map((file) => file.handle.close()));
  }

  async #syncFile(index: FileIndex): Promise<void> {
    const file = this.#files[index];
    const target = file.tail;
    const round = file.round;
    while (file.durable < target && round === file.round) {
      if (this.#syncFailure) throw this.#syncFailure;
      if (!file.syncing) {
        const covering = file.tail;
        file.syncing = file.handle.datasync().then(
          () => {
            if (round === file.round) file.durable = Math.max(file.durable, covering);
            file.syncing = null;
          },
          (error: unknown) => {
            // A failed fdatasync may have dropped the dirty pages it could not write; a later one
            // could then succeed without them. So the failure stands for good.
            this.#syncFailure = error instanceof Error ? error : new Error(String(error));
            file.syncing = null;
            throw this.#syncFailure;
          },
        );
      }
      await file.syncing;
    }
  }

  /** Replays one file's round from its checkpoint record; leaves its tail after the last record taken. */
  async #replayRound(index: FileIndex, apply: ReplayRecord, log: Logger): Promise<{ records: number; last: bigint }> {
    let offset = 0;
    let expected: bigint | null = null;
    let records = 0;
    for (;;) {
      const read = await this.#readAt(index, offset);
      let failure: string | null = null;
      let claimed: bigint | null = null; // the sequence number a failing record claims, if legible
      if (!read.ok) {
        failure = read.reason;
        claimed = read.header?.sequence ?? null;
      } else if (expected !== null && read.record.sequence !== expected) {
        break; // a whole record of an earlier round: this round ends here
      } else if (read.record.kind !== 'checkpoint' && !(await apply(read.record))) {
        failure = 'ciphertext does not match its tags';
        claimed = read.record.sequence;
      }
      if (failure !== null) {
        const inRound = claimed !== null && (expected === null || claimed === expected);
        if (inRound && (await this.#recordFollows(index, offset + read.length, claimed! + 1n))) {
          throw new JournalDamaged(`journal record ${claimed} at offset ${offset}: ${failure}, yet record ${claimed! + 1n} follows it`);
        }
        if (inRound) log.warn({ offset, sequence: claimed, reason: failure }, 'journal replay: torn last record dropped (its write was never flushed)');
        break;
      }
      if (!read.ok) break; // (narrowing: failure is set whenever the read failed)
      if (read.record.kind !== 'checkpoint') records++;
      expected = read.record.sequence + 1n;
      offset += read.length;
    }
    this.#files[index].tail = offset;
    return { records, last: (expected ?? 1n) - 1n };
  }

  async #recordFollows(index: FileIndex, offset: number, sequence: bigint): Promise<boolean> {
    const next = await this.#readAt(index, offset);
    return next.ok && next.record.sequence === sequence;
  }

  async #readAt(index: FileIndex, offset: number): Promise<ReadResult> {
    const file = this.#files[index].handle;
    const header = await readFully(file, offset, RECORD_HEADER_BYTES);
    const parsed = header.length === RECORD_HEADER_BYTES ? parseRecordHeader(header) : null;
    if (!parsed) return { ok: false, reason: 'no record header', header: null, length: 0 };
    const length = recordBytes(parsed.kind, parsed.count, this.#sectorSize);
    const headBytes = RECORD_HEADER_BYTES + metadataBytes(parsed.kind, parsed.count);
    const head = await readFully(file, offset, headBytes);
    if (head.length !== headBytes) return { ok: false, reason: 'record cut short', header: parsed, length };
    if (!checksumHolds(head, this.#volumeId)) return { ok: false, reason: 'checksum does not hold', header: parsed, length };
    let ciphertext: Buffer | null = null;
    if (parsed.kind === 'sectors') {
      ciphertext = await readFully(file, offset + headBytes, length - headBytes);
      if (ciphertext.length !== length - headBytes) return { ok: false, reason: 'record cut short', header: parsed, length };
    }
    return { ok: true, record: decodeRecord(parsed, head, ciphertext), length };
  }
}
