// Entries: the canonical form pinned by a known answer (hand-written canonical text → SHA-256 of
// that literal), the canonicalisation rules table by table, chaining, shape checks, and the
// secret filter (key material never enters the log).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { CanonicalError, canonicalize } from './canonical.js';
import { AuditEntryError, GENESIS_HASH, entryHash, sealEntry, type AuditEntryFields } from './entry.js';

const fields: AuditEntryFields = {
  time: '2025-01-31T12:00:00.000Z',
  tenantId: 'acme',
  plane: 'tenant',
  principal: 'tn:acme/alice',
  actorChain: ['tn:bob', 'cms:vcloud-svc', 'hv:vpxuser@host-07'],
  action: 'key.import',
  resource: 'key:acme/db-master',
  outcome: 'success',
  requestId: 'req-0001',
  details: {
    wrappedKeyDigest: '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08',
    bits: 256,
    exportable: false,
    note: null,
    label: 'db "master"\n\u00e9',
  },
};

// Written by hand from the rules in canonical.ts: keys sorted, no whitespace, JSON escapes.
const KNOWN_CANONICAL =
  '{"action":"key.import","actorChain":["tn:bob","cms:vcloud-svc","hv:vpxuser@host-07"],' +
  '"details":{"bits":256,"exportable":false,"label":"db \\"master\\"\\n\u00e9","note":null,' +
  '"wrappedKeyDigest":"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"},' +
  '"outcome":"success","plane":"tenant",' +
  '"prevHash":"0000000000000000000000000000000000000000000000000000000000000000",' +
  '"principal":"tn:acme/alice","requestId":"req-0001","resource":"key:acme/db-master","seq":1,' +
  '"tenantId":"acme","time":"2025-01-31T12:00:00.000Z"}';
const KNOWN_HASH = '690685a662d75ce33e25d2a25d328fefd91fad9330789bb75b0d8e09d03ea8e8';

test('known answer: a fixed entry has exactly this canonical form and SHA-256', () => {
  const e = sealEntry(fields, null);
  const { hash, ...unsealed } = e;
  assert.equal(canonicalize(unsealed), KNOWN_CANONICAL);
  const overLiteral = createHash('sha256').update(Buffer.from(KNOWN_CANONICAL, 'utf8')).digest('hex');
  assert.equal(hash, overLiteral);
  assert.equal(entryHash(e), overLiteral);
  assert.equal(overLiteral, KNOWN_HASH);
});

test('canonicalize: key order, nesting, escapes and numbers', () => {
  const cases: Array<[string, unknown, string]> = [
    ['keys sorted recursively, arrays kept in order', { b: 1, a: { d: [3, { z: 1, y: 2 }], c: null } }, '{"a":{"c":null,"d":[3,{"y":2,"z":1}]},"b":1}'],
    ['UTF-16 code-unit order (RFC 8785)', { b: 1, a: 1, B: 1, 'é': 1, '😀': 1, '\uffff': 1 }, '{"B":1,"a":1,"b":1,"é":1,"😀":1,"\uffff":1}'],
    ['control characters escaped, the rest literal', 'a"\\\b\f\n\r\t\u0001\u2028é/', '"a\\"\\\\\\b\\f\\n\\r\\t\\u0001\u2028é/"'],
    ['undefined members left out', { a: undefined, b: false }, '{"b":false}'],
    ['numbers in shortest round-trip form', [0, -0, 1.5, 1e21, 1e-7, 9007199254740991], '[0,0,1.5,1e+21,1e-7,9007199254740991]'],
    ['empty containers', { a: [], b: {} }, '{"a":[],"b":{}}'],
    ['null-prototype objects are plain', Object.assign(Object.create(null), { x: 1 }), '{"x":1}'],
  ];
  for (const [name, value, expected] of cases) assert.equal(canonicalize(value), expected, name);
});

test('canonicalize refuses what has no single JSON form', () => {
  const cases: Array<[string, unknown]> = [
    ['NaN', NaN],
    ['Infinity', { a: Infinity }],
    ['bigint', { a: 1n }],
    ['Buffer', { a: Buffer.from('x') }],
    ['Uint8Array', [new Uint8Array(2)]],
    ['Date', { a: new Date(0) }],
    ['function', { a: () => 1 }],
    ['undefined in an array', [1, undefined]],
    ['lone surrogate', { a: 'x\ud800y' }],
  ];
  for (const [name, value] of cases) assert.throws(() => canonicalize(value), CanonicalError, name);
});

