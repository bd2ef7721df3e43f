// Crash states, made exactly: a copy of a live volume's directory is what kill -9 leaves (every
// completed write is in the page cache), and cutting or damaging the copy's journal is what a
// crash mid-append or a power loss can leave. Opening the copy must give, for every sector, the
// content of a prefix of the writes — never a mix — or refuse with JournalDamaged when a damaged
// record has valid records after it.

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, truncateSync, openSync, writeFileSync, writeSync, readSync, closeSync } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { JournalDamaged, SectorJournal } from './sector-journal.js';
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
  const metadataFile = path.join(old, 'volume.json');
  const format = () => (JSON.parse(readFileSync(metadataFile, 'utf8')) as { format: string }).format;
  writeFileSync(metadataFile, JSON.stringify({ ...JSON.parse(readFileSync(metadataFile, 'utf8')), format: 'sealkeep-volume/1' }));
  const reopened = await openTestVolume(old, { size: SIZE, sectorSize: S, keys });
  assert.deepEqual(await reopened.read(0, SIZE), models[5]);
  assert.ok(existsSync(path.join(old, JOURNAL_FILES[1])));
  assert.equal(format(), 'sealkeep-volume/2', 'format 2 from now on: a version with one journal file refuses it');
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

/**
 * What a power loss keeps: every file as it was when its last fdatasync (or fsync) began, taken
 * as that call ends; `imageTo(dir)` writes those contents (volume.json as it stands: it is only
 * ever replaced whole and durably).
 */
async function durableContents(t: TestContext, live: string): Promise<{ imageTo(to: string): void }> {
  const kept = new Map<string, Buffer>();
  const probe = await open(path.join(live, 'volume.json'), 'r');
  const FileHandle = Object.getPrototypeOf(probe) as FileHandlePrototype;
  await probe.close();
  for (const method of ['datasync', 'sync'] as const) {
    const real = FileHandle[method];
    t.mock.method(FileHandle, method, async function (this: { fd: number }) {
      const file = readlinkSync(`/proc/self/fd/${this.fd}`);
      const content = statSync(file).isFile() ? readFileSync(file) : null;
      await real.call(this);
      if (content && path.dirname(file) === live) kept.set(path.basename(file), content);
    });
  }
  return {
    imageTo(to) {
      mkdirSync(to);
      for (const name of readdirSync(live)) writeFileSync(path.join(to, name), name === 'volume.json' ? readFileSync(path.join(live, name)) : (kept.get(name) ?? Buffer.alloc(0)));
    },
  };
}
type FileHandlePrototype = Record<'datasync' | 'sync', (this: unknown) => Promise<void>>;

test('a power loss at any checkpoint keeps every flushed write, and every sector is its old or its new content', async (t) => {
  const { dir, remove } = temporaryDirectory('power-loss');
  t.after(remove);
  const keys = keyFactory();
  const live = path.join(dir, 'live');
  // Small limits: write-backs and checkpoints (journal rounds switched and retired) all through the run.
  let volume = await openTestVolume(live, { size: SIZE, sectorSize: S, keys, limits: { pendingBytes: 64 << 10, journalBytes: 256 << 10 } });
  const durable = await durableContents(t, live);
  let before = Buffer.alloc(SIZE); // every write flushed
  let after = Buffer.alloc(SIZE); // and the one in flight, if any
  const images: Array<{ at: string; before: Buffer; after: Buffer }> = [];
  const takeImage = () => {
    const at = path.join(dir, `image-${images.length}`);
    durable.imageTo(at);
    images.push({ at, before: Buffer.from(before), after: Buffer.from(after) });
  };
  // An image right after every round is retired: the moment a round stops being replayed.
  const retire = SectorJournal.prototype.retirePrevious;
  t.mock.method(SectorJournal.prototype, 'retirePrevious', async function (this: SectorJournal) {
    await retire.call(this);
    takeImage();
  });
  for (let i = 0; i < 60; i++) {
    const offset = Math.floor(Math.random() * (SIZE / S - 4)) * S;
    const data = randomBytes(S * (1 + Math.floor(Math.random() * 4)));
    data.copy(after, offset);
    await volume.write(offset, Buffer.from(data));
    await volume.flush();
    before = Buffer.from(after);
    if (i % 7 === 0) takeImage();
    if (i === 30) {
      await volume.close(); // and reopened: rounds begun by close and by open, too
      volume = await openTestVolume(live, { size: SIZE, sectorSize: S, keys, limits: { pendingBytes: 64 << 10, journalBytes: 256 << 10 } });
    }
  }
  await volume.close();
  t.mock.restoreAll();
  assert.ok(images.length > 10, `${images.length} power-loss images`);
  for (const image of images) {
    const reopened = await openTestVolume(image.at, { size: SIZE, sectorSize: S, keys });
    const found = await reopened.read(0, SIZE);
    await reopened.close();
    for (let lba = 0; lba < SIZE / S; lba++) {
      const sector = found.subarray(lba * S, (lba + 1) * S);
      const flushed = image.before.subarray(lba * S, (lba + 1) * S);
      assert.ok(sector.equals(flushed) || sector.equals(image.after.subarray(lba * S, (lba + 1) * S)), `${image.at}: sector ${lba} is neither its flushed nor its newest content`);
    }
  }
});
