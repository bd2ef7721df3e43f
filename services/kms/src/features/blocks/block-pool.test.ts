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

test('a large root leaves the event loop free, and a batch sent meanwhile does not wait for it', async () => {
  const tags = randomBytes(32 * 2 ** 20); // (~0.1–0.3 s of hashing on SHA-NI pairs: far longer than one batch)
  let ticks = 0;
  const ticker = setInterval(() => ticks++, 5);
  const started = performance.now();
  let batchDoneAt = 0;
  const root = pool.merkleRoot(tags).then(() => performance.now() - started);
  const body = Buffer.alloc(4096 * 16);
  const tag = sealBody(sessionKey, 1, 'request', 'encrypted', 'POST', '/batch', [body]);
  const batch = pool.run('vol', 'encrypt', 0n, body, { seq: 1, method: 'POST', url: '/batch', tag }).then((r) => {
    batchDoneAt = performance.now() - started;
    return r;
  });
  const [rootMs, result] = await Promise.all([root, batch]);
  clearInterval(ticker);
  assert.ok(result.ok);
  assert.ok(batchDoneAt < rootMs, `the batch (${batchDoneAt.toFixed(0)} ms) finished before the root (${rootMs.toFixed(0)} ms)`);
  // A root that long on the event loop would have let no timer fire at all.
  assert.ok(ticks >= Math.floor(rootMs / 5 / 4), `${ticks} timer ticks in ${rootMs.toFixed(0)} ms`);
});