test('sealEntry chains: seq 1 starts at 64 zeros, each next entry holds the previous hash', () => {
  const first = sealEntry(fields, null);
  const second = sealEntry({ ...fields, requestId: 'req-0002' }, first);
  const third = sealEntry({ ...fields, requestId: 'req-0003' }, second);
  assert.deepEqual([first.seq, second.seq, third.seq], [1, 2, 3]);
  assert.equal(first.prevHash, GENESIS_HASH);
  assert.equal(second.prevHash, first.hash);
  assert.equal(third.prevHash, second.hash);
  assert.ok(Object.isFrozen(third));
  assert.equal(entryHash(third), third.hash);
  const { time: _t, ...noTime } = fields;
  assert.match(sealEntry(noTime, null).time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.equal(sealEntry({ ...fields, details: undefined }, null).details, undefined);
});

test('sealEntry refuses malformed fields, naming the field', () => {
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ['plane', { plane: 'root' }, /plane: must be tenant\|data\|admin\|compliance/],
    ['outcome', { outcome: 'ok' }, /outcome/],
    ['time with an offset', { time: '2025-01-31T12:00:00+01:00' }, /time: must be an ISO-8601 UTC time/],
    ['time not a date', { time: '2025-13-45T99:00:00Z' }, /time/],
    ['empty actor chain', { actorChain: [] }, /actorChain: must be a non-empty array/],
    ['actor not a string', { actorChain: ['tn:bob', 7] }, /actorChain\[1\]/],
    ['empty principal', { principal: '' }, /principal/],
    ['tenantId undefined', { tenantId: undefined }, /tenantId/],
    ['nested details', { details: { a: { b: 1 } } }, /details\.a: must be a string, finite number/],
    ['details key with spaces', { details: { 'the key': 1 } }, /details key/],
    ['non-finite number', { details: { n: Infinity } }, /details\.n/],
    ['chain fields are not the caller\'s', { seq: 5 }, /seq: not an audit entry field/],
    ['unknown field', { extra: 1 }, /extra: not an audit entry field/],
  ];
  for (const [name, change, message] of cases) {
    assert.throws(() => sealEntry({ ...fields, ...change } as AuditEntryFields, null), (e: Error) => e instanceof AuditEntryError && message.test(e.message), name);
  }
  assert.throws(() => sealEntry(fields, { seq: 0, hash: GENESIS_HASH }), AuditEntryError, 'prev seq 0');
  assert.throws(() => sealEntry(fields, { seq: 3, hash: 'XYZ' }), AuditEntryError, 'prev hash not hex');
});

test('secrets never enter the log: key-material-shaped details are refused unless named as digests', () => {
  const b64 = randomBytes(32).toString('base64'); // 44 characters
  const cases: Array<[string, Record<string, unknown>, boolean]> = [
    ['32-byte base64 under a plain name', { wrappedKey: b64 }, false],
    ['32-byte base64url', { token: randomBytes(32).toString('base64url') }, false],
    ['64 hex digits (a raw AES-256 key)', { kek: randomBytes(32).toString('hex') }, false],
    ['a Buffer', { key: randomBytes(32) }, false],
    ['a Buffer, even under a digest name', { keyDigest: randomBytes(32) }, false],
    ['a Uint8Array', { key: new Uint8Array(16) }, false],
    ['a string over 512 characters', { note: 'x '.repeat(257) }, false],
    ['a string over 512 characters under a digest name', { blobHash: 'a'.repeat(513) }, false],
    ['base64 under *Digest', { keyDigest: b64 }, true],
    ['hex under *Fingerprint', { akFingerprint: randomBytes(32).toString('hex') }, true],
    ['hex under *Hash', { blobHash: randomBytes(32).toString('hex') }, true],
    ['42 base64 characters (under the threshold)', { ref: b64.slice(0, 42) }, true],
    ['a long sentence', { reason: 'the policy names VM vm-0042 but the quote came from host-07 with stale PCRs' }, true],
    ['a 512-character string with spaces', { note: 'ab '.repeat(170) + 'ab' }, true],
  ];
  for (const [name, details, allowed] of cases) {
    const attempt = () => sealEntry({ ...fields, details: details as AuditEntryFields['details'] }, null);
    if (allowed) assert.doesNotThrow(attempt, name);
    else assert.throws(attempt, AuditEntryError, name);
  }
});
