// The encrypted file-backed volume on its own: sparse zeros, aligned and unaligned writes
// (read-modify-write), zeroing, persistence across reopen, ciphertext-only files, tamper and
// rollback detection naming the LBA, the wrong key refused, and the journal's limits.

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { cpSync, readFileSync, readdirSync, statSync, truncateSync } from 'node:fs';
import path from 'node:path';
import { SectorIntegrityError, VolumeError } from './block-volume.js';
import { TAG_ENTRY_BYTES } from './sector-state.js';
import { DATA_FILE, SectorFiles, TAGS_FILE } from './sector-files.js';
import { JOURNAL_FILES } from './open-volume.js';
import { SectorJournal } from './sector-journal.js';
import { IDLE_WRITE_BACK_MS } from './encrypted-file-volume.js';
import { keyFactory, openTestVolume, patchFile, readAt, temporaryDirectory } from '../test-kit.fixture.js';

for (const sectorSize of [512, 4096] as const) {
  test(`${sectorSize}-byte sectors: a new volume reads zeros; writes at any offset read back after reopening`, async (t) => {
    const { dir, remove } = temporaryDirectory('volume');
    t.after(remove);
    const keys = keyFactory();
    const size = 1 << 20;
    const model = Buffer.alloc(size);
    let volume = await openTestVolume(dir, { size, sectorSize, keys });
    assert.deepEqual(await volume.read(0, size), model);
    const writes: Array<[number, number]> = [
      [0, sectorSize], // aligned
      [1000, 3000], // unaligned both ends
      [sectorSize - 1, 2], // across a sector boundary
      [5 * sectorSize + 7, 1], // one byte inside a sector
      [size - 100, 100], // last bytes
      [3 * sectorSize, 4 * sectorSize + 13], // aligned start, ragged end
      [20_000, 200_000], // many sectors
    ];
    for (const [offset, length] of writes) {
      const data = randomBytes(length);
      data.copy(model, offset);
      await volume.write(offset, data); // handed over: encrypted in place
      assert.deepEqual(await volume.read(offset - (offset % 7), length + (offset % 7)), model.subarray(offset - (offset % 7), offset + length));
    }
    assert.deepEqual(await volume.read(0, size), model);
    await volume.close();
    volume = await openTestVolume(dir, { size, sectorSize, keys });
    assert.deepEqual(await volume.read(0, size), model);
    await volume.close();
  });
}

test('write-zeroes and trim make ranges read as zeros; partial sectors keep their other bytes', async (t) => {
  const { dir, remove } = temporaryDirectory('zeroes');
  t.after(remove);
  const volume = await openTestVolume(dir, { size: 1 << 20, sectorSize: 4096 });
  const model = randomBytes(1 << 20);
  await volume.write(0, Buffer.from(model));
  await volume.writeZeroes(5000, 10_000);
  model.fill(0, 5000, 15_000);
  await volume.trim(40_000, 20_000); // whole sectors 40960..57343 only
  model.fill(0, 40_960, 57_344);
  await volume.writeZeroes(100_000, 10); // inside one sector
  model.fill(0, 100_000, 100_010);
  assert.deepEqual(await volume.read(0, 1 << 20), model);
  await volume.flush();
  await volume.write(8192, Buffer.alloc(4096, 0x5a)); // a zeroed sector written again
  model.fill(0x5a, 8192, 12_288);
  assert.deepEqual(await volume.read(0, 1 << 20), model);
  await volume.close();
});

test('the files on disk hold no plaintext: a marker written is found in none of them', async (t) => {
  const { dir, remove } = temporaryDirectory('marker');
  t.after(remove);
  const marker = Buffer.from('SEALKEEP-PLAINTEXT-MARKER-7f3a9c');
  const volume = await openTestVolume(dir, { size: 1 << 20, sectorSize: 512 });
  for (let i = 0; i < 64; i++) await volume.write(i * 4096 + 100, Buffer.from(marker));
  await volume.flush(); // in the journal
  assert.equal(Buffer.compare(await volume.read(100, marker.length), marker), 0);
  for (const name of readdirSync(dir)) assert.equal(readFileSync(path.join(dir, name)).indexOf(marker), -1, `marker found in ${name}`);
  await volume.checkpoint(); // in the data file
  for (const name of readdirSync(dir)) assert.equal(readFileSync(path.join(dir, name)).indexOf(marker), -1, `marker found in ${name}`);
  await volume.close();
  for (const name of readdirSync(dir)) assert.equal(readFileSync(path.join(dir, name)).indexOf(marker), -1, `marker found in ${name}`);
});

