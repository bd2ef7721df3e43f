// Volume state records across unclean ends, against a keys' holder that keeps the service's rule
// (judgeVolumeState in @sealkeep/crypto, which the service applies): an open must show the root of the last clean
// close; after an unclean end, a root the state last recorded — at an open or a checkpoint —
// leads to through the journal (the open names the states its replay passed through). Copies of
// a live volume, taken mid-stream while write-backs and checkpoints run beside the writes, each
// as a kill -9 leaves the files, must all resume and read back every acknowledged write; a copy
// from before a later checkpoint's record is refused, as is a write rolled back at rest after
// the unclean end, and records written into the journal by someone without the keys are not
// replayed.

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { judgeVolumeState, nextVolumeState, volumeIdFromUuid, type Continuity, type RecordedVolumeState, type VolumeStateMoment } from '@sealkeep/crypto';
import { keyFactory, patchFile, readAt, temporaryDirectory } from '../test-kit.fixture.js';
import { checkpointRecord, encodeRecordHead, type SectorChange } from './journal-record.js';
import type { VolumeLimits } from './encrypted-file-volume.js';
import { openEncryptedFileVolume } from './open-volume.js';
import { LocalSectorCrypto } from './sector-crypto.js';
import { SectorFiles } from './sector-files.js';
import { SectorJournal } from './sector-journal.js';
import { decodeEntries, decodeWords, nextZeroedGeneration, TAG_ENTRY_BYTES } from './sector-state.js';

const SIZE = 1 << 20;
const S = 4096;

/** The service's rule for volume state records (judgeVolumeState and nextVolumeState, as the service applies them), in memory. */
class StateHolder {
  record: RecordedVolumeState | null = null;
  readonly moments: VolumeStateMoment[] = [];
  /** When each of those was recorded (performance.now()). */
  readonly recordedAt: number[] = [];
  /** Out of reach: every call fails, as when the service restarts. */
  unreachable = false;
  /** Calls that failed for being out of reach. */
  missed = 0;

  async recordState(moment: VolumeStateMoment, root: Buffer, passedThrough: Buffer[] = []): Promise<Continuity> {
    if (this.unreachable) {
      this.missed++;
      throw new Error('fetch failed');
    }
    const judged = judgeVolumeState(this.record, moment, root, passedThrough);
    if ('refused' in judged) throw new Error(`volume-state-${judged.refused}: not the state recorded ${this.record!.status}`);
    this.moments.push(moment);
    this.recordedAt.push(performance.now());
    this.record = nextVolumeState(this.record, moment, root, judged);
    return judged.continuity;
  }

  copy(): StateHolder {
    const holder = new StateHolder();
    holder.record = this.record && { ...this.record };
    return holder;
  }
}

const keys = keyFactory();
const openRecording = (dir: string, holder: StateHolder, limits = {}) =>
  openEncryptedFileVolume({
    dir,
    create: { size: SIZE, sectorSize: S },
    crypto: ({ volumeId, sectorSize }) => Object.assign(new LocalSectorCrypto({ keys: keys(), volumeId, sectorSize }), { recordState: holder.recordState.bind(holder) }),
    limits,
  });

/**
 * Copies a live volume's directory as a kill -9 leaves it (the page cache whole): at an instant
 * when no write into its files or journal runs on the thread pool (appends are synchronous).
 */
function crashCopies(t: TestContext) {
  let running = 0;
  const track = <A extends unknown[]>(original: (...args: A) => Promise<void>) =>
    async function (this: unknown, ...args: A) {
      running++;
      try {
        await original.apply(this, args);
      } finally {
        running--;
      }
    };
  t.mock.method(SectorFiles.prototype, 'apply', track(SectorFiles.prototype.apply));
  t.mock.method(SectorJournal.prototype, 'retirePrevious', track(SectorJournal.prototype.retirePrevious));
  return async (from: string, to: string) => {
    while (running > 0) await new Promise((resolve) => setImmediate(resolve));
    cpSync(from, to, { recursive: true });
  };
}

