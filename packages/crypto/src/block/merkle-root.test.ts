// The Merkle root over sector tags: small trees written out by hand, RFC 6962's recursive
// definition for every size up to 70, incremental appends, appends by whole subtrees hashed
// elsewhere or earlier (their roots given), and one changed tag changing the root.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { MerkleRootBuilder, merkleRoot } from './merkle-root.js';

const sha256 = (...parts: Uint8Array[]) => parts.reduce((h, p) => h.update(p), createHash('sha256')).digest();
const leaf = (tag: Buffer) => sha256(Buffer.of(0x00), tag);
const node = (left: Buffer, right: Buffer) => sha256(Buffer.of(0x01), left, right);
const tags = Array.from({ length: 7 }, (_, i) => Buffer.alloc(32, i + 1));
const [t0, t1, t2, t3, t4, t5, t6] = tags as [Buffer, Buffer, Buffer, Buffer, Buffer, Buffer, Buffer];
const rootOf = (n: number) => merkleRoot(Buffer.concat(tags.slice(0, n)));

test('small trees, by hand: 0x00 leaf and 0x01 node prefixes, the odd one joins higher up', () => {
  assert.equal(rootOf(0).toString('hex'), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', 'SHA-256 of nothing');
  assert.deepEqual(rootOf(1), leaf(t0));
  assert.deepEqual(rootOf(2), node(leaf(t0), leaf(t1)));
  assert.deepEqual(rootOf(3), node(node(leaf(t0), leaf(t1)), leaf(t2)));
  const first4 = node(node(leaf(t0), leaf(t1)), node(leaf(t2), leaf(t3)));
  assert.deepEqual(rootOf(4), first4);
  assert.deepEqual(rootOf(5), node(first4, leaf(t4)));
  assert.deepEqual(rootOf(6), node(first4, node(leaf(t4), leaf(t5))));
  assert.deepEqual(rootOf(7), node(first4, node(node(leaf(t4), leaf(t5)), leaf(t6))));
  assert.notDeepEqual(rootOf(1), t0, 'a leaf is hashed, never used as it is');
});

/** RFC 6962 §2.1 as written: split at the largest power of two smaller than n. */
function mth(leaves: Buffer[]): Buffer {
  if (leaves.length === 0) return sha256();
  if (leaves.length === 1) return leaf(leaves[0]!);
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return node(mth(leaves.slice(0, k)), mth(leaves.slice(k)));
}

test('every size up to 70 equals the recursive RFC 6962 definition, appended in uneven batches', () => {
  const many = Array.from({ length: 70 }, () => randomBytes(32));
  const builder = new MerkleRootBuilder();
  let appended = 0;
  for (let n = 0; n <= 70; n++) {
    while (appended < n) {
      const batch = Math.min(n - appended, 1 + (appended % 3));
      builder.append(Buffer.concat(many.slice(appended, appended + batch)));
      appended += batch;
    }
    assert.equal(builder.leafCount, n);
    assert.deepEqual(builder.root(), mth(many.slice(0, n)), `${n} leaves`);
  }
});

test('appended by whole subtrees hashed elsewhere (appendHashed), in batches of any size, the root is the same', () => {
  const many = Array.from({ length: 300 }, () => randomBytes(32));
  const subtrees: number[] = [];
  const hashed = (tags: Uint8Array) => {
    subtrees.push(tags.length / 32);
    return mth(Array.from({ length: tags.length / 32 }, (_, i) => Buffer.from(tags.subarray(i * 32, i * 32 + 32))));
  };
  for (const batch of [1, 3, 7, 64, 100, 256, 300]) {
    subtrees.length = 0;
    const builder = new MerkleRootBuilder();
    for (let at = 0; at < many.length; at += batch) builder.appendHashed(Buffer.concat(many.slice(at, at + batch)), hashed);
    assert.equal(builder.leafCount, 300);
    assert.deepEqual(builder.root(), mth(many), `batches of ${batch}`);
    assert.ok(subtrees.every((n) => (n & (n - 1)) === 0), 'every subtree hashed elsewhere is a complete one');
  }
  assert.deepEqual(subtrees, [256, 32, 8, 4], 'in one batch: the binary digits of 300, largest first');
  const mixed = new MerkleRootBuilder().append(Buffer.concat(many.slice(0, 5))).appendHashed(Buffer.concat(many.slice(5)), hashed);
  assert.deepEqual(mixed.root(), mth(many), 'after leaves appended one by one');
});

test('complete subtrees appended by their roots (appendSubtree) give the same root; one out of place is refused', () => {
  const many = Array.from({ length: 300 }, () => randomBytes(32));
  // 300 = 128 + 128 + 32 + 12: two subtrees of 128 and one of 32 by their roots, the rest as tags.
  const builder = new MerkleRootBuilder()
    .appendSubtree(128, mth(many.slice(0, 128)))
    .appendSubtree(128, mth(many.slice(128, 256)))
    .appendSubtree(32, mth(many.slice(256, 288)))
    .append(Buffer.concat(many.slice(288)));
  assert.equal(builder.leafCount, 300);
  assert.deepEqual(builder.root(), mth(many));
  const after5 = new MerkleRootBuilder().append(Buffer.concat(many.slice(0, 5)));
  assert.throws(() => after5.appendSubtree(4, mth(many.slice(5, 9))), /cannot start after 5/);
  assert.throws(() => new MerkleRootBuilder().appendSubtree(3, mth(many.slice(0, 3))), /power of two/);
  assert.throws(() => new MerkleRootBuilder().appendSubtree(4, Buffer.alloc(31)), /32 bytes/);
  assert.equal(after5.leafCount, 5, 'a refused subtree appends nothing');
});

test('changing any one tag changes the root, and every such root differs', () => {
  const original = rootOf(7);
  const roots = new Set([original.toString('hex')]);
  for (let i = 0; i < 7; i++) {
    const changed = Buffer.concat(tags);
    changed[i * 32 + 31]! ^= 1;
    roots.add(merkleRoot(changed).toString('hex'));
  }
  assert.equal(roots.size, 8);
  assert.notDeepEqual(rootOf(6), rootOf(7), 'a dropped last tag changes it too');
  const swapped = Buffer.concat([t1, t0, t2, t3, t4, t5, t6]);
  assert.notDeepEqual(merkleRoot(swapped), original, 'so does reordering');
});

test('a partial tag is refused', () => {
  assert.throws(() => merkleRoot(Buffer.alloc(33)), { name: 'BlockCryptoError', code: 'INVALID_ARGUMENT' });
});