test('a changed ciphertext byte, tag or generation fails that sector only, naming its LBA', async (t) => {
  const { dir, remove } = temporaryDirectory('tamper');
  t.after(remove);
  const S = 4096;
  const volume = await openTestVolume(dir, { size: 64 * S, sectorSize: S });
  const data = randomBytes(64 * S);
  await volume.write(0, Buffer.from(data));
  await volume.checkpoint(); // the sectors now live in the files, which are what gets tampered with
  const dataFile = path.join(dir, 'data');
  const tagsFile = path.join(dir, 'tags');

  patchFile(dataFile, 10 * S + 123, Buffer.from([readAt(dataFile, 10 * S + 123, 1)[0]! ^ 1])); // a bit of LBA 10
  patchFile(tagsFile, 20 * TAG_ENTRY_BYTES + 8, Buffer.from([readAt(tagsFile, 20 * TAG_ENTRY_BYTES + 8, 1)[0]! ^ 0x80])); // tag of LBA 20
  const generation = readAt(tagsFile, 30 * TAG_ENTRY_BYTES, 8);
  generation.writeBigUInt64BE(generation.readBigUInt64BE(0) + 1n);
  patchFile(tagsFile, 30 * TAG_ENTRY_BYTES, generation); // LBA 30 claims a later generation

  for (const lba of [10, 20, 30]) {
    await assert.rejects(volume.read(lba * S + 5, 10), (e: unknown) => e instanceof SectorIntegrityError && e.lbas.length === 1 && e.lbas[0] === BigInt(lba));
  }
  await assert.rejects(volume.read(0, 64 * S), (e: unknown) => e instanceof SectorIntegrityError && e.lbas.join() === '10,20,30');
  // A partial write into a damaged sector cannot merge into it: refused, nothing written.
  await assert.rejects(volume.write(10 * S + 1, Buffer.from([1])), SectorIntegrityError);
  assert.deepEqual(await volume.read(0, 10 * S), data.subarray(0, 10 * S));
  assert.deepEqual(await volume.read(11 * S, 9 * S), data.subarray(11 * S, 20 * S));
  // A whole-sector write replaces the damaged sector.
  await volume.write(10 * S, Buffer.from(data.subarray(10 * S, 11 * S)));
  assert.deepEqual(await volume.read(10 * S, S), data.subarray(10 * S, 11 * S));
  await volume.close();
});

test('an older copy of a sector (ciphertext and tag together) fails against the current generation', async (t) => {
  const { dir, remove } = temporaryDirectory('rollback');
  t.after(remove);
  const S = 512;
  const volume = await openTestVolume(dir, { size: 16 * S, sectorSize: S });
  await volume.write(3 * S, Buffer.alloc(S, 1));
  await volume.checkpoint();
  const oldCiphertext = readAt(path.join(dir, 'data'), 3 * S, S);
  const oldEntry = readAt(path.join(dir, 'tags'), 3 * TAG_ENTRY_BYTES, TAG_ENTRY_BYTES);
  await volume.write(3 * S, Buffer.alloc(S, 2));
  await volume.checkpoint();
  patchFile(path.join(dir, 'data'), 3 * S, oldCiphertext);
  patchFile(path.join(dir, 'tags'), 3 * TAG_ENTRY_BYTES + 8, oldEntry.subarray(8)); // the old tag, the current generation
  await assert.rejects(volume.read(3 * S, S), SectorIntegrityError);
  await volume.close();
});

test('a volume opened with another key is refused before any sector is read', async (t) => {
  const { dir, remove } = temporaryDirectory('wrong-key');
  t.after(remove);
  const volume = await openTestVolume(dir, { size: 1 << 16, sectorSize: 4096 });
  await volume.write(0, randomBytes(4096));
  await volume.close();
  await assert.rejects(openTestVolume(dir, { size: 1 << 16, sectorSize: 4096 }), /key check failed/);
  await assert.rejects(openTestVolume(dir, { size: 1 << 17, sectorSize: 4096 }), /holds a volume of 65536 bytes/);
});

test('ranges past the end, writes to a read-only volume and use after close are refused', async (t) => {
  const { dir, remove } = temporaryDirectory('refusals');
  t.after(remove);
  const keys = keyFactory();
  let volume = await openTestVolume(dir, { size: 1 << 16, keys });
  await assert.rejects(volume.read((1 << 16) - 10, 11), (e: unknown) => e instanceof VolumeError && e.code === 'OUT_OF_RANGE');
  await assert.rejects(volume.write(1 << 16, Buffer.alloc(1)), (e: unknown) => e instanceof VolumeError && e.code === 'OUT_OF_RANGE');
  await volume.close();
  await assert.rejects(volume.read(0, 1), (e: unknown) => e instanceof VolumeError && e.code === 'CLOSED');
  volume = await openTestVolume(dir, { size: 1 << 16, keys, readOnly: true });
  await assert.rejects(volume.write(0, Buffer.alloc(1)), (e: unknown) => e instanceof VolumeError && e.code === 'READ_ONLY');
  assert.deepEqual(await volume.read(0, 16), Buffer.alloc(16));
  await volume.close();
});

