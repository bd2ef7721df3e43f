// The write-back beside requests: while changes are being written into the files, reads find them
// and writes go on; a change that finds the whole pending limit held waits; a read whose sector is
// rewritten under it by a write-back reads it again instead of failing; and a stream of writes with
// no pause still moves the journal to its next round when one passes its limit, and a round is
// retired only once what was written into the files is durable.

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { cpSync, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { SectorFiles, DATA_FILE } from './sector-files.js';
import { SectorJournal } from './sector-journal.js';
import { JOURNAL_FILES } from './open-volume.js';
import type { SectorChange } from './journal-record.js';
import { keyFactory, openTestVolume, temporaryDirectory } from '../test-kit.fixture.js';

const S = 4096;
const KiB = 1 << 10;

/** A promise and the function that settles it. */
function signal(): { done: Promise<void>; fire: () => void } {
  let fire!: () => void;
  const done = new Promise<void>((resolve) => (fire = resolve));
  return { done, fire };
}

/** Holds every SectorFiles.apply until released; `started` fires when the first one is asked for. */
function holdApplies(t: TestContext): { started: Promise<void>; release: () => void; applied: () => number } {
  const started = signal();
  const released = signal();
  let applied = 0;
  const real = SectorFiles.prototype.apply;
  t.mock.method(SectorFiles.prototype, 'apply', async function (this: SectorFiles, changes: readonly SectorChange[]) {
    started.fire();
    await released.done;
    await real.call(this, changes);
    applied++;
  });
  return { started: started.done, release: released.fire, applied: () => applied };
}

/** Resolves true if `promise` settles within a few turns of the event loop and timers. */
async function settlesSoon(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  void promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  await new Promise((resolve) => setTimeout(resolve, 50));
  return settled;
}

/**
 * What makes retiring a journal round safe after a power loss, on a log of 'applied' (a write into
 * the files ended), 'sync' and 'synced' (the files' fdatasync began, ended): every write that
 * ended before now ended before an fdatasync began that has ended.
 */
function assertFilesDurable(events: readonly string[]): void {
  const synced = events.lastIndexOf('synced');
  const covering = events.lastIndexOf('sync', synced);
  assert.ok(synced >= 0 && events.indexOf('applied', covering) === -1, `a journal round retired with a write into the files no fdatasync covers: ${events.join(' ')}`);
}

/**
 * Logs the files' writes and fdatasyncs for assertFilesDurable; `before` hooks run (and are
 * awaited) as an apply or a sync begins, before the real one.
 */
function logFileWrites(t: TestContext, before: { apply?: () => Promise<void>; sync?: () => Promise<void> } = {}): string[] {
  const events: string[] = [];
  const realApply = SectorFiles.prototype.apply;
  t.mock.method(SectorFiles.prototype, 'apply', async function (this: SectorFiles, changes: readonly SectorChange[]) {
    await before.apply?.();
    await realApply.call(this, changes);
    events.push('applied');
  });
  const realSync = SectorFiles.prototype.sync;
  t.mock.method(SectorFiles.prototype, 'sync', async function (this: SectorFiles) {
    events.push('sync');
    await before.sync?.();
    await realSync.call(this);
    events.push('synced');
  });
  return events;
}

const dataFileAt = (dir: string, offset: number, length: number) => readFileSync(path.join(dir, DATA_FILE)).subarray(offset, offset + length);

test('while a write-back writes the files, reads find its changes and writes go on', async (t) => {
  const { dir, remove } = temporaryDirectory('write-back-beside');
  t.after(remove);
  const keys = keyFactory();
  const volume = await openTestVolume(dir, { size: 4 << 20, sectorSize: S, keys, limits: { pendingBytes: 1 << 20, journalBytes: 64 << 20 } });
  const files = holdApplies(t);
  const first = randomBytes(512 * KiB); // half the limit: a write-back starts after it
  await volume.write(0, Buffer.from(first));
  await files.started;
  assert.deepEqual(dataFileAt(dir, 0, 512 * KiB), Buffer.alloc(512 * KiB), 'the write-back is held: nothing in the data file yet');
  // Reads of the retiring sectors, a write elsewhere and one over them all finish meanwhile.
  assert.deepEqual(await volume.read(0, 512 * KiB), first);
  const elsewhere = randomBytes(128 * KiB);
  await volume.write(2 << 20, Buffer.from(elsewhere));
  const over = randomBytes(8 * KiB);
  await volume.write(100 * KiB, Buffer.from(over));
  over.copy(first, 100 * KiB);
  assert.deepEqual(await volume.read(0, 512 * KiB), first);
  assert.deepEqual(await volume.read(2 << 20, 128 * KiB), elsewhere);
  assert.equal(files.applied(), 0);
  files.release();
  await volume.close();
  const reopened = await openTestVolume(dir, { size: 4 << 20, sectorSize: S, keys });
  assert.deepEqual(await reopened.read(0, 512 * KiB), first);
  assert.deepEqual(await reopened.read(2 << 20, 128 * KiB), elsewhere);
  await reopened.close();
});

test('a change that finds the whole pending limit held waits for the write-back', { timeout: 60_000 }, async (t) => {
  const { dir, remove } = temporaryDirectory('write-back-limit');
  t.after(remove);
  const volume = await openTestVolume(dir, { size: 4 << 20, sectorSize: S, limits: { pendingBytes: 1 << 20, journalBytes: 64 << 20 } });
  const files = holdApplies(t);
  const first = randomBytes(512 * KiB);
  await volume.write(0, Buffer.from(first));
  await files.started;
  await volume.write(1 << 20, randomBytes(256 * KiB)); // under the limit with the retiring half: answered
  const full = volume.write(2 << 20, randomBytes(256 * KiB)); // reaches it: waits
  let fullSettled = false;
  void full.then(
    () => (fullSettled = true),
    () => (fullSettled = true),
  );
  assert.equal(await settlesSoon(full), false, 'answered while the whole limit was held');
  // Reads do not wait: this one is answered while the write-back is still held (a read that waited
  // for it would never be, and the test would time out), and the change still waits.
  assert.deepEqual(await volume.read(0, 4096), first.subarray(0, 4096), 'reads do not wait');
  assert.equal(files.applied(), 0, 'the write-back was still held');
  assert.equal(fullSettled, false, 'the change still waits');
  files.release();
  await full;
  await volume.close();
});

test('a trim of the whole volume zeroes it in records, each waiting for room under the pending limit', async (t) => {
  const { dir, remove } = temporaryDirectory('write-back-trim');
  t.after(remove);
  // 512-byte sectors: 131,072 of them, two zeroing records of 65,536 (each ~4 MiB of bookkeeping, past a 1 MiB limit).
  const size = 64 << 20;
  const keys = keyFactory();
  const volume = await openTestVolume(dir, { size, sectorSize: 512, keys, limits: { pendingBytes: 1 << 20, journalBytes: 64 << 20 } });
  const early = randomBytes(512);
  const late = randomBytes(512);
  await volume.write(0, Buffer.from(early));
  await volume.write(100_000 * 512, Buffer.from(late));
  await volume.checkpoint();
  const files = holdApplies(t);
  const trim = volume.trim(0, size);
  await files.started; // the first record filled the pending limit: its write-back started, and is held
  assert.equal(await settlesSoon(trim), false, 'the trim waits for room');
  assert.deepEqual(await volume.read(0, 512), Buffer.alloc(512), 'the first record is in');
  assert.deepEqual(await volume.read(100_000 * 512, 512), late, 'the second is not: it waits for the write-back');
  files.release();
  await trim;
  assert.deepEqual(await volume.read(100_000 * 512, 512), Buffer.alloc(512));
  await volume.close();
  const reopened = await openTestVolume(dir, { size, sectorSize: 512, keys });
  assert.deepEqual(await reopened.read(0, 512), Buffer.alloc(512));
  assert.deepEqual(await reopened.read(100_000 * 512, 512), Buffer.alloc(512));
  await reopened.close();
});

test('a read whose sector a write-back rewrites under it reads the sector again instead of failing', async (t) => {
  const { dir, remove } = temporaryDirectory('write-back-race');
  t.after(remove);
  const keys = keyFactory();
  // A write-back after every change of 8 KiB or more.
  const volume = await openTestVolume(dir, { size: 1 << 20, sectorSize: S, keys, limits: { pendingBytes: 16 * KiB, journalBytes: 64 << 20 } });
  await volume.write(0, randomBytes(64 * KiB));
  await volume.checkpoint(); // the sectors now live in the files
  // The read's ciphertext is read from the data file only after a newer write reached it.
  const readStarted = signal();
  const rewritten = signal();
  let reads = 0;
  // (without the second read, the first — newer ciphertext against the tags it began with — fails)
  const realRead = SectorFiles.prototype.readCiphertext;
  t.mock.method(SectorFiles.prototype, 'readCiphertext', async function (this: SectorFiles, lba: number, count: number, into: Buffer) {
    if (reads++ === 0) {
      readStarted.fire();
      await rewritten.done;
    }
    return realRead.call(this, lba, count, into);
  });
  const realApply = SectorFiles.prototype.apply;
  t.mock.method(SectorFiles.prototype, 'apply', async function (this: SectorFiles, changes: readonly SectorChange[]) {
    await realApply.call(this, changes);
    rewritten.fire();
  });
  const reading = volume.read(0, 64 * KiB);
  await readStarted.done;
  const newer = randomBytes(64 * KiB);
  await volume.write(0, Buffer.from(newer));
  await rewritten.done;
  assert.deepEqual(await reading, newer, 'the sectors as they now stand');
  await volume.close();
});

test('a stream of writes with no pause moves the journal to its next round at its limit, retires each once the files are durable, and loses nothing', async (t) => {
  const { dir, remove } = temporaryDirectory('write-back-stream');
  t.after(remove);
  const keys = keyFactory();
  const size = 4 << 20;
  const limits = { pendingBytes: 256 * KiB, journalBytes: 1 << 20 };
  const volume = await openTestVolume(dir, { size, sectorSize: S, keys, limits });
  // The order that makes retiring a round safe after a power loss (assertFilesDurable).
  const events = logFileWrites(t);
  let retired = 0;
  const retire = SectorJournal.prototype.retirePrevious;
  t.mock.method(SectorJournal.prototype, 'retirePrevious', async function (this: SectorJournal) {
    assertFilesDurable(events);
    await retire.call(this);
    retired++;
  });
  const model = Buffer.alloc(size);
  let longest = 0;
  // The volume written over twice: 8 MiB journaled, eight times the journal's limit.
  for (let offset = 0; offset < 2 * size; offset += 64 * KiB) {
    const data = randomBytes(64 * KiB);
    data.copy(model, offset % size);
    await volume.write(offset % size, data);
    for (const file of JOURNAL_FILES) longest = Math.max(longest, statSync(path.join(dir, file)).size);
  }
  assert.ok(retired >= 2, `${retired} journal rounds retired`);
  assert.ok(longest < size, `a journal file grew to ${longest} bytes`);
  assert.deepEqual(await volume.read(0, size), model);
  await volume.close();
  const reopened = await openTestVolume(dir, { size, sectorSize: S, keys });
  assert.deepEqual(await reopened.read(0, size), model);
  await reopened.close();
});

test('reads beside write-backs of every size see every write answered before them', async (t) => {
  const { dir, remove } = temporaryDirectory('write-back-reads');
  t.after(remove);
  const keys = keyFactory();
  const size = 1 << 20;
  const model = Buffer.alloc(size);
  // Tiny limits: write-backs start after almost every round and run under the next round's reads.
  const volume = await openTestVolume(dir, { size, sectorSize: 512, keys, limits: { pendingBytes: 32 * KiB, journalBytes: 256 * KiB } });
  const range = () => {
    const offset = Math.floor(Math.random() * (size - 20_000));
    return [offset, 1 + Math.floor(Math.random() * 20_000)] as const;
  };
  for (let round = 0; round < 40; round++) {
    await Promise.all(
      Array.from({ length: 6 }, () => {
        const [offset, length] = range();
        const data = randomBytes(length);
        data.copy(model, offset); // (overlapping writes of one round: the later one issued wins)
        return volume.write(offset, data);
      }),
    );
    await Promise.all(
      Array.from({ length: 6 }, async () => {
        const [offset, length] = range();
        assert.deepEqual(await volume.read(offset, length), model.subarray(offset, offset + length));
      }),
    );
  }
  await volume.close();
  const reopened = await openTestVolume(dir, { size, sectorSize: 512, keys });
  assert.deepEqual(await reopened.read(0, size), model);
  await reopened.close();
});

test('a write-back that fails stops the volume; reopened, it replays every write answered', async (t) => {
  const { dir, remove } = temporaryDirectory('write-back-failure');
  t.after(remove);
  const keys = keyFactory();
  const volume = await openTestVolume(dir, { size: 4 << 20, sectorSize: S, keys, limits: { pendingBytes: 1 << 20, journalBytes: 64 << 20 } });
  const failed = signal();
  t.mock.method(SectorFiles.prototype, 'apply', async () => {
    failed.fire();
    throw Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' });
  });
  const answered = randomBytes(512 * KiB);
  await volume.write(0, Buffer.from(answered)); // half the limit: the write-back starts, and fails
  await failed.done;
  await new Promise((resolve) => setImmediate(resolve));
  await assert.rejects(volume.write(1 << 20, randomBytes(4096)), /storage failure/);
  await assert.rejects(volume.read(0, 4096), /storage failure/);
  await volume.close();
  t.mock.restoreAll();
  const reopened = await openTestVolume(dir, { size: 4 << 20, sectorSize: S, keys });
  assert.deepEqual(await reopened.read(0, 512 * KiB), answered);
  assert.deepEqual(await reopened.read(1 << 20, 4096), Buffer.alloc(4096), 'the write refused after the failure is not there');
  await reopened.close();
});

test('a checkpoint retires its round only after an fdatasync begun after every write into the files ended', async (t) => {
  const { dir, remove } = temporaryDirectory('write-back-durable');
  t.after(remove);
  const keys = keyFactory();
  const volume = await openTestVolume(dir, { size: 4 << 20, sectorSize: S, keys, limits: { pendingBytes: 1 << 20, journalBytes: 1 << 20 } });
  // A write-back's writes are held while a checkpoint's fdatasync of the files runs beside them.
  const syncHeld = signal();
  const syncReleased = signal();
  const applyHeld = signal();
  const applyReleased = signal();
  let holdSync = false;
  let holdApply = false;
  const events = logFileWrites(t, {
    apply: async () => {
      if (!holdApply) return;
      holdApply = false;
      applyHeld.fire();
      await applyReleased.done;
    },
    sync: async () => {
      if (!holdSync) return;
      holdSync = false;
      syncHeld.fire();
      await syncReleased.done;
    },
  });
  const retired = signal();
  let unsafeRetire: unknown = null;
  const retire = SectorJournal.prototype.retirePrevious;
  t.mock.method(SectorJournal.prototype, 'retirePrevious', async function (this: SectorJournal) {
    try {
      assertFilesDurable(events);
    } catch (error) {
      unsafeRetire ??= error;
    }
    await retire.call(this);
    retired.fire();
  });
  const written: Array<[number, Buffer]> = [];
  const write = async (offset: number, bytes: number) => {
    const data = randomBytes(bytes);
    written.push([offset, data]);
    await volume.write(offset, Buffer.from(data));
  };
  // No pause between the writes until the checkpoint runs: the pause's own checkpoint would come first.
  holdSync = true;
  await write(0, 600 * KiB); // over half the limit: a write-back, not held
  await write(1 << 20, 450 * KiB); // the journal passes its limit: a checkpoint writes back, then syncs (held)
  await syncHeld.done;
  holdApply = true;
  await write(2 << 20, 512 * KiB); // half the limit: a write-back beside the checkpoint, its writes held
  await applyHeld.done;
  syncReleased.fire();
  await new Promise((resolve) => setTimeout(resolve, 100)); // (time for the checkpoint to go on, had it not waited)
  applyReleased.fire();
  await retired.done;
  if (unsafeRetire) throw unsafeRetire;
  await volume.close();
  const reopened = await openTestVolume(dir, { size: 4 << 20, sectorSize: S, keys });
  for (const [offset, data] of written) assert.deepEqual(await reopened.read(offset, data.length), data);
  await reopened.close();
});

test('a journal round is retired only once the files alone hold every write journaled in it', async (t) => {
  const { dir, remove } = temporaryDirectory('write-back-retire');
  t.after(remove);
  const keys = keyFactory();
  const size = 4 << 20;
  const live = path.join(dir, 'live');
  const volume = await openTestVolume(live, { size, sectorSize: S, keys, limits: { pendingBytes: 256 * KiB, journalBytes: 1 << 20 } });
  const model = Buffer.alloc(size);
  // At each switch, the writes so far; at each retirement, the files as they stand (copied, journal left out).
  let atSwitch: Buffer | null = null;
  let since: Array<[number, number]> = [];
  const checks: Array<{ copy: string; expected: Buffer; since: Array<[number, number]> }> = [];
  const realSwitch = SectorJournal.prototype.switchRound;
  t.mock.method(SectorJournal.prototype, 'switchRound', function (this: SectorJournal, follows: boolean) {
    realSwitch.call(this, follows);
    atSwitch = Buffer.from(model);
    since = [];
  });
  const realRetire = SectorJournal.prototype.retirePrevious;
  t.mock.method(SectorJournal.prototype, 'retirePrevious', async function (this: SectorJournal) {
    const copy = path.join(dir, `retired-${checks.length}`);
    cpSync(live, copy, { recursive: true });
    for (const file of JOURNAL_FILES) rmSync(path.join(copy, file), { force: true });
    checks.push({ copy, expected: atSwitch!, since: [...since] });
    await realRetire.call(this);
  });
  for (let i = 0; i < 96; i++) {
    const offset = Math.floor(Math.random() * (size / (64 * KiB))) * 64 * KiB;
    const data = randomBytes(64 * KiB);
    data.copy(model, offset);
    since.push([offset, offset + data.length]);
    await volume.write(offset, data);
  }
  await volume.close();
  t.mock.restoreAll(); // (opening the copies retires rounds of their own)
  assert.ok(checks.length >= 2, `${checks.length} rounds retired`);
  for (const { copy, expected, since: later } of checks) {
    const files = await openTestVolume(copy, { size, sectorSize: S, keys });
    // Blocks written after the switch may be anything there (a write-back of them may have been
    // under way when the files were copied); every other block is as it was at the switch.
    for (let block = 0; block < size; block += 64 * KiB) {
      if (later.some(([from, to]) => from < block + 64 * KiB && block < to)) continue;
      assert.deepEqual(await files.read(block, 64 * KiB), expected.subarray(block, block + 64 * KiB), `block ${block} of the files when ${copy} was retired`);
    }
    await files.close();
  }
});
