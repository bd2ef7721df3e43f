// The pending sectors' two layers: the newest change of a sector wins over the one being written
// back, the retiring changes stay readable until forgotten, and their buffers go back to the pool
// only once no read that may copy from them still holds them.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bufferPool } from '../buffer-pool.js';
import type { SectorChange } from './journal-record.js';
import { PendingSectors } from './pending-sectors.js';

const S = 4096;

/** A change of `count` sectors from `firstLba`, each sector filled with `fill`, its ciphertext from the pool. */
function change(firstLba: number, count: number, word: bigint, fill: number): SectorChange {
  const ciphertext = bufferPool.take(count * S).fill(fill);
  return { kind: 'sectors', firstLba, words: new BigUint64Array(count).fill(word), tags: Buffer.alloc(count * 32, fill), ciphertext, previous: Buffer.alloc(count * 40) };
}

test('the newest change of a sector is found before the retiring one; the retiring ones until forgotten', () => {
  const pending = new PendingSectors(S);
  pending.add(change(0, 32, 1n, 0xa1));
  assert.equal(pending.retireNewest().length, 1);
  pending.add(change(16, 32, 2n, 0xb2)); // over half of the retiring run
  assert.equal(pending.word(0), 1n);
  assert.equal(pending.get(15)!.ciphertext![0], 0xa1);
  assert.equal(pending.word(16), 2n);
  assert.equal(pending.get(31)!.ciphertext![0], 0xb2);
  assert.equal(pending.get(31)!.tag![0], 0xb2);
  assert.ok(pending.bytes > pending.newestBytes, 'both layers count against the limit');
  assert.throws(() => pending.retireNewest(), /already running/);
  pending.forgetRetiring();
  assert.equal(pending.word(0), undefined);
  assert.equal(pending.word(16), 2n);
  assert.equal(pending.isEmpty, false);
  pending.retireNewest();
  pending.forgetRetiring();
  assert.equal(pending.isEmpty, true);
  assert.equal(pending.bytes, 0);
});

test("a retired layer's buffers go back to the pool only when the last read holding them lets go", () => {
  const pending = new PendingSectors(S);
  const held = change(0, 64, 1n, 0x11);
  const backing = held.ciphertext!.buffer;
  pending.add(held);
  const release = pending.hold();
  pending.retireNewest();
  const later = pending.hold(); // a read started during the write-back holds the retiring layer too
  pending.forgetRetiring();
  const lateRead = pending.hold(); // one started after it was forgotten does not
  const takeSame = () => {
    const taken = bufferPool.take(64 * S);
    const same = taken.buffer === backing;
    if (!same) bufferPool.give(taken);
    return same;
  };
  later();
  later(); // releasing twice counts once: the first read still holds it
  assert.equal(takeSame(), false, 'still held by the read started before the write-back');
  lateRead();
  assert.equal(takeSame(), false);
  release();
  assert.equal(takeSame(), true, 'given back once nothing holds it');
});

test('a layer never retired keeps its buffers, whoever holds and lets go of them', () => {
  const pending = new PendingSectors(S);
  const kept = change(0, 64, 1n, 0x22);
  pending.add(kept);
  pending.hold()();
  const taken = bufferPool.take(64 * S);
  assert.notEqual(taken.buffer, kept.ciphertext!.buffer);
  bufferPool.give(taken);
  assert.equal(pending.get(0)!.ciphertext![0], 0x22);
});
