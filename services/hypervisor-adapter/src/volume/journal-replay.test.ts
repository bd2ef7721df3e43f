// Crash states, made exactly: a copy of a live volume's directory is what kill -9 leaves (every
// completed write is in the page cache), and cutting or damaging the copy's journal is what a
// crash mid-append or a power loss can leave. Opening the copy must give, for every sector, the
// content of a prefix of the writes — never a mix — or refuse with JournalDamaged when a damaged
// record had been made durable (a record appended after the sync that made it so says so).

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { volumeIdFromUuid } from '@sealkeep/crypto';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { JournalDamaged, SectorJournal } from './sector-journal.js';
import { RECORD_HEADER_BYTES, metadataBytes, parseRecordHeader, recordBytes } from './journal-record.js';
import { JOURNAL_FILES } from './open-volume.js';
import { TAG_ENTRY_BYTES } from './sector-state.js';
import { flipByte, keyFactory, openTestVolume, patchFile, recordingLogger, temporaryDirectory } from '../test-kit.fixture.js';

const SIZE = 256 << 10;
const S = 4096;

/**
 * A volume with `count` random writes in its journal (and, with writeBack, also in its files;
 * with flushThrough, each write up to that one flushed), the model after each write, and each
 * record's end offset in the journal.
 */
async function journaledWrites(dir: string, keys: ReturnType<typeof keyFactory>, count: number, { writeBack = false, flushThrough = 0 } = {}) {
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
    if (i < flushThrough) await volume.flush();
    models.push(model);
    recordEnds.push(statSync(path.join(dir, 'journal')).size);
  }
  return { volume, models, recordEnds };
}