/** A live volume recording its state with a fresh holder, in a directory of its own, and a way to copy it as a kill -9 leaves it. */
async function recordingVolume(t: TestContext, name: string, limits: Partial<VolumeLimits> = {}) {
  const { dir, remove } = temporaryDirectory(name);
  t.after(remove);
  const crashCopy = crashCopies(t);
  const holder = new StateHolder();
  const live = path.join(dir, 'live');
  const volume = await openRecording(live, holder, limits);
  return { dir, holder, volume, crashCopy: (to: string) => crashCopy(live, to) };
}

test('copies taken mid-stream, checkpoints running beside the writes, each resume from the state last recorded and read back every acknowledged write; shown after a later clean close, each is refused', async (t) => {
  // Small limits: write-backs and checkpoints of the journal's limit run between and beside writes.
  const { dir, holder, volume, crashCopy } = await recordingVolume(t, 'state-records', { pendingBytes: 128 << 10, journalBytes: 256 << 10 });
  const model = Buffer.alloc(SIZE);
  const copies: Array<{ at: string; model: Buffer; holder: StateHolder }> = [];
  for (let i = 0; i < 48; i++) {
    // Two writes in flight at a time, of up to ~30 KB at any offset.
    await Promise.all(
      [0, 1].map(async () => {
        const offset = Math.floor(Math.random() * (SIZE - 30_000));
        const data = randomBytes(1 + Math.floor(Math.random() * 30_000));
        data.copy(model, offset);
        await volume.write(offset, Buffer.from(data));
      }),
    );
    if (i % 6 === 5) {
      const at = path.join(dir, `copy-${i}`);
      await crashCopy(at);
      copies.push({ at, model: Buffer.from(model), holder: holder.copy() });
    }
  }
  await volume.close();
  assert.ok(holder.moments.filter((m) => m === 'checkpoint').length >= 3, `checkpoints recorded beside the writes: ${holder.moments.join(' ')}`);

  for (const [k, copy] of copies.entries()) {
    // The provider shows this copy where the volume was closed since, with later writes: rolled back.
    cpSync(copy.at, copy.at + '-rolled-back', { recursive: true });
    if (!copy.model.equals(model)) await assert.rejects(openRecording(copy.at + '-rolled-back', holder.copy()), /volume-state-differs: not the state recorded closed/);
    const reopened = await openRecording(copy.at, copy.holder);
    try {
      assert.equal(copy.holder.moments[0], 'opened');
      assert.ok((await reopened.read(0, SIZE)).equals(copy.model), `copy ${k}: every acknowledged write reads back`);
    } finally {
      await reopened.close();
    }
  }
});

test('after an unclean end, a sector rolled back at rest with its ciphertext and entry (each verifies on its own) is refused at the next open', async (t) => {
  const { dir, holder, volume, crashCopy } = await recordingVolume(t, 'state-rollback');
  await volume.write(0, Buffer.alloc(8 * S, 1));
  await volume.checkpoint();
  const earlier = path.join(dir, 'earlier');
  await crashCopy(earlier);
  await volume.write(0, Buffer.alloc(S, 2));
  await volume.checkpoint(); // recorded: sector 0 holds 2s
  await volume.write(S, Buffer.alloc(S, 3));
  const crashed = path.join(dir, 'crashed');
  await crashCopy(crashed);
  volume.stop('killed');
  await volume.close();

  // As the crash left it: resumed, sector 1's write replayed on top of the state recorded.
  const asLeft = path.join(dir, 'as-left');
  cpSync(crashed, asLeft, { recursive: true });
  const resumed = await openRecording(asLeft, holder.copy());
  const expected = Buffer.concat([Buffer.alloc(S, 2), Buffer.alloc(S, 3), Buffer.alloc(6 * S, 1)]);
  assert.ok((await resumed.read(0, 8 * S)).equals(expected));
  await resumed.close();

  // Sector 0's ciphertext and tag entry put back from before the recorded checkpoint: refused.
  const rolledBack = path.join(dir, 'rolled-back');
  cpSync(crashed, rolledBack, { recursive: true });
  for (const [file, bytes] of [['data', S], ['tags', TAG_ENTRY_BYTES]] as const) patchFile(path.join(rolledBack, file), 0, readAt(path.join(earlier, file), 0, bytes));
  await assert.rejects(openRecording(rolledBack, holder.copy()), /volume-state-differs: not the state recorded served/);
  // So is the whole volume as it was before the recorded checkpoint.
  await assert.rejects(openRecording(earlier, holder.copy()), /volume-state-differs: not the state recorded served/);
});

