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
// Each record says how far the journal was known durable when it was appended: a record that
// fails is the torn tail of a power loss (nothing after it was ever promised) unless a later
// record says it had been made durable — that is damage.

import { constants, writeSync, writevSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import type { Logger } from '../logger.js';
import {
  RECORD_HEADER_BYTES,
  RECORD_MAGIC_PREFIX,
  checkpointRecord,
  checksumHolds,
  decodeRecord,
  encodeRecordHead,
  followsOf,
  headBytes,
  isEarlierFormat,
  parseRecordHeader,
  recordBytes,
  type JournalRecord,
  type RecordHeader,
  type SectorChange,
} from './journal-record.js';
import { readFully } from './read-fully.js';

/** A record that had been made durable fails its checks (a later record says so): replaying past it would lose acknowledged writes. */
export class JournalDamaged extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JournalDamaged';
  }
}

/** Applies a replayed record; false if its ciphertext fails its tags (the record is then not applied). */
export type ReplayRecord = (record: JournalRecord) => Promise<boolean>;

type ReadResult =
  | { ok: true; record: JournalRecord; header: RecordHeader; length: number }
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
  /** The sequence number of the last record appended to this file's round (its checkpoint record, at first). */
  last: bigint;
  /** Every record up to this sequence number is durable: this file's records by a completed fdatasync, earlier ones as the round began. */
  durableThrough: bigint;
}

