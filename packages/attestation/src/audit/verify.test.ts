// The offline verifier against a 1,000-entry log with a P-256-signed checkpoint every 100 entries:
// the good log has no finding; each tampering, one row of the table, yields exactly the findings
// listed (id and seq), naming the first bad entry; several at once are all reported.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { makeCheckpoint, type Checkpoint } from './checkpoint.js';
import { entryHash, type AuditEntry } from './entry.js';
import { toJsonLines, type AuditItem } from './export.js';
import { formatReport, type AuditFindingId } from './report.js';
import { verifyAuditLog, verifyAuditLogAsync, type VerifyOptions } from './verify.js';
import { newAk, sampleLog, tpmClockAt, type SampleLog } from './audit-log.fixture.js';

const log = await sampleLog(1000, 100);
const stranger = newAk();
const text = toJsonLines(log.items);
const trusted: VerifyOptions = { trustedAkPublicKeysPem: [log.ak.publicKeyPem] };

type Items = AuditItem[];
const copy = (): Items => structuredClone(log.items) as Items;
const entryAt = (items: Items, seq: number) => items.findIndex((i) => !('kind' in i) && i.seq === seq);
const checkpointAt = (items: Items, seq: number) => items.findIndex((i) => 'kind' in i && i.seq === seq);
const entry = (items: Items, seq: number) => items[entryAt(items, seq)] as AuditEntry;
const rehash = (e: AuditEntry) => Object.assign(e, { hash: entryHash(e) });
const clockAtSeq = (seq: number) => tpmClockAt(seq / 100 - 1);
const dropEntries = (items: Items, from: number, to: number) => items.filter((i) => 'kind' in i || i.seq < from || i.seq > to);
const b64Key = randomBytes(32).toString('base64');

interface Case {
  name: string;
  build: () => Promise<Items | string> | Items | string;
  opts?: VerifyOptions;
  expect: Array<[AuditFindingId, number | undefined]>;
  ok?: boolean;
  firstBadSeq?: number | null;
}