test('a journal written by someone without the keys can neither roll a sector back nor zero it: its records fail replay, and what stands is judged as it is', async (t) => {
  const { dir, holder, volume, crashCopy } = await recordingVolume(t, 'state-forged');
  await volume.write(0, Buffer.alloc(S, 1));
  await volume.checkpoint();
  const earlier = path.join(dir, 'earlier');
  await crashCopy(earlier);
  await volume.write(0, Buffer.alloc(S, 2));
  await volume.checkpoint(); // recorded: sector 0 holds 2s
  const crashed = path.join(dir, 'crashed');
  await crashCopy(crashed);
  const recordedThen = holder.copy();
  // The sector's real next write (3s), for a journal that leads on from the recorded state.
  await volume.write(0, Buffer.alloc(S, 3));
  await volume.checkpoint();
  const later = path.join(dir, 'later');
  await crashCopy(later);
  volume.stop('killed');
  await volume.close();

  const volumeId = volumeIdFromUuid((JSON.parse(readFileSync(path.join(crashed, 'volume.json'), 'utf8')) as { uuid: string }).uuid);
  const sectorAt = (at: string) => ({ ciphertext: readAt(path.join(at, 'data'), 0, S), entry: readAt(path.join(at, 'tags'), 0, TAG_ENTRY_BYTES) });
  const older = sectorAt(earlier);
  const recorded = sectorAt(crashed);
  const next = sectorAt(later);
  const sectorsRecord = (sector: { ciphertext: Buffer; entry: Buffer }, previous: Buffer): SectorChange => {
    const { words, tags } = decodeEntries(sector.entry, 1);
    return { kind: 'sectors', firstLba: 0, words, tags, ciphertext: Buffer.from(sector.ciphertext), previous };
  };
  /** A journal of one round that stands alone, holding `records`, as the provider can write one: its checksums need no key. */
  const forgeJournal = (at: string, records: SectorChange[]) => {
    const parts = [encodeRecordHead(checkpointRecord(1000n, 0n, 999n), volumeId)];
    records.forEach((r, i) => parts.push(encodeRecordHead({ ...r, sequence: 1001n + BigInt(i), durableThrough: 999n }, volumeId), ...(r.ciphertext ? [r.ciphertext] : [])));
    writeFileSync(path.join(at, 'journal'), Buffer.concat(parts));
    writeFileSync(path.join(at, 'journal.1'), Buffer.alloc(0));
  };

  // Sector 0 put back at rest as it was before the recorded checkpoint, and a record that "writes"
  // that older sector over the recorded one: its tag verifies, but its generation does not follow
  // the entry it names as before it.
  const rolledBack = path.join(dir, 'rolled-back');
  cpSync(crashed, rolledBack, { recursive: true });
  patchFile(path.join(rolledBack, 'data'), 0, older.ciphertext);
  patchFile(path.join(rolledBack, 'tags'), 0, older.entry);
  forgeJournal(rolledBack, [sectorsRecord(older, recorded.entry)]);
  await assert.rejects(openRecording(rolledBack, recordedThen.copy()), /volume-state-differs: not the state recorded served/);
  // Nor when the entry before names the recorded tag beside the word the older write followed:
  // the recorded root covers each sector's generation word as well as its tag.
  const wordBefore = Buffer.concat([Buffer.alloc(8), recorded.entry.subarray(8)]); // (the older write was the sector's first: word 0)
  forgeJournal(rolledBack, [sectorsRecord(older, wordBefore)]);
  await assert.rejects(openRecording(rolledBack, recordedThen.copy()), /volume-state-differs: not the state recorded served/);

  // The real next write, then the older one "again": the second does not follow what the first left, and is not replayed.
  const reordered = path.join(dir, 'reordered');
  cpSync(crashed, reordered, { recursive: true });
  forgeJournal(reordered, [sectorsRecord(next, recorded.entry), sectorsRecord(older, Buffer.alloc(TAG_ENTRY_BYTES))]);
  const resumed = await openRecording(reordered, recordedThen.copy());
  try {
    assert.ok((await resumed.read(0, S)).equals(Buffer.alloc(S, 3)), 'the real next write, not the older one');
  } finally {
    await resumed.close();
  }

  // A record that zeroes sector 0 after the recorded state, with no authenticator the keys made: not replayed.
  const zeroed = path.join(dir, 'zeroed');
  cpSync(crashed, zeroed, { recursive: true });
  forgeJournal(zeroed, [{ kind: 'zeroes', firstLba: 0, words: decodeWords(recorded.entry, 1).map(nextZeroedGeneration), tags: null, ciphertext: null, previous: recorded.entry, authenticator: randomBytes(32) }]);
  const reopened = await openRecording(zeroed, recordedThen.copy());
  try {
    assert.ok((await reopened.read(0, S)).equals(Buffer.alloc(S, 2)), 'the sector as recorded, not zeros');
  } finally {
    await reopened.close();
  }
});