test('small limits: pending changes reach the files and the journal moves through its rounds, with nothing lost', async (t) => {
  const { dir, remove } = temporaryDirectory('limits');
  t.after(remove);
  const keys = keyFactory();
  const size = 4 << 20;
  const model = Buffer.alloc(size);
  let volume = await openTestVolume(dir, { size, sectorSize: 4096, keys, limits: { pendingBytes: 64 << 10, journalBytes: 256 << 10 } });
  for (let i = 0; i < 200; i++) {
    const offset = Math.floor(Math.random() * (size - 20_000));
    const data = randomBytes(1 + Math.floor(Math.random() * 20_000));
    data.copy(model, offset);
    await volume.write(offset, data);
  }
  assert.deepEqual(await volume.read(0, size), model);
  await volume.close();
  volume = await openTestVolume(dir, { size, sectorSize: 4096, keys });
  assert.deepEqual(await volume.read(0, size), model);
  await volume.close();
});

/**
 * Counts the checkpoints from now on (each retires the journal round it left); `reached(n)` waits
 * for the n-th with a timer that keeps the process alive (the pause's own does not) and fails after 5 s.
 */
function watchCheckpoints(t: TestContext): { reached(n: number): Promise<void> } {
  let count = 0;
  const waiters: Array<{ n: number; done: () => void }> = [];
  const retire = SectorJournal.prototype.retirePrevious;
  t.mock.method(SectorJournal.prototype, 'retirePrevious', async function (this: SectorJournal) {
    await retire.call(this);
    count++;
    for (const w of waiters) if (w.n <= count) w.done();
  });
  return {
    reached: (n) =>
      new Promise((resolve, reject) => {
        if (count >= n) return resolve();
        const timer = setTimeout(() => reject(new Error(`no checkpoint ${n} within 5 s`)), 5000);
        waiters.push({ n, done: () => (clearTimeout(timer), resolve()) });
      }),
  };
}

test('a burst of writes is written back in the pause after it, and the journal starts its next round; a small one waits for the limit', async (t) => {
  const { dir, remove } = temporaryDirectory('pause');
  t.after(remove);
  const keys = keyFactory();
  const volume = await openTestVolume(dir, { size: 4 << 20, sectorSize: 4096, keys, limits: { pendingBytes: 1 << 20, journalBytes: 16 << 20 } });
  const checkpoints = watchCheckpoints(t);
  const inDataFile = (offset: number) => !readAt(path.join(dir, DATA_FILE), offset, 4096).equals(Buffer.alloc(4096));
  const pause = () => new Promise((resolve) => setTimeout(resolve, IDLE_WRITE_BACK_MS * 10));
  // Under a quarter of the limit: stays in the journal, however long the pause.
  await volume.write(0, randomBytes(128 << 10));
  await pause();
  assert.equal(inDataFile(0), false);
  // A burst of a quarter or more: in the files once the volume has been idle a moment.
  const burst = randomBytes(256 << 10);
  // (a write encrypts whole sectors in the buffer it is given: each gets a copy)
  await Promise.all(Array.from({ length: 4 }, (_, i) => volume.write((1 << 20) + i * (64 << 10), Buffer.from(burst.subarray(i * (64 << 10), (i + 1) * (64 << 10))))));
  assert.equal(inDataFile(1 << 20), false, 'not written back during the burst');
  await checkpoints.reached(1);
  assert.equal(inDataFile(0), true);
  assert.equal(inDataFile((1 << 20) + (192 << 10)), true);
  assert.deepEqual(await volume.read(1 << 20, 256 << 10), burst);
  // The pause ended in a checkpoint: the next burst goes to the journal's other file, the one after
  // it back to the first, from the start: each file holds about one burst.
  const journalLength = (i: number) => statSync(path.join(dir, JOURNAL_FILES[i]!)).size;
  const afterFirst = journalLength(0);
  assert.ok(afterFirst > 384 << 10, `both writes journaled (${afterFirst} bytes)`);
  const firstRoundStart = readAt(path.join(dir, JOURNAL_FILES[0]), 0, 64);
  const burstAt = async (offset: number) => {
    const data = randomBytes(256 << 10);
    await Promise.all(Array.from({ length: 4 }, (_, i) => volume.write(offset + i * (64 << 10), Buffer.from(data.subarray(i * (64 << 10), (i + 1) * (64 << 10))))));
    return data;
  };
  const second = await burstAt(2 << 20);
  assert.equal(journalLength(0), afterFirst, 'the second burst is not in the first file');
  assert.ok(journalLength(1) > 256 << 10, 'the second burst is in the other file');
  await checkpoints.reached(2);
  assert.equal(inDataFile(2 << 20), true);
  const third = await burstAt(3 << 20);
  assert.equal(journalLength(0), afterFirst, 'the third burst wrote the first file again from its start');
  assert.notDeepEqual(readAt(path.join(dir, JOURNAL_FILES[0]), 0, 64), firstRoundStart, 'a new round began there');
  await volume.close();
  const reopened = await openTestVolume(dir, { size: 4 << 20, sectorSize: 4096, keys });
  assert.deepEqual(await reopened.read(1 << 20, 256 << 10), burst);
  assert.deepEqual(await reopened.read(2 << 20, 256 << 10), second);
  assert.deepEqual(await reopened.read(3 << 20, 256 << 10), third);
  await reopened.close();
});

