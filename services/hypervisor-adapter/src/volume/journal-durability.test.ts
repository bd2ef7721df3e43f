// What each journal record says of durability (durable-through) must never claim more than a
// completed fdatasync covers: otherwise a record torn by an ordinary power loss, with a later
// record whole, is taken for damage and the volume refuses to open. Each test drives the journal
// alone, takes a power-loss image (what was synced, plus chosen pages written since) and replays
// it: it must open, with the torn record and everything after it in its round dropped.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { fstatSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { SectorJournal } from './sector-journal.js';
import type { SectorChange } from './journal-record.js';
import { recordingLogger, temporaryDirectory } from '../test-kit.fixture.js';

const S = 4096;
const PAGE = 4096;
const VOLUME_ID = randomBytes(16);

const change = (lba: number, count: number): SectorChange => ({
  kind: 'sectors',
  firstLba: lba,
  words: new BigUint64Array(count).fill(1n),
  tags: randomBytes(32 * count),
  ciphertext: randomBytes(S * count),
  previous: randomBytes(40 * count),
});

/** A new journal in `root`/live, its first round begun and durable, as a volume's open leaves it. */
async function newJournal(root: string): Promise<{ journal: SectorJournal; paths: readonly [string, string] }> {
  const dir = path.join(root, 'live');
  mkdirSync(dir);
  const paths = [path.join(dir, 'journal'), path.join(dir, 'journal.1')] as const;
  const journal = await SectorJournal.open(paths, VOLUME_ID, S, true);
  await journal.replay(async () => true, recordingLogger());
  journal.switchRound(false);
  await journal.retirePrevious();
  return { journal, paths };
}

/** What a power loss may leave of a file: `synced` as it was, the bytes after it zeros, except whole pages of `now` from `fromPage` on. */
function lossImage(synced: Buffer, now: Buffer, fromPage = now.length): Buffer {
  const image = Buffer.alloc(now.length);
  synced.copy(image);
  now.copy(image, fromPage, fromPage);
  return image;
}

/** Replays the journal files given (contents) in a directory of their own; the records it applies. */
async function replayImage(root: string, name: string, contents: readonly [Buffer, Buffer]): Promise<number> {
  const dir = path.join(root, name);
  mkdirSync(dir);
  const paths = [path.join(dir, 'journal'), path.join(dir, 'journal.1')] as const;
  paths.forEach((file, i) => writeFileSync(file, contents[i]!));
  const journal = await SectorJournal.open(paths, VOLUME_ID, S, false);
  try {
    return (await journal.replay(async () => true, recordingLogger())).records;
  } finally {
    await journal.close();
  }
}

test('a record appended while a sync runs is not vouched for by that sync', async (t) => {
  const { dir, remove } = temporaryDirectory('durable-while-syncing');
  t.after(remove);
  const { journal, paths } = await newJournal(dir);
  journal.append(change(0, 1));
  const synced = readFileSync(paths[0]); // what the fdatasync about to start covers
  const syncing = journal.sync();
  journal.append(change(8, 2)); // after the sync began: two pages and more
  await syncing;
  const third = statSync(paths[0]).size;
  journal.append(change(16, 1)); // durable through record 2 at most, never through this one's predecessor
  await journal.close();
  // Record 3's first page lost, every page after it kept (record 4 whole).
  const firstKept = Math.ceil((synced.length + 1) / PAGE) * PAGE;
  assert.ok(firstKept <= third);
  const records = await replayImage(dir, 'image', [lossImage(synced, readFileSync(paths[0]), firstKept), readFileSync(paths[1])]);
  assert.equal(records, 1, 'the synced record; the torn one and the one after it dropped');
});

test("a round's checkpoint record does not vouch for unsynced records of the round it follows", async (t) => {
  const { dir, remove } = temporaryDirectory('durable-across-rounds');
  t.after(remove);
  const { journal, paths } = await newJournal(dir);
  journal.append(change(0, 1));
  await journal.sync();
  const synced = readFileSync(paths[0]);
  journal.append(change(8, 1)); // never synced
  journal.switchRound(true); // the next round, in the other file, follows this one
  await journal.close();
  // The first file's unsynced record lost; the other file's checkpoint record kept.
  const records = await replayImage(dir, 'image', [lossImage(synced, readFileSync(paths[0])), readFileSync(paths[1])]);
  assert.equal(records, 1);
});

test("while the round followed has unsynced records, a sync of the active file vouches for no more than the round followed is durable through", async (t) => {
  const { dir, remove } = temporaryDirectory('durable-previous-round');
  t.after(remove);
  const { journal, paths } = await newJournal(dir);
  const synced = readFileSync(paths[0]); // its checkpoint record
  journal.append(change(0, 1)); // never durable
  journal.switchRound(true);
  journal.append(change(8, 1)); // in the other file
  // The first file's fdatasync is slow: the other file's completes, and a record is appended, before it does.
  const probe = await open(paths[0], 'r');
  const FileHandle = Object.getPrototypeOf(probe) as { datasync(this: { fd: number }): Promise<void> };
  await probe.close();
  const datasync = FileHandle.datasync;
  const slowFile = statSync(paths[0]).ino;
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  t.mock.method(FileHandle, 'datasync', async function (this: { fd: number }) {
    if (fstatSync(this.fd).ino === slowFile) await held;
    return datasync.call(this);
  });
  const syncing = journal.sync();
  await new Promise((resolve) => setTimeout(resolve, 50));
  journal.append(change(16, 1)); // in the other file, after its sync completed
  const active = readFileSync(paths[1]);
  release();
  await syncing;
  t.mock.restoreAll();
  await journal.close();
  const records = await replayImage(dir, 'image', [lossImage(synced, readFileSync(paths[0])), active]);
  assert.equal(records, 2, "the other file's two records; the first file's unsynced one a torn tail");
});

test('when neither file begins a round, numbering goes on past every record left in them', async (t) => {
  const { dir, remove } = temporaryDirectory('durable-no-round');
  t.after(remove);
  const { journal, paths } = await newJournal(dir);
  for (let i = 0; i < 5; i++) journal.append(change(i * 4, 1));
  const last = journal.nextSequence - 1n;
  await journal.close();
  // Both rounds' checkpoint records lost; the records after them whole.
  const startLost = (file: string) => Buffer.concat([Buffer.alloc(72), readFileSync(file).subarray(72)]);
  const image = path.join(dir, 'image');
  mkdirSync(image);
  const imagePaths = [path.join(image, 'journal'), path.join(image, 'journal.1')] as const;
  imagePaths.forEach((file, i) => writeFileSync(file, startLost(paths[i]!)));
  const reopened = await SectorJournal.open(imagePaths, VOLUME_ID, S, false);
  t.after(() => reopened.close());
  assert.equal((await reopened.replay(async () => true, recordingLogger())).records, 0);
  assert.ok(reopened.nextSequence > last, `numbering goes on at ${reopened.nextSequence}, past record ${last}`);
});