test('a checkpoint the keys\' holder cannot record keeps its round: the volume goes on, a copy taken meanwhile resumes from the state recorded before, and once the holder is back a checkpoint records and retires it, though no request comes', async (t) => {
  const { dir, holder, volume, crashCopy } = await recordingVolume(t, 'state-unreachable', { recordIntervalMs: 100 });
  try {
    const checkpoints = () => holder.moments.filter((m) => m === 'checkpoint').length;
    const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    holder.unreachable = true;
    await volume.write(0, Buffer.alloc(S, 1));
    for (let i = 0; i < 250 && holder.missed === 0; i++) await pause(20);
    assert.ok(holder.missed > 0, 'a checkpoint tried, and could not record');
    const missedBefore = holder.missed; // (tried again every recordIntervalMs meanwhile)
    await volume.write(S, Buffer.alloc(S, 2));
    assert.ok((await volume.read(0, 2 * S)).equals(Buffer.concat([Buffer.alloc(S, 1), Buffer.alloc(S, 2)])), 'the volume goes on');
    for (let i = 0; i < 250 && holder.missed === missedBefore; i++) await pause(20);
    assert.ok(holder.missed > missedBefore, 'a retry failed with the second write in the journal');
    const meanwhile = path.join(dir, 'meanwhile');
    await crashCopy(meanwhile);
    const recordedThen = holder.copy();
    recordedThen.unreachable = false;
    const resumed = await openRecording(meanwhile, recordedThen);
    try {
      assert.ok((await resumed.read(0, 2 * S)).equals(Buffer.concat([Buffer.alloc(S, 1), Buffer.alloc(S, 2)])), 'resumed from the open, both writes replayed');
    } finally {
      await resumed.close();
    }
    // Back, with no request to come: the pause timer alone brings the record back.
    holder.unreachable = false;
    // One checkpoint records twice: the round it left, then (that round retired) the round holding the second write.
    for (let i = 0; i < 250 && checkpoints() < 2; i++) await pause(20);
    assert.equal(checkpoints(), 2, 'recorded once the holder is back, with no request after: the round left, then the round since');
    const recorded = checkpoints();
    await volume.write(2 * S, Buffer.alloc(S, 3));
    for (let i = 0; i < 250 && checkpoints() === recorded; i++) await pause(20);
    assert.equal(checkpoints(), recorded + 1, 'and the next pause records as before');
  } finally {
    await volume.close();
  }
  assert.equal(holder.moments.at(-1), 'closed');
});

test('a pause records a small round too, once the record interval has passed since the last checkpoint: few writes are ever later than the state recorded', async (t) => {
  const { holder, volume } = await recordingVolume(t, 'state-interval', { recordIntervalMs: 1500 });
  try {
    const checkpoints = () => holder.moments.filter((m) => m === 'checkpoint').length;
    await volume.write(0, Buffer.alloc(S, 7)); // far below a quarter of the pending limit
    for (let i = 0; i < 500 && checkpoints() === 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(checkpoints(), 1);
    const at = (moment: VolumeStateMoment) => holder.recordedAt[holder.moments.indexOf(moment)]!;
    assert.ok(at('checkpoint') - at('opened') >= 1500, `not before the interval: ${(at('checkpoint') - at('opened')).toFixed(0)} ms after the open's record`);
    await new Promise((resolve) => setTimeout(resolve, 1700));
    assert.equal(checkpoints(), 1, 'an empty round is not recorded again');
  } finally {
    await volume.close();
  }
});
