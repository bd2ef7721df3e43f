// Generation words in runs (block requests, journal records): u64 big-endian, one after another,
// converted in bulk; the bytes are those writeBigUInt64BE gives, whatever the view's offset.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeGenerations, encodeGenerations, GENERATION_BYTES } from './formats.js';

const samples = BigUint64Array.from([0n, 1n, 0x0102030405060708n, (1n << 63n) | 5n, (1n << 64n) - 1n]);

test('generations encode as u64 big-endian, one after another, and decode back', () => {
  const bytes = encodeGenerations(samples);
  const expected = Buffer.alloc(samples.length * GENERATION_BYTES);
  samples.forEach((g, i) => expected.writeBigUInt64BE(g, i * GENERATION_BYTES));
  assert.deepEqual(bytes, expected);
  assert.deepEqual(bytes.subarray(16, 24), Buffer.from([1, 2, 3, 4, 5, 6, 7, 8]));
  assert.deepEqual(decodeGenerations(bytes), samples);
  assert.equal(encodeGenerations(new BigUint64Array(0)).length, 0);
});

test('views at any offset convert alike, and only whole words decode', () => {
  const backing = new BigUint64Array(8);
  backing.set(samples, 2);
  assert.deepEqual(encodeGenerations(backing.subarray(2, 2 + samples.length)), encodeGenerations(samples));
  const odd = Buffer.alloc(1 + samples.length * GENERATION_BYTES);
  encodeGenerations(samples).copy(odd, 1);
  assert.deepEqual(decodeGenerations(odd.subarray(1)), samples);
  assert.throws(() => decodeGenerations(Buffer.alloc(7)), /whole 8-byte words/);
});