function snapshot(from: string, to: string): void {
  cpSync(from, to, { recursive: true });
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

test('a damaged last record is dropped; a damaged record that a later record says was durable refuses the open', async (t) => {
  const { dir, remove } = temporaryDirectory('damage');
  t.after(remove);
  const keys = keyFactory();
  const live = path.join(dir, 'live');
  const { volume, models, recordEnds } = await journaledWrites(live, keys, 5, { flushThrough: 5 });

  const tail = path.join(dir, 'tail');
  snapshot(live, tail);
  flipByte(path.join(tail, 'journal'), recordEnds[5]! - 10); // ciphertext of the last record
  const log = recordingLogger();
  const reopened = await openTestVolume(tail, { size: SIZE, sectorSize: S, keys, log });
  assert.deepEqual(await reopened.read(0, SIZE), models[4]);
  assert.ok(log.entries.some((e) => e.level === 'warn' && e.message.includes('torn tail')));
  await reopened.close();

  // Record 2 of 5, flushed before record 3 was appended.
  for (const [what, position] of [
    ['ciphertext', recordEnds[2]! - 10],
    ['header', recordEnds[1]! + 30],
    ['durable-through', recordEnds[1]! + 39],
    ['generation', recordEnds[1]! + 72 + 3],
    ['magic', recordEnds[1]!],
  ] as const) {
    const middle = path.join(dir, `middle-${what}`);
    snapshot(live, middle);
    flipByte(path.join(middle, 'journal'), position);
    await assert.rejects(openTestVolume(middle, { size: SIZE, sectorSize: S, keys }), JournalDamaged, `damaged ${what}`);
  }
  // Its sector count damaged but in range: the length it claims is not trusted for the search.
  const count = path.join(dir, 'count');
  snapshot(live, count);
  flipByte(path.join(count, 'journal'), recordEnds[1]! + 22);
  await assert.rejects(openTestVolume(count, { size: SIZE, sectorSize: S, keys }), JournalDamaged, 'damaged count');
  // Its whole header gone: the records after it are found by their magic.
  const erased = path.join(dir, 'erased');
  snapshot(live, erased);
  patchFile(path.join(erased, 'journal'), recordEnds[1]!, Buffer.alloc(72));
  await assert.rejects(openTestVolume(erased, { size: SIZE, sectorSize: S, keys }), JournalDamaged);
  await volume.close();
});

test('records torn by a power loss with whole records after them are dropped, not taken for damage, when none was flushed', async (t) => {
  const { dir, remove } = temporaryDirectory('unordered');
  t.after(remove);
  const keys = keyFactory();
  const live = path.join(dir, 'live');
  // Writes 1 and 2 flushed, 3 to 6 not: their pages may reach the disk in any order.
  const { volume, models, recordEnds } = await journaledWrites(live, keys, 6, { flushThrough: 2 });
  for (const torn of [3, 4, 5]) {
    for (const how of ['ciphertext', 'header'] as const) {
      const image = path.join(dir, `torn-${torn}-${how}`);
      snapshot(live, image);
      // A page of the record that never reached the disk: zeros where it should be.
      const at = how === 'header' ? recordEnds[torn - 1]! : recordEnds[torn]! - 100;
      patchFile(path.join(image, 'journal'), at, Buffer.alloc(how === 'header' ? 72 : 50));
      const log = recordingLogger();
      const reopened = await openTestVolume(image, { size: SIZE, sectorSize: S, keys, log });
      assert.deepEqual(await reopened.read(0, SIZE), models[torn - 1], `record ${torn} torn (${how}): the writes before it, none after`);
      await reopened.close();
    }
  }
  // Record 2 was flushed, and records 3 on were appended after that flush: its damage is damage.
  const flushed = path.join(dir, 'flushed');
  snapshot(live, flushed);
  flipByte(path.join(flushed, 'journal'), recordEnds[2]! - 10);
  await assert.rejects(openTestVolume(flushed, { size: SIZE, sectorSize: S, keys }), JournalDamaged);
  await volume.close();
});

test('sectors torn in the data and tag files by a write-back are rewritten by replay', async (t) => {
  const { dir, remove } = temporaryDirectory('in-place');
  t.after(remove);
  const keys = keyFactory();
  const live = path.join(dir, 'live');
  const { volume, models } = await journaledWrites(live, keys, 8, { writeBack: true }); // each write goes back to the files at once
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

/**
 * A journal file as an earlier volume format wrote it (anything after its records dropped):
 * formats 1 and 2 'SKJRNL01' records, 64-byte headers without durable-through; format 3
 * 'SKJRNL02', without the entries before. Answers where each record ends in it.
 */
function asEarlierFormat(file: string, volumeId: Buffer, version: 1 | 2 | 3): number[] {
  const bytes = readFileSync(file);
  const records: Buffer[] = [];
  const ends: number[] = [];
  for (let at = 0, end = 0; ; ) {
    const header = parseRecordHeader(bytes.subarray(at, at + RECORD_HEADER_BYTES));
    if (!header || at + recordBytes(header, S) > bytes.length) break;
    const record = bytes.subarray(at, at + recordBytes(header, S));
    const metadata = record.subarray(RECORD_HEADER_BYTES, RECORD_HEADER_BYTES + metadataBytes(header.kind, header.count, false));
    const ciphertext = record.subarray(RECORD_HEADER_BYTES + metadataBytes(header.kind, header.count, true));
    const headerBytes = version === 3 ? RECORD_HEADER_BYTES : 64;
    const earlier = Buffer.concat([record.subarray(0, headerBytes - 32), Buffer.alloc(32), metadata, ciphertext]);
    earlier.write(version === 3 ? 'SKJRNL02' : 'SKJRNL01', 0, 'latin1');
    createHash('sha256').update(volumeId).update(earlier.subarray(0, headerBytes - 32)).update(metadata).digest().copy(earlier, headerBytes - 32);
    records.push(earlier);
    ends.push((end += earlier.length));
    at += record.length;
  }
  writeFileSync(file, Buffer.concat(records));
  return ends;
}

test('volumes of the earlier formats (one journal file; records without durable-through, or without the entries before) replay as written and become format 4', async (t) => {
  const { dir, remove } = temporaryDirectory('earlier-formats');
  t.after(remove);
  const keys = keyFactory();
  const live = path.join(dir, 'live');
  const { volume, models } = await journaledWrites(live, keys, 5);
  const format = (at: string) => (JSON.parse(readFileSync(path.join(at, 'volume.json'), 'utf8')) as { format: string }).format;
  const earlier = (name: string, version: 1 | 2 | 3) => {
    const at = path.join(dir, name);
    snapshot(live, at);
    const metadata = JSON.parse(readFileSync(path.join(at, 'volume.json'), 'utf8')) as { uuid: string };
    writeFileSync(path.join(at, 'volume.json'), JSON.stringify({ ...metadata, format: `sealkeep-volume/${version}` }));
    const ends = asEarlierFormat(path.join(at, JOURNAL_FILES[0]), volumeIdFromUuid(metadata.uuid), version);
    if (version === 1) rmSync(path.join(at, JOURNAL_FILES[1])); // its one round, begun by a checkpoint record that follows nothing
    else asEarlierFormat(path.join(at, JOURNAL_FILES[1]), volumeIdFromUuid(metadata.uuid), version);
    return { at, ends };
  };
  for (const version of [1, 2, 3] as const) {
    const { at } = earlier(`format-${version}`, version);
    const reopened = await openTestVolume(at, { size: SIZE, sectorSize: S, keys });
    assert.deepEqual(await reopened.read(0, SIZE), models[5]);
    assert.ok(existsSync(path.join(at, JOURNAL_FILES[1])));
    assert.equal(format(at), 'sealkeep-volume/4', 'format 4 from now on: a version that knows only an earlier one refuses it');
    await reopened.close();
    if (version === 3) continue; // (its records say how far the journal was durable, as this format's do)
    // Their records say nothing of durability: as those formats did, a failing record with whole ones after it is damage.
    const damaged = earlier(`format-${version}-damaged`, version);
    flipByte(path.join(damaged.at, JOURNAL_FILES[0]), damaged.ends[2]! - 10); // record 2's ciphertext
    await assert.rejects(openTestVolume(damaged.at, { size: SIZE, sectorSize: S, keys }), JournalDamaged);
    // Nor more than they did: a record whose header page never reached the disk ends the round, whatever lies after it.
    const torn = earlier(`format-${version}-torn`, version);
    patchFile(path.join(torn.at, JOURNAL_FILES[0]), torn.ends[2]!, Buffer.alloc(64)); // record 3's header
    const reopenedTorn = await openTestVolume(torn.at, { size: SIZE, sectorSize: S, keys });
    assert.deepEqual(await reopenedTorn.read(0, SIZE), models[2]);
    await reopenedTorn.close();
  }
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

test('a clean close cuts the file of the round it leaves to that round: the next open has nothing past it to search', async (t) => {
  const { dir, remove } = temporaryDirectory('trim');
  t.after(remove);
  const keys = keyFactory();
  const live = path.join(dir, 'live');
  const { volume, models } = await journaledWrites(live, keys, 6);
  await volume.checkpoint(); // the writes' round retired; the next one (in the other file) stands alone
  await volume.close(); // and its round begins in the file the writes filled
  const sizes = JOURNAL_FILES.map((name) => statSync(path.join(live, name)).size).sort((a, b) => a - b);
  assert.deepEqual(sizes, [RECORD_HEADER_BYTES, RECORD_HEADER_BYTES], "the file the writes filled holds only the close's checkpoint record (the other, the checkpoint's)");
  const reopened = await openTestVolume(live, { size: SIZE, sectorSize: S, keys });
  assert.deepEqual(await reopened.read(0, SIZE), models[6]);
  await reopened.close();
});

/**
 * What a power loss keeps: every file as it was when its last fdatasync (or fsync) began, taken
 * as that call ends; `imageTo(dir)` writes those contents (volume.json as it stands: it is only
 * ever replaced whole and durably). With `unsyncedPages` (0 to 1), each 4 KiB page written since
 * then reaches the image with that chance, in no order — as the kernel writes dirty pages back.
 */
async function durableContents(t: TestContext, live: string): Promise<{ imageTo(to: string, unsyncedPages?: number): void }> {
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
    imageTo(to, unsyncedPages = 0) {
      mkdirSync(to);
      for (const name of readdirSync(live)) {
        const now = readFileSync(path.join(live, name));
        if (name === 'volume.json') {
          writeFileSync(path.join(to, name), now);
          continue;
        }
        const image = Buffer.alloc(now.length);
        (kept.get(name) ?? Buffer.alloc(0)).copy(image);
        for (let page = 0; page < now.length; page += 4096) {
          if (Math.random() < unsyncedPages) now.copy(image, page, page, Math.min(page + 4096, now.length));
        }
        writeFileSync(path.join(to, name), image);
      }
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

test('a power loss that keeps unsynced pages in any order opens with every flushed write, and every sector one of its contents since', async (t) => {
  const { dir, remove } = temporaryDirectory('unordered-power-loss');
  t.after(remove);
  const keys = keyFactory();
  const live = path.join(dir, 'live');
  const limits = { pendingBytes: 96 << 10, journalBytes: 384 << 10 };
  const volume = await openTestVolume(live, { size: SIZE, sectorSize: S, keys, limits });
  const durable = await durableContents(t, live);
  const sectors = SIZE / S;
  // Per sector: its content as of the last flush, then every content written since.
  let flushed: Uint8Array[] = Array.from({ length: sectors }, () => Buffer.alloc(S));
  let since: Uint8Array[][] = flushed.map(() => []);
  const images: Array<{ at: string; allowed: Uint8Array[][] }> = [];
  for (let i = 0; i < 80; i++) {
    const first = Math.floor(Math.random() * (sectors - 3));
    const data = randomBytes(S * (1 + Math.floor(Math.random() * 3)));
    await volume.write(first * S, Buffer.from(data));
    for (let k = 0; k < data.length / S; k++) since[first + k]!.push(data.subarray(k * S, (k + 1) * S));
    if (i % 5 === 4) {
      await volume.flush();
      flushed = flushed.map((sector, lba) => since[lba]!.at(-1) ?? sector);
      since = flushed.map(() => []);
    }
    if (i % 3 === 2) {
      const at = path.join(dir, `image-${images.length}`);
      durable.imageTo(at, 0.5);
      images.push({ at, allowed: flushed.map((sector, lba) => [sector, ...since[lba]!]) });
    }
  }
  await volume.close();
  t.mock.restoreAll();
  for (const image of images) {
    const reopened = await openTestVolume(image.at, { size: SIZE, sectorSize: S, keys });
    const found = await reopened.read(0, SIZE);
    await reopened.close();
    for (let lba = 0; lba < sectors; lba++) {
      const sector = found.subarray(lba * S, (lba + 1) * S);
      assert.ok(image.allowed[lba]!.some((content) => sector.equals(content)), `${image.at}: sector ${lba} is none of its contents since the last flush`);
    }
  }
});
