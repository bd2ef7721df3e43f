// Crash states, made exactly: a copy of a live volume's directory is what kill -9 leaves (every
// completed write is in the page cache), and cutting or damaging the copy's journal is what a
// crash mid-append or a power loss can leave. Opening the copy must give, for every sector, the
// content of a prefix of the writes — never a mix — or refuse with JournalDamaged when a damaged
// record has valid records after it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, rmSync, statSync, truncateSync, openSync, writeSync, readSync, closeSync } from 'node:fs';
import path from 'node:path';
import { JournalDamaged } from './sector-journal.js';
import { JOURNAL_FILES } from './open-volume.js';
import { TAG_ENTRY_BYTES } from './sector-state.js';
import { keyFactory, openTestVolume, recordingLogger, temporaryDirectory } from '../test-kit.fixture.js';

const SIZE = 256 << 10;
const S = 4096;

/**
 * A volume with `count` random writes in its journal (and, with writeBack, also in its files), the
 * model after each write, and each record's end offset in the journal.
 */
async function journaledWrites(dir: string, keys: ReturnType<typeof keyFactory>, count: number, writeBack = false) {
  const limits = writeBack ? { pendingBytes: 1, journalBytes: 1 << 30 } : {};
  const volume = await openTestVolume(dir, { size: SIZE, sectorSize: S, keys, limits });
  const models = [Buffer.alloc(SIZE)];
  const recordEnds = [statSync(path.join(dir, 'journal')).size];
  for (let i = 0; i < count; i++) {
    const offset = Math.floor(Math.random() * (SIZE - 30_000));
    const data = randomBytes(1 + Math.floor(Math.random() * 30_000));
    const model = Buffer.from(models[models.length - 1]!);
    data.copy(model, offset);
    await volume.write(offset, data);
    models.push(model);
    recordEnds.push(statSync(path.join(dir, 'journal')).size);
  }
  return { volume, models, recordEnds };
}

function snapshot(from: string, to: string): void {
  cpSync(from, to, { recursive: true });
}

function flipByte(file: string, position: number): void {
  const fd = openSync(file, 'r+');
  const byte = Buffer.alloc(1);
  readSync(fd, byte, 0, 1, position);
  byte[0]! ^= 0x40;
  writeSync(fd, byte, 0, 1, position);
  closeSync(fd);
}

test('after kill -9 every completed write is replayed from the journal', async (t) => {
  const { dir, remove } = temporaryDirectory('replay');
  t.after(remove);
  const keys = keyFactory();
  const live = path.join(dir, 'live');
  const { volume, models } = await journaledWrites(live, keys, 12);
  snapshot(live, path.join(dir, 'crashed'));
  const log = recordingLogger();
  const reopened = await openTestVolume(path.join(dir, 'crashed'), { size: SIZE, sectorSize: S, keys, log });
  assert.deepEqual(await reopened.read(0, SIZE), models[12]);
  assert.ok(log.entries.some((e) => e.message.startsWith('journal replayed') && e.fields.records === 12));
  await reopened.close();
  await volume.close();
});

test('a journal cut anywhere inside a record gives exactly the writes before that record', async (t) => {
  const { dir, remove } = temporaryDirectory('torn');
  t.after(remove);
  const keys = keyFactory();
  const live = path.join(dir, 'live');
  const { volume, models, recordEnds } = await journaledWrites(live, keys, 6);
  let cases = 0;
  for (let k = 1; k < recordEnds.length; k++) {
    const start = recordEnds[k - 1]!;
    const end = recordEnds[k]!;
    for (const cut of [start + 1, start + 63, start + 64, start + 100, Math.floor((start + end) / 2), end - 1]) {
      const copy = path.join(dir, `cut-${k}-${cut}`);
      snapshot(live, copy);
      truncateSync(path.join(copy, 'journal'), cut);
      const reopened = await openTestVolume(copy, { size: SIZE, sectorSize: S, keys });
      assert.deepEqual(await reopened.read(0, SIZE), models[k - 1], `journal cut at ${cut}, inside record ${k}`);
      await reopened.close();
      cases++;
    }
  }
  assert.equal(cases, 36);
  await volume.close();
});

