// Tag-file entries: generation word (u64 big-endian) ‖ tag, 40 bytes per sector, written and read
// in bulk; the bytes are the layout's whatever the buffers' offsets, and they read back.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { decodeEntries, decodeWords, encodeEntries, TAG_ENTRY_BYTES, ZEROED_FLAG } from './sector-state.js';

const words = BigUint64Array.from([1n, 0x0102030405060708n, ZEROED_FLAG | 3n, 0n, (1n << 63n) - 1n]);

test('entries hold each word big-endian and its tag, 40 bytes a sector, and decode back', () => {
  const tags = randomBytes(words.length * 32);
  const entries = encodeEntries(words, tags);
  assert.equal(entries.length, words.length * TAG_ENTRY_BYTES);
  words.forEach((w, i) => {
    assert.equal(entries.readBigUInt64BE(i * TAG_ENTRY_BYTES), w);
    assert.deepEqual(entries.subarray(i * TAG_ENTRY_BYTES + 8, (i + 1) * TAG_ENTRY_BYTES), tags.subarray(i * 32, (i + 1) * 32));
  });
  const decoded = decodeEntries(entries, words.length);
  assert.deepEqual(decoded.words, words);
  assert.deepEqual(decoded.tags, tags);
  assert.deepEqual(decodeWords(entries, 2), words.subarray(0, 2));
  assert.deepEqual(encodeEntries(words, null).subarray(8, 40), Buffer.alloc(32), 'no tags: zeros');
});

test('buffers at odd offsets read and write the same bytes', () => {
  const tags = randomBytes(words.length * 32);
  const oddTags = Buffer.alloc(tags.length + 3);
  tags.copy(oddTags, 3);
  const entries = encodeEntries(words, oddTags.subarray(3));
  assert.deepEqual(entries, encodeEntries(words, tags));
  const oddEntries = Buffer.alloc(entries.length + 5);
  entries.copy(oddEntries, 5);
  const decoded = decodeEntries(oddEntries.subarray(5), words.length);
  assert.deepEqual(decoded.words, words);
  assert.deepEqual(decoded.tags, tags);
});