/** How much of a file the search for later records reads at a time (a record's magic may straddle two reads). */
const SCAN_CHUNK_BYTES = 4 << 20;

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
    const file = (handle: FileHandle): JournalFile => ({ handle, tail: 0, durable: 0, syncing: null, round: 0, last: 0n, durableThrough: 0n });
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
   * and each sector the newest round changes is still its old or its new content. Where a record
   * fails its checks (or is missing) its round ends: the torn tail of a power loss, whose pages may
   * reach the disk in any order, so records after it are dropped too — none was ever promised
   * durable. Unless a later record says the failing one had been made durable: then it is damage,
   * and JournalDamaged is thrown instead (for a round's checkpoint record too). Leaves the newest
   * round's file active, its tail after its last record. Answers how many records it handed on,
   * and the sequence numbers of the checkpoint records that began the rounds they came from,
   * oldest first: each record after one of them was made from the state that round began with.
   */
  async replay(apply: ReplayRecord, log: Logger): Promise<{ records: number; rounds: bigint[] }> {
    const starts = await Promise.all(([0, 1] as const).map((i) => this.#readAt(i, 0)));
    for (const i of [0, 1] as const) {
      const read = starts[i]!;
      if (read.ok || read.header === null) continue; // a round's start, or none
      const claimed = read.header.sequence;
      const evidence = await this.#saysDurable(claimed, i, 0, read, i === 0 ? 1 : 0);
      if (evidence) throw new JournalDamaged(`journal file ${i}: the checkpoint record ${claimed} that begins its round fails (${read.reason}), yet record ${evidence.sequence} says it was durable`);
      log.warn({ file: i, sequence: claimed, reason: read.reason }, 'journal replay: a round whose checkpoint record is torn (never flushed) is not replayed');
    }
    const start = (i: FileIndex) => {
      const read = starts[i]!;
      return read.ok && read.record.kind === 'checkpoint' ? read.record : null;
    };
    const rounds = ([0, 1] as const).filter((i) => start(i) !== null).sort((a, b) => (start(a)!.sequence < start(b)!.sequence ? -1 : 1));
    const newest = rounds.at(-1);
    if (newest === undefined) {
      // Nothing to replay: a new journal (the first round starts in the first file), or both
      // rounds' starts lost — then numbering goes on past any record left in the files, so none
      // can be taken for a later one.
      this.#active = 1;
      const highest = await this.#highestSequence();
      if (highest > 0n) this.#nextSequence = highest + 1n + SEQUENCE_GAP_AFTER_REPLAY;
      return { records: 0, rounds: [] };
    }
    const newestStart = start(newest)!;
    const follows = followsOf(newestStart);
    let records = 0;
    const replayedRounds: bigint[] = [];
    if (follows !== 0n) {
      const other: FileIndex = newest === 0 ? 1 : 0;
      // The round followed ends where the newest begins: its records after that are the newest's.
      if (start(other)?.sequence === follows) {
        replayedRounds.push(follows);
        records += (await this.#replayRound(other, apply, log, newestStart.sequence - 1n, newest)).records;
      } else log.info({ follows }, 'journal replay: the round the newest follows is retired (or never became durable); the newest round alone is replayed');
    }
    const last = await this.#replayRound(newest, apply, log, null, null);
    replayedRounds.push(newestStart.sequence);
    records += last.records;
    this.#active = newest;
    this.#roundStart = newestStart.sequence;
    this.#nextSequence = last.last + 1n + SEQUENCE_GAP_AFTER_REPLAY;
    this.#files[newest].last = last.last; // (what a round that stands alone next takes as durable)
    return { records, rounds: replayedRounds };
  }

  /**
   * Appends a record (its sequence number assigned here) with one synchronous pwritev into the
   * page cache, so records follow one another with no hole and never interleave; durable after
   * the next sync().
   */
  append(record: SectorChange): void {
    const full: JournalRecord = { ...record, sequence: this.#nextSequence, durableThrough: this.#durableThrough() };
    const head = encodeRecordHead(full, this.#volumeId);
    const parts = record.ciphertext ? [head, record.ciphertext] : [head];
    const length = head.length + (record.ciphertext?.length ?? 0);
    const file = this.#files[this.#active];
    const written = writevSync(file.handle.fd, parts, file.tail);
    if (written !== length) throw new Error(`journal append wrote ${written} of ${length} bytes`);
    file.tail += length;
    file.last = full.sequence;
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

  /** Whether a round a checkpoint left is not retired yet (its records not all known to be in durable files, or its state not recorded). */
  get hasPrevious(): boolean {
    return this.#previous !== null;
  }

  /** Whether the active round holds any record besides the checkpoint record that began it. */
  get roundHasRecords(): boolean {
    return this.#files[this.#active].last > this.#roundStart;
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
    const sequence = this.#nextSequence;
    // A round that stands alone: every record before it is in durable data files.
    if (!follows) this.#files[this.#active].durableThrough = this.#files[this.#active].last;
    const durableThrough = follows ? this.#durableThrough() : sequence - 1n;
    const head = encodeRecordHead(checkpointRecord(sequence, follows ? this.#roundStart : 0n, durableThrough), this.#volumeId);
    file.round++;
    file.tail = 0;
    file.durable = 0;
    file.last = sequence;
    file.durableThrough = durableThrough;
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

  /**
   * On a clean close, after a checkpoint: the active file is cut to its round, so the next open's
   * replay finds nothing past the round to search for later records (it reads to the file's end).
   * The other file keeps its length: the next round writes over it, into pages still cached.
   */
  async trimToRound(): Promise<void> {
    const file = this.#files[this.#active];
    // Everything is durable already: a file left uncut costs the next open a search, nothing more.
    await file.handle.truncate(file.tail).catch(() => undefined);
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.#files.map((file) => file.handle.close()));
  }

  /**
   * How far every record is known durable: through the previous round's last durable record while
   * that round has records not yet synced, else through the active round's.
   */
  #durableThrough(): bigint {
    const active = this.#files[this.#active];
    const previous = this.#previous === null ? null : this.#files[this.#previous];
    if (previous && previous.durableThrough < previous.last) return previous.durableThrough;
    return active.durableThrough;
  }

  async #syncFile(index: FileIndex): Promise<void> {
    const file = this.#files[index];
    const target = file.tail;
    const round = file.round;
    while (file.durable < target && round === file.round) {
      if (this.#syncFailure) throw this.#syncFailure;
      if (!file.syncing) {
        const covering = file.tail;
        const coveringRecord = file.last;
        file.syncing = file.handle.datasync().then(
          () => {
            if (round === file.round) {
              file.durable = Math.max(file.durable, covering);
              if (file.durableThrough < coveringRecord) file.durableThrough = coveringRecord;
            }
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

  /**
   * Replays one file's round from its checkpoint record, through record `until` if it is given
   * (the round followed: the newest round, in file `next`, begins after it); leaves its tail after
   * the last record taken.
   */
  async #replayRound(index: FileIndex, apply: ReplayRecord, log: Logger, until: bigint | null, next: FileIndex | null): Promise<{ records: number; last: bigint }> {
    let offset = 0;
    let expected: bigint | null = null;
    let records = 0;
    while (until === null || expected === null || expected <= until) {
      const read = await this.#readAt(index, offset);
      let failure: string | null = null;
      if (!read.ok) failure = read.reason;
      else if (expected !== null && read.record.sequence !== expected) failure = `record ${read.record.sequence} of an earlier round lies there`;
      else if (read.record.kind !== 'checkpoint' && !(await apply(read.record))) failure = 'ciphertext does not match its tags';
      if (failure !== null) {
        // (A round is replayed only when its checkpoint record is whole: expected is set here.)
        const missing = expected!;
        const evidence = await this.#saysDurable(missing, index, offset, read, next);
        if (evidence) throw new JournalDamaged(`journal record ${missing} at offset ${offset}: ${failure}, yet record ${evidence.sequence} says it was durable`);
        const legible = (read.ok ? read.record.sequence : read.header?.sequence) === missing;
        if (legible || until !== null) log.warn({ offset, sequence: missing, reason: failure }, 'journal replay: a torn tail dropped (its writes were never flushed)');
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

  /**
   * A whole record that says record `sequence` — failing (`read`) at `offset` of file `index` —
   * had been made durable: searched for past it in its file (past its length when its checksum
   * held, else from its next byte: a damaged length is not trusted) and all through file `other`
   * if given; among records of the earlier formats, as those formats judged. Null if none.
   */
  async #saysDurable(sequence: bigint, index: FileIndex, offset: number, read: ReadResult, other: FileIndex | null): Promise<JournalRecord | null> {
    const places = [{ index, from: offset + (read.ok ? read.length : 1) }, ...(other === null ? [] : [{ index: other, from: 0 }])];
    return (await this.#earlierFormatFollows(index, offset, read, sequence)) ?? (await this.#durableLater(sequence, places));
  }

  /**
   * A record after `sequence`, whole, that says `sequence` had been made durable when it was
   * appended — searched for from each place given to the end of its file (a failing record's
   * length may be unknown, and pages past it may have reached the disk before it); null if there
   * is none.
   */
  async #durableLater(sequence: bigint, places: ReadonlyArray<{ index: FileIndex; from: number }>): Promise<JournalRecord | null> {
    for (const { index, from } of places) {
      for await (const { header, at } of this.#headersFrom(index, from)) {
        if (header.sequence <= sequence || header.durableThrough < sequence) continue; // most: records of earlier rounds
        const read = await this.#readAt(index, at);
        if (read.ok) return read.record;
      }
    }
    return null;
  }

  /**
   * Formats 1 and 2 judged damage this way, their records saying nothing of durability: a failing
   * record whose header is legible, followed by a whole record of theirs with the next sequence
   * number. That record, or null.
   */
  async #earlierFormatFollows(index: FileIndex, offset: number, read: ReadResult, missing: bigint): Promise<JournalRecord | null> {
    if (read.header?.sequence !== missing) return null;
    const next = await this.#readAt(index, offset + read.length);
    return next.ok && isEarlierFormat(next.header) && next.record.sequence === missing + 1n ? next.record : null;
  }

  /** The highest sequence number of a whole record anywhere in the two files; 0 if there is none. */
  async #highestSequence(): Promise<bigint> {
    let highest = 0n;
    for (const index of [0, 1] as const) {
      for await (const { header, at } of this.#headersFrom(index, 0)) {
        if (header.sequence > highest && (await this.#readAt(index, at)).ok) highest = header.sequence;
      }
    }
    return highest;
  }

  /** Every header (parsed, not yet checked) that begins at a record magic in file `index`, from `from` to the file's end, and where it lies. */
  async *#headersFrom(index: FileIndex, from: number): AsyncGenerator<{ header: RecordHeader; at: number }> {
    const handle = this.#files[index].handle;
    const { size } = await handle.stat();
    const buffer = Buffer.allocUnsafe(SCAN_CHUNK_BYTES);
    for (let at = from; at < size; ) {
      const length = Math.min(SCAN_CHUNK_BYTES, size - at);
      const chunk = await readFully(handle, at, length, buffer.subarray(0, length));
      for (let hit = chunk.indexOf(RECORD_MAGIC_PREFIX); hit !== -1; hit = chunk.indexOf(RECORD_MAGIC_PREFIX, hit + 1)) {
        const end = hit + RECORD_HEADER_BYTES;
        const header = parseRecordHeader(end <= chunk.length ? chunk.subarray(hit, end) : await readFully(handle, at + hit, RECORD_HEADER_BYTES));
        if (header) yield { header, at: at + hit };
      }
      if (at + chunk.length >= size) break;
      at += chunk.length - (RECORD_MAGIC_PREFIX.length - 1); // a magic may straddle two reads
    }
  }

  async #readAt(index: FileIndex, offset: number): Promise<ReadResult> {
    const file = this.#files[index].handle;
    const parsed = parseRecordHeader(await readFully(file, offset, RECORD_HEADER_BYTES));
    if (!parsed) return { ok: false, reason: 'no record header', header: null, length: 0 };
    const length = recordBytes(parsed, this.#sectorSize);
    const headLength = headBytes(parsed);
    const head = await readFully(file, offset, headLength);
    if (head.length !== headLength) return { ok: false, reason: 'record cut short', header: parsed, length };
    if (!checksumHolds(parsed, head, this.#volumeId)) return { ok: false, reason: 'checksum does not hold', header: parsed, length };
    let ciphertext: Buffer | null = null;
    if (parsed.kind === 'sectors') {
      ciphertext = await readFully(file, offset + headLength, length - headLength);
      if (ciphertext.length !== length - headLength) return { ok: false, reason: 'record cut short', header: parsed, length };
    }
    return { ok: true, record: decodeRecord(parsed, head, ciphertext), header: parsed, length };
  }
}
