// JSON Lines export: canonical lines that parse back to the same items, line numbering that
// counts blank lines, CRLF, chunking that splits UTF-8 characters, and malformed lines reported
// (never thrown) with the reason.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { canonicalize } from './canonical.js';
import { sealEntry } from './entry.js';
import { MAX_LINE_LENGTH, parseJsonLines, parseJsonLinesAsync, toJsonLines, type ParsedLine } from './export.js';
import { sampleFields, sampleLog } from './audit-log.fixture.js';

const log = await sampleLog(20, 10);

test('toJsonLines writes one canonical line per item, and they parse back the same', () => {
  const text = toJsonLines(log.items);
  const lines = text.split('\n');
  assert.equal(lines.pop(), '', 'newline-terminated');
  assert.equal(lines.length, 22);
  assert.deepEqual(lines, log.items.map((i) => canonicalize(i)));
  const parsed = [...parseJsonLines(text)];
  assert.deepEqual(parsed.map((p) => p.kind), log.items.map((i) => ('kind' in i ? 'checkpoint' : 'entry')));
  assert.deepEqual(parsed.map((p) => (p.kind === 'malformed' ? null : p.item)), log.items);
  assert.ok(parsed.every((p) => p.kind !== 'malformed' && p.problems.length === 0));
});

test('lines are numbered from 1, blank lines counted and skipped, CRLF accepted', () => {
  const [a, b] = log.entries.map((e) => canonicalize(e));
  const parsed = [...parseJsonLines(`${a}\r\n\n  \n${b}\n`)];
  assert.deepEqual(parsed.map((p) => [p.line, p.kind]), [[1, 'entry'], [4, 'entry']]);
});

test('malformed lines are reported with the reason, and parsing goes on', () => {
  const good = canonicalize(log.entries[0]);
  const cases: Array<[string, RegExp]> = [
    ['{"seq": 1,', /not JSON/],
    ['[1,2]', /not a JSON object/],
    ['"text"', /not a JSON object/],
    ['{"kind":"heartbeat"}', /unknown kind "heartbeat"/],
    ['x'.repeat(MAX_LINE_LENGTH + 1), /over 65536/],
  ];
  for (const [line, reason] of cases) {
    const parsed = [...parseJsonLines([line, good])];
    assert.equal(parsed.length, 2);
    assert.equal(parsed[0]!.kind, 'malformed');
    assert.match((parsed[0] as { reason: string }).reason, reason);
    assert.equal(parsed[1]!.kind, 'entry');
  }
  const partial = [...parseJsonLines('{"seq":3,"hash":"00"}')][0] as Extract<ParsedLine, { kind: 'entry' }>;
  assert.ok(partial.problems.some((p) => p.startsWith('time:')), 'shape problems listed for the verifier');
});

test('the async parser reassembles lines and UTF-8 characters split across chunks', async () => {
  const e = sealEntry({ ...sampleFields(2), details: { note: 'clé rotée — ✓ 😀' } }, null);
  const text = toJsonLines([e, ...log.items.slice(1, 5)]);
  const bytes = Buffer.from(text, 'utf8');
  for (const size of [1, 3, 7, 64, bytes.length]) {
    const chunks = Array.from({ length: Math.ceil(bytes.length / size) }, (_, i) => bytes.subarray(i * size, (i + 1) * size));
    const parsed: ParsedLine[] = [];
    for await (const p of parseJsonLinesAsync(Readable.from(chunks))) parsed.push(p);
    assert.deepEqual(parsed, [...parseJsonLines(text)], `chunks of ${size}`);
  }
});

test('the async parser reports an over-long line once and resynchronises at the next newline', async () => {
  const good = canonicalize(log.entries[0]);
  const chunks = [good + '\n', 'y'.repeat(MAX_LINE_LENGTH), 'y'.repeat(MAX_LINE_LENGTH), 'yyy\n', good + '\n'];
  const parsed: ParsedLine[] = [];
  for await (const p of parseJsonLinesAsync(Readable.from(chunks))) parsed.push(p);
  assert.deepEqual(parsed.map((p) => [p.line, p.kind]), [[1, 'entry'], [2, 'malformed'], [3, 'entry']]);
});