const cases: Case[] = [
  { name: 'the good log', build: copy, expect: [], ok: true, firstBadSeq: null },
  { name: 'the good log, keys pinned', build: copy, opts: trusted, expect: [], ok: true },
  {
    name: 'one field of entry 517 altered',
    build: () => { const items = copy(); entry(items, 517).resource = 'key:tenant-0/other'; return items; },
    expect: [['audit.entry.altered', 517]], firstBadSeq: 517,
  },
  {
    name: "entry 517's prevHash altered (own hash left)",
    build: () => { const items = copy(); entry(items, 517).prevHash = 'f'.repeat(64); return items; },
    expect: [['audit.entry.altered', 517]],
  },
  {
    name: 'entry 300 deleted',
    build: () => { const items = copy(); items.splice(entryAt(items, 300), 1); return items; },
    expect: [['audit.entry.missing', 300]], firstBadSeq: 300,
  },
  {
    name: 'entries 300–302 deleted',
    build: () => dropEntries(copy(), 300, 302),
    expect: [['audit.entry.missing', 300]],
  },
  {
    name: 'entries 10 and 11 swapped',
    build: () => { const items = copy(); const i = entryAt(items, 10); [items[i], items[i + 1]] = [items[i + 1]!, items[i]!]; return items; },
    expect: [['audit.entry.reordered', 10]], firstBadSeq: 10,
  },
  {
    name: 'entry 517 forged and re-hashed',
    build: () => { const items = copy(); rehash(Object.assign(entry(items, 517), { outcome: 'success', principal: 'tn:tenant-1/mallory' })); return items; },
    expect: [['audit.chain.broken', 518]], firstBadSeq: 518,
  },
  {
    name: 'entry 500 forged and re-hashed, under a checkpoint',
    build: () => { const items = copy(); rehash(Object.assign(entry(items, 500), { outcome: 'denied' })); return items; },
    expect: [['audit.checkpoint.head-mismatch', 500], ['audit.chain.broken', 501]],
  },
  {
    name: 'entry 1 re-linked',
    build: () => { const items = copy(); rehash(Object.assign(entry(items, 1), { prevHash: 'e'.repeat(64) })); return items; },
    expect: [['audit.chain.broken', 1], ['audit.chain.broken', 2]],
  },
  {
    name: 'checkpoint 500 with a wrong signature',
    build: () => {
      const items = copy();
      const cp = items[checkpointAt(items, 500)] as Checkpoint;
      cp.signature.value = (items[checkpointAt(items, 400)] as Checkpoint).signature.value;
      return items;
    },
    expect: [['audit.checkpoint.signature', 500]],
  },
  {
    name: 'checkpoint 500 signed by an untrusted key',
    build: async () => {
      const items = copy();
      items[checkpointAt(items, 500)] = await makeCheckpoint(entry(items, 500), clockAtSeq(500), stranger.signer, stranger.publicKeyPem);
      return items;
    },
    opts: trusted,
    expect: [['audit.checkpoint.untrusted-key', 500]],
  },
  {
    name: "checkpoint 500's headHash is not entry 500's",
    build: async () => {
      const items = copy();
      items[checkpointAt(items, 500)] = await makeCheckpoint({ seq: 500, hash: entry(items, 499).hash }, clockAtSeq(500), log.ak.signer, log.ak.publicKeyPem);
      return items;
    },
    expect: [['audit.checkpoint.head-mismatch', 500]],
  },
  {
    name: 'TPM clock went backwards at checkpoint 600',
    build: async () => {
      const items = copy();
      const back = { ...clockAtSeq(600), clock: BigInt(clockAtSeq(400).clock) };
      items[checkpointAt(items, 600)] = await makeCheckpoint(entry(items, 600), back, log.ak.signer, log.ak.publicKeyPem);
      return items;
    },
    expect: [['audit.checkpoint.clock-regressed', 600]],
  },
  {
    name: 'TPM resetCount went backwards at checkpoint 600',
    build: async () => {
      const items = copy();
      items[checkpointAt(items, 600)] = await makeCheckpoint(entry(items, 600), { ...clockAtSeq(600), resetCount: 2 }, log.ak.signer, log.ak.publicKeyPem);
      return items;
    },
    expect: [['audit.checkpoint.clock-regressed', 600]],
  },
  {
    name: 'a malformed line',
    build: () => { const lines = text.split('\n'); lines.splice(entryAt(log.items, 40) + 1, 0, '{"seq": 41, oops'); return lines.join('\n'); },
    expect: [['audit.line.malformed', undefined]],
  },
  {
    name: 'tail 991–1000 cut off, last checkpoint kept',
    build: () => { const items = copy(); items.splice(entryAt(items, 991), 10); return items; },
    expect: [['audit.entry.unsigned', 901], ['audit.entry.missing', 991]],
  },
  {
    name: 'entries after the last checkpoint (a warning)',
    build: () => copy().slice(0, -1),
    expect: [['audit.entry.unsigned', 901]], ok: true, firstBadSeq: null,
  },
  {
    name: 'an entry exported twice (a warning)',
    build: () => { const items = copy(); items.splice(entryAt(items, 43), 0, entry(items, 42)); return items; },
    expect: [['audit.entry.duplicate', 42]], ok: true,
  },
  {
    name: 'a second, different entry 42',
    build: () => { const items = copy(); items.splice(entryAt(items, 43), 0, rehash({ ...entry(items, 42), action: 'key.destroy' })); return items; },
    expect: [['audit.entry.duplicate', 42]], ok: false,
  },
  {
    name: 'a secret written by a writer that bypassed sealEntry',
    build: async () => {
      const items = copy();
      const last = rehash(Object.assign(entry(items, 1000), { details: { wrappedKey: b64Key } }));
      items[checkpointAt(items, 1000)] = await makeCheckpoint(last, clockAtSeq(1000), log.ak.signer, log.ak.publicKeyPem);
      return items;
    },
    expect: [['audit.entry.secret', 1000]],
  },
  {
    name: 'several at once: all reported, first bad entry named',
    build: () => {
      const items = copy();
      entry(items, 517).requestId = 'req-forged';
      (items[checkpointAt(items, 800)] as Checkpoint).tpmClock = '1';
      items.splice(entryAt(items, 300), 1);
      return items;
    },
    expect: [['audit.entry.missing', 300], ['audit.entry.altered', 517], ['audit.checkpoint.signature', 800]],
    firstBadSeq: 300,
  },
];