test('a crash while a checkpoint makes the files durable replays the round it left, then the round it began', async (t) => {
  const { dir, remove } = temporaryDirectory('pause-race');
  t.after(remove);
  const keys = keyFactory();
  const live = path.join(dir, 'live');
  const volume = await openTestVolume(live, { size: 4 << 20, sectorSize: 4096, keys, limits: { pendingBytes: 1 << 20, journalBytes: 16 << 20 } });
  // The files' fdatasync is held until the second write is in the journal.
  let syncStarted!: () => void;
  const started = new Promise<void>((resolve) => (syncStarted = resolve));
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  const realSync = SectorFiles.prototype.sync;
  t.mock.method(SectorFiles.prototype, 'sync', function (this: SectorFiles) {
    syncStarted();
    return held.then(() => realSync.call(this));
  });
  const checkpoints = watchCheckpoints(t);
  // (a write encrypts whole sectors in the buffer it is given: each gets a copy)
  const burst = randomBytes(256 << 10);
  await volume.write(0, Buffer.from(burst));
  // (the pause's timer does not keep the process alive; this one does, and bounds the wait)
  const tooLong = new Promise((_, reject) => setTimeout(() => reject(new Error('no checkpoint started in the pause')), 5000).unref());
  const keepAlive = setInterval(() => {}, 1000);
  t.after(() => clearInterval(keepAlive));
  await Promise.race([started, tooLong]);
  // The checkpoint began the next round before it wrote back: a write now goes there, not held back.
  const late = randomBytes(8 << 10);
  await volume.write(1 << 20, Buffer.from(late));
  assert.ok(statSync(path.join(live, JOURNAL_FILES[1])).size > 8 << 10, 'the late write is in the new round');
  const crashedEarly = path.join(dir, 'crashed-early');
  cpSync(live, crashedEarly, { recursive: true });
  // A power loss now may leave the files without the write-back (never synced): only replay of the round left brings the burst back.
  for (const file of [DATA_FILE, TAGS_FILE]) {
    const at = path.join(crashedEarly, file);
    const size = statSync(at).size;
    truncateSync(at, 0);
    truncateSync(at, size);
  }
  release();
  await checkpoints.reached(1);
  const crashedLate = path.join(dir, 'crashed-late');
  cpSync(live, crashedLate, { recursive: true });
  for (const copy of [crashedEarly, crashedLate]) {
    const crashed = await openTestVolume(copy, { size: 4 << 20, sectorSize: 4096, keys });
    assert.deepEqual(await crashed.read(0, 256 << 10), burst);
    assert.deepEqual(await crashed.read(1 << 20, 8 << 10), late);
    await crashed.close();
  }
  await volume.close();
});

test('concurrent overlapping writes, zeroes and reads: the result is the writes in the order issued', async (t) => {
  const { dir, remove } = temporaryDirectory('concurrent');
  t.after(remove);
  const keys = keyFactory();
  const size = 256 << 10;
  const model = Buffer.alloc(size);
  // Tiny limits: write-backs and checkpoints (exclusive) land between running requests.
  const volume = await openTestVolume(dir, { size, sectorSize: 512, keys, limits: { pendingBytes: 16 << 10, journalBytes: 64 << 10 } });
  const requests: Array<Promise<unknown>> = [];
  for (let i = 0; i < 400; i++) {
    const offset = Math.floor(Math.random() * (size - 3000));
    const length = 1 + Math.floor(Math.random() * 3000);
    if (i % 9 === 0) {
      model.fill(0, offset, offset + length);
      requests.push(volume.writeZeroes(offset, length, { fua: i % 2 === 0 }));
    } else if (i % 5 === 0) {
      requests.push(volume.read(offset, length));
      if (i % 10 === 0) requests.push(volume.flush());
    } else {
      const data = randomBytes(length);
      data.copy(model, offset);
      requests.push(volume.write(offset, data, { fua: i % 7 === 0 }));
    }
  }
  await Promise.all(requests);
  assert.deepEqual(await volume.read(0, size), model);
  await volume.close();
  const reopened = await openTestVolume(dir, { size, sectorSize: 512, keys });
  assert.deepEqual(await reopened.read(0, size), model);
  await reopened.close();
});
