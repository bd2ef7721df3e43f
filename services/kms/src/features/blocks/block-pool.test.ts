// The block pool off the event loop: a volume attestation's Merkle root is computed on a worker
// (the same root as computed in place), the event loop keeps turning while it is, and a batch sent
// meanwhile goes to the other worker instead of waiting behind it.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { merkleRoot, sealBody } from '@sealkeep/crypto';
import { BlockPool } from './block-pool.js';

let pool: BlockPool;
const sessionKey = randomBytes(32);
before(() => {
  pool = new BlockPool(2);
  pool.open('vol', '6c1f3c1e-8a43-4b43-9d0c-3f0c0b3a5e11', 4096, randomBytes(64), randomBytes(32), sessionKey);
});
after(() => pool.destroy());

test('the Merkle root computed on a worker is the one computed in place, for any number of tags', async () => {
  for (const count of [0, 1, 2, 3, 1000, 4097]) {
    const tags = randomBytes(32 * count);
    const expected = merkleRoot(tags);
    assert.equal((await pool.merkleRoot(Buffer.from(tags))).toString('hex'), expected.toString('hex'), `${count} tags`);
  }
});

let seq = 1;
/** A sealed batch of 16 sectors to encrypt, run on the pool. */
function batch() {
  const body = Buffer.alloc(4096 * 16);
  const s = seq++;
  const tag = sealBody(sessionKey, s, 'request', 'encrypted', 'POST', '/batch', [body]);
  return pool.run('vol', 'encrypt', 0n, body, { seq: s, method: 'POST', url: '/batch', tag });
}

test('a large root leaves the event loop free, and a batch sent meanwhile does not wait for it', async (t) => {
  // Both workers started and holding the volume (two batches at once go to the two), so neither's start-up is timed below.
  const warm = await Promise.all([batch(), batch()]);
  assert.ok(warm.every((r) => r.ok));
  // Neither check below can pass for a pool that breaks what it checks, whatever the timing:
  // - a batch that waited behind the root on the root's worker could only finish after it (a
  //   worker's replies come back in order), so a batch that finishes first ran on the other worker;
  // - a root computed on the event loop would let no timer fire before it is done; on a worker, the
  //   loop turns meanwhile, and a 5 ms timer fires in its ~0.1 s or more.
  // A loaded machine may still give the other worker, or the event loop, no CPU while the root is
  // computed, so the pair has a few tries; a pool that breaks either never passes one.
  const tries: Array<{ order: string[]; ticks: number }> = [];
  const passed = (r: { order: string[]; ticks: number }) => r.order[0] === 'batch' && r.ticks >= 1;
  while (tries.length < 5 && !tries.some(passed)) {
    const tags = randomBytes(32 * 2 ** 20); // (~0.1–0.3 s of hashing on SHA-NI pairs: far longer than one batch)
    const order: string[] = [];
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 5);
    let ticksDuringRoot = 0;
    const root = pool.merkleRoot(tags).then(() => {
      ticksDuringRoot = ticks;
      order.push('root');
    });
    const sent = batch().then((r) => {
      order.push('batch');
      return r;
    });
    const [, result] = await Promise.all([root, sent]);
    clearInterval(ticker);
    assert.ok(result.ok);
    tries.push({ order, ticks: ticksDuringRoot });
  }
  const told = tries.map((r) => `${r.order.join(' then ')}, ${r.ticks} timer ticks during the root`).join('; ');
  t.diagnostic(`${tries.length} tries: ${told}`);
  assert.ok(tries.some(passed), `a batch sent beside the root finished before it, and the event loop turned while it was computed (${tries.length} tries: ${told})`);
});