for (const c of cases) {
  test(`verifyAuditLog: ${c.name}`, async () => {
    const built = await c.build();
    const report = verifyAuditLog(typeof built === 'string' ? built : toJsonLines(built), c.opts);
    assert.deepEqual(report.findings.map((f) => [f.id, f.seq]), c.expect, formatReport(report));
    assert.equal(report.ok, c.ok ?? c.expect.length === 0);
    if (c.firstBadSeq !== undefined) assert.equal(report.firstBadSeq, c.firstBadSeq);
    assert.deepEqual(JSON.parse(JSON.stringify(report)), report, 'the report is plain JSON');
  });
}

test('findings say where and what: expected and found values, line numbers', async () => {
  const items = dropEntries(copy(), 300, 302);
  entry(items, 517).resource = 'key:tenant-0/other';
  const report = verifyAuditLog(toJsonLines(items));
  const [missing, altered] = report.findings;
  assert.equal(missing!.expected, '300–302');
  assert.equal(missing!.found, 'next entry is 303');
  assert.equal(missing!.line, entryAt(items, 303) + 1);
  assert.equal(altered!.found, log.entries[516]!.hash);
  assert.equal(altered!.expected, entryHash(entry(items, 517)));
  assert.equal(altered!.line, entryAt(items, 517) + 1);
  assert.equal(formatReport(report).split('\n').at(-1), 'audit log FAILED: 2 findings; first bad entry: seq 300');
  assert.match(formatReport(report), /^CRITICAL audit\.entry\.missing \[seq 300, line \d+\]: entries 300–302 missing \(3\)/);
});

test('counts and the readable summary of a good log', () => {
  const report = verifyAuditLog(text, trusted);
  assert.deepEqual(report.counts, { lines: 1010, entries: 1000, checkpoints: 10, lastSeq: 1000, lastCheckpointedSeq: 1000, entriesAfterLastCheckpoint: 0 });
  assert.equal(report.akKeys.length, 1);
  assert.equal(report.akKeys[0]!.trusted, true);
  assert.equal(report.akKeys[0]!.checkpoints, 10);
  assert.equal(formatReport(report), 'audit log OK: 1,000 entries, 10 checkpoints, last signed at seq 1,000');
  assert.match(formatReport(verifyAuditLog(text)), /note: checkpoint keys were not pinned/);
  const unsigned = verifyAuditLog(toJsonLines(log.items.slice(0, -1)), trusted);
  assert.equal(formatReport(unsigned).split('\n').at(-1), 'audit log OK: 1,000 entries, 9 checkpoints, last signed at seq 900 (100 after it unsigned), 1 warning');
});

test('the same report from the text, from its lines, and from a byte stream in odd chunks', async () => {
  const whole = verifyAuditLog(text);
  assert.deepEqual(verifyAuditLog(text.split('\n')), whole);
  const bytes = Buffer.from(text, 'utf8');
  const chunks = Array.from({ length: Math.ceil(bytes.length / 997) }, (_, i) => bytes.subarray(i * 997, (i + 1) * 997));
  assert.deepEqual(await verifyAuditLogAsync(Readable.from(chunks)), whole);
});

test('performance: entries verified per second', async (t) => {
  const big: SampleLog = await sampleLog(20_000, 1000, log.ak);
  const bigText = toJsonLines(big.items);
  const start = process.hrtime.bigint();
  const report = verifyAuditLog(bigText, trusted);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  assert.equal(report.findings.length, 0);
  t.diagnostic(`verified ${report.counts.entries} entries and ${report.counts.checkpoints} checkpoints in ${(seconds * 1000).toFixed(0)} ms: ${Math.round(report.counts.entries / seconds).toLocaleString('en-US')} entries/s`);
});