test('a damaged last record is dropped; a damaged record with records after it refuses the open', async (t) => {
  const { dir, remove } = temporaryDirectory('damage');
  t.after(remove);
  const keys = keyFactory();
  const live = path.join(dir, 'live');
  const { volume, models, recordEnds } = await journaledWrites(live, keys, 5);

  const tail = path.join(dir, 'tail');
  snapshot(live, tail);
  flipByte(path.join(tail, 'journal'), recordEnds[5]! - 10); // ciphertext of the last record
  const log = recordingLogger();
  const reopened = await openTestVolume(tail, { size: SIZE, sectorSize: S, keys, log });
  assert.deepEqual(await reopened.read(0, SIZE), models[4]);
  assert.ok(log.entries.some((e) => e.level === 'warn' && e.message.includes('torn last record')));
  await reopened.close();

  for (const [what, position] of [
    ['ciphertext', recordEnds[2]! - 10],
    ['header', recordEnds[1]! + 30],
    ['generation', recordEnds[1]! + 64 + 3],
  ] as const) {
    const middle = path.join(dir, `middle-${what}`);
    snapshot(live, middle);
    flipByte(path.join(middle, 'journal'), position); // inside record 2 of 5
    await assert.rejects(openTestVolume(middle, { size: SIZE, sectorSize: S, keys }), JournalDamaged, `damaged ${what}`);
  }
  await volume.close();
});

test('sectors torn in the data and tag files by a write-back are rewritten by replay', async (t) => {
  const { dir, remove } = temporaryDirectory('in-place');
  t.after(remove);
  const keys = keyFactory();
  const live = path.join(dir, 'live');
  const { volume, models } = await journaledWrites(live, keys, 8, true); // each write goes back to the files at once
  const torn = path.join(dir, 'torn');
  snapshot(live, torn);
  // A power loss mid-write-back: half of the sectors' ciphertext and tag entries are garbage.
  for (let lba = 0; lba < SIZE / S; lba += 2) {
    flipByte(path.join(torn, 'data'), lba * S + 17);
    flipByte(path.join(torn, 'tags'), lba * TAG_ENTRY_BYTES + 20);
  }
  const reopened = await openTestVolume(torn, { size: SIZE, sectorSize: S, keys });
  // Every written sector is in the journal and comes back whole; the others were never written
  // (generation 0), so the garbage in their files is never read.
  assert.deepEqual(await reopened.read(0, SIZE), models[8]);
  await reopened.close();
  await volume.close();
});

test('a volume of the version with one journal file opens, replays it and gets its second file', async (t) => {
  const { dir, remove } = temporaryDirectory('one-file');
  t.after(remove);
  const keys = keyFactory();
  const live = path.join(dir, 'live');
  const { volume, models } = await journaledWrites(live, keys, 5);
  const old = path.join(dir, 'old');
  snapshot(live, old);
  rmSync(path.join(old, JOURNAL_FILES[1])); // its one round, begun by a checkpoint record that follows nothing
  const reopened = await openTestVolume(old, { size: SIZE, sectorSize: S, keys });
  assert.deepEqual(await reopened.read(0, SIZE), models[5]);
  assert.ok(existsSync(path.join(old, JOURNAL_FILES[1])));
  await reopened.close();
  await volume.close();
});

test("after a checkpoint the new round replays alone; a damaged checkpoint record with records after it refuses the open", async (t) => {
  const { dir, remove } = temporaryDirectory('rounds');
  t.after(remove);
  const keys = keyFactory();
  const live = path.join(dir, 'live');
  const { volume, models } = await journaledWrites(live, keys, 3);
  await volume.checkpoint(); // all in the files; the next round, in the other file, stands alone
  const after = randomBytes(8192);
  await volume.write(0, Buffer.from(after));
  const model = Buffer.from(models[3]!);
  after.copy(model, 0);
  const crashed = path.join(dir, 'crashed');
  snapshot(live, crashed);
  const reopened = await openTestVolume(crashed, { size: SIZE, sectorSize: S, keys });
  assert.deepEqual(await reopened.read(0, SIZE), model);
  await reopened.close();
  // The new round's checkpoint record damaged, its record after it whole: damage, not a torn tail.
  const damaged = path.join(dir, 'damaged');
  snapshot(live, damaged);
  flipByte(path.join(damaged, JOURNAL_FILES[1]), 40);
  await assert.rejects(openTestVolume(damaged, { size: SIZE, sectorSize: S, keys }), JournalDamaged);
  await volume.close();
});
