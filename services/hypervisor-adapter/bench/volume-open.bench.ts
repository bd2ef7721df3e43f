// What recording a large volume's state at its open costs (`npm run bench -- volume-open`): the
// state root composed from the chunk roots its last clean close saved (tags.roots), beside
// the reference measured in the same run — the same files' root read from every chunk, as an open
// after a crash (or of a volume no clean close saved roots for) still does. Then what the saved
// roots leave for later: the first request to reach a chunk (checked on the event loop, by slices;
// the loop's longest stall meanwhile) and the background check of every chunk on one worker.
// 4 KiB sectors, one sector in every 4,099 written; the tag file is in the page cache, as after a
// close. Three rounds each; figures in milliseconds.

import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { SectorFiles } from '../src/volume/sector-files.js';
import { CHUNK_SECTORS } from '../src/volume/tag-chunks.js';

const ROUNDS = 3;
const since = (start: number) => performance.now() - start;
const range = (values: number[]) => `${Math.min(...values).toFixed(1)}–${Math.max(...values).toFixed(1)}`;

async function measure(sectors: number) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sealkeep-open-bench-'));
  try {
    const made = await SectorFiles.open(dir, 4096, sectors, true);
    for (let lba = 0; lba < sectors; lba += 4099) await made.apply([{ kind: 'sectors', firstLba: lba, words: BigUint64Array.of(1n), tags: randomBytes(32), ciphertext: randomBytes(4096) }]);
    await made.sync();
    await made.close();
    const figures = { everyChunk: [] as number[], saved: [] as number[], firstTouch: [] as number[], stall: [] as number[], background: [] as number[] };
    for (let round = 0; round < ROUNDS; round++) {
      let start = performance.now();
      const closed = await SectorFiles.open(dir, 4096, sectors, false);
      const read = await closed.stateRoot(sectors);
      figures.everyChunk.push(since(start));
      await closed.saveRoots(sectors);
      await closed.close();

      start = performance.now();
      const opened = await SectorFiles.open(dir, 4096, sectors, false);
      await opened.adoptSavedRoots(sectors, (why) => {
        throw new Error(why);
      });
      const composed = await opened.stateRoot(sectors);
      figures.saved.push(since(start));
      if (!composed.equals(read)) throw new Error('the composed root is not the read one');

      const loop = monitorEventLoopDelay({ resolution: 1 });
      loop.enable();
      start = performance.now();
      await opened.chunks.check((round + 1) * CHUNK_SECTORS + 7, 8);
      figures.firstTouch.push(since(start));
      loop.disable();
      figures.stall.push(loop.max / 1e6);

      start = performance.now();
      await opened.chunks.checkAll(new AbortController().signal);
      figures.background.push(since(start));
      await opened.close();
    }
    return figures;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

console.log('recording a volume\'s state at its open: its state root (tags and generation words), ms (range of 3 rounds)');
console.log('volume                       every chunk read   from tags.roots   ratio   first request to a chunk (loop stall)   background check');
for (const log2 of [21, 23]) {
  const sectors = 2 ** log2;
  const f = await measure(sectors);
  const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;
  const label = `2^${log2} sectors (${(sectors * 4096) / 2 ** 30} GiB, ${sectors / CHUNK_SECTORS} chunks)`;
  console.log(
    `${label.padEnd(29)}${range(f.everyChunk).padStart(16)}${range(f.saved).padStart(18)}${(median(f.everyChunk) / median(f.saved)).toFixed(0).padStart(8)}×` +
      `${range(f.firstTouch).padStart(26)} (${range(f.stall)})${range(f.background).padStart(22)}`,
  );
}
console.log('every chunk read: the reference, as an open without saved roots reads them; ratio: of the medians');
