// The CEL-JSON log: numbering, serialise/parse round trip, strict shape checks with messages that
// name the record and field, and replay from the PC Client initial values (zeros, all-FF for
// 17–22 until EVTYPE_HASH_START, StartupLocality) — every expected value computed here.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { CelError, CelLog, EVENT_TYPES, eventTypeCode, eventTypeName, replay, type CelHashAlg } from './cel.js';

const H = (alg: string, ...parts: Buffer[]) => parts.reduce((h, p) => h.update(p), createHash(alg)).digest();
const both = (data: Buffer): Array<[CelHashAlg, Buffer]> => [
  ['sha1', H('sha1', data)],
  ['sha256', H('sha256', data)],
];

function sampleLog(): CelLog {
  const log = new CelLog();
  log.appendEvent(17, 'EVTYPE_HASH_START', Buffer.alloc(0), both(Buffer.from('sinit')));
  log.appendEvent(18, 'EVTYPE_MLE_HASH', Buffer.alloc(0), both(Buffer.from('mle')));
  log.appendEvent(19, 'EV_IPL', Buffer.from('a'), both(Buffer.from('module a')));
  log.appendEvent(19, 'EV_IPL', Buffer.from('b'), both(Buffer.from('module b')));
  return log;
}

test('records are numbered per PCR and serialise to CEL-JSON that parses back the same', () => {
  const log = sampleLog();
  assert.deepEqual(log.records.map((r) => [r.pcr, r.recnum]), [[17, 0], [18, 0], [19, 0], [19, 1]]);
  const text = log.serialize();
  const json = JSON.parse(text);
  assert.deepEqual(json[0], {
    recnum: 0,
    pcr: 17,
    digests: [
      { hashAlg: 'sha1', digest: H('sha1', Buffer.from('sinit')).toString('hex') },
      { hashAlg: 'sha256', digest: H('sha256', Buffer.from('sinit')).toString('hex') },
    ],
    content_type: 'pcclient_std',
    content: { event_type: 'EVTYPE_HASH_START', event_data: '' },
  });
  assert.deepEqual(CelLog.parse(text).records, log.records);
  assert.deepEqual(JSON.parse(JSON.stringify(log)), json);
});

test('event types: Intel TXT EVTYPE_* and PC Client names map to their codes, both ways', () => {
  assert.equal(EVENT_TYPES.EVTYPE_HASH_START, 0x402);
  assert.equal(EVENT_TYPES.EVTYPE_MLE_HASH, 0x404);
  assert.equal(EVENT_TYPES.EVTYPE_CAP_VALUE, 0x4ff);
  assert.equal(eventTypeCode('EV_IPL'), 0xd);
  assert.equal(eventTypeCode(0x1234), 0x1234);
  assert.equal(eventTypeCode('EV_MADE_UP'), undefined);
  assert.equal(eventTypeName(0x404), 'EVTYPE_MLE_HASH');
  assert.equal(eventTypeName(0x1234), 0x1234);
});

test('a numeric event_type and the other content types parse', () => {
  const log = CelLog.parse(
    JSON.stringify([
      { recnum: 0, pcr: 0, digests: [], content_type: 'cel', content: { type: 'cel_version', data: { major: 1, minor: 0 } } },
      { recnum: 1, pcr: 0, digests: [{ hashAlg: 'sha256', digest: '00'.repeat(32) }], content_type: 'pcclient_std', content: { event_type: 1, event_data: 'AAE=' } },
      { recnum: 0, pcr: 10, digests: [{ hashAlg: 'sha1', digest: '11'.repeat(20) }], content_type: 'ima_template', content: { template_name: 'ima-ng', template_data: '' } },
    ]),
  );
  assert.equal(log.length, 3);
});

const record = (over: Record<string, unknown>) => ({
  recnum: 0,
  pcr: 17,
  digests: [{ hashAlg: 'sha256', digest: 'ab'.repeat(32) }],
  content_type: 'pcclient_std',
  content: { event_type: 'EVTYPE_MLE_HASH', event_data: '' },
  ...over,
});

const BAD: Array<[string, string, RegExp]> = [
  ['not JSON', '{"recnum": 0,', /not a CEL-JSON log: .*JSON/],
  ['not an array', '{}', /expected an array of records/],
  ['record not an object', '[3]', /record 0 must be an object/],
  ['negative recnum', JSON.stringify([record({ recnum: -1 })]), /record 0: recnum must be/],
  ['PCR 24', JSON.stringify([record({ pcr: 24 })]), /record 0: pcr must be an integer 0–23/],
  ['NV index record', JSON.stringify([record({ nv_index: 0x1500000 })]), /NV index records are not supported/],
  ['unknown content type', JSON.stringify([record({ content_type: 'xml' })]), /content_type must be one of/],
  ['digests missing', JSON.stringify([record({ digests: undefined })]), /record 0: digests must be an array/],
  ['unknown hashAlg', JSON.stringify([record({ digests: [{ hashAlg: 'md5', digest: '00'.repeat(16) }] })]), /digests\[0\]: hashAlg must be one of/],
  ['short digest', JSON.stringify([record({ digests: [{ hashAlg: 'sha256', digest: 'ab'.repeat(31) }] })]), /digests\[0\]: digest must be 32 bytes/],
  ['upper-case hex', JSON.stringify([record({ digests: [{ hashAlg: 'sha1', digest: 'AB'.repeat(20) }] })]), /digest must be 20 bytes of lower-case hex/],
  ['two sha256 digests', JSON.stringify([record({ digests: [{ hashAlg: 'sha256', digest: 'ab'.repeat(32) }, { hashAlg: 'sha256', digest: 'cd'.repeat(32) }] })]), /a second sha256 digest/],
  ['content missing', JSON.stringify([record({ content: undefined })]), /content must be an object/],
  ['unknown event type name', JSON.stringify([record({ content: { event_type: 'EV_NOPE', event_data: '' } })]), /known event type name/],
  ['event type past UINT32', JSON.stringify([record({ content: { event_type: 2 ** 32, event_data: '' } })]), /event_type must be a UINT32/],
  ['event data not base64', JSON.stringify([record({ content: { event_type: 4, event_data: 'not base64!' } })]), /event_data must be base64/],
  ['cel content type', JSON.stringify([record({ content_type: 'cel', content: { type: 'reboot' } })]), /cel content type must be one of/],
  ['recnum gap', JSON.stringify([record({}), record({ recnum: 2 })]), /record 1: recnum 2 out of sequence for PCR 17 \(expected 1\)/],
  ['recnum not from 0', JSON.stringify([record({ recnum: 1 })]), /record 0: recnum 1 out of sequence/],
];

for (const [name, text, message] of BAD) {
  test(`parse refuses ${name} with a clear error`, () => {
    assert.throws(() => CelLog.parse(text), (e: unknown) => e instanceof CelError && message.test(e.message));
  });
}

test('replay: 17–22 start all-FF and EVTYPE_HASH_START resets them to zero before extending 17', () => {
  for (const bank of ['sha1', 'sha256'] as const) {
    const size = bank === 'sha1' ? 20 : 32;
    const pcrs = replay(sampleLog(), bank);
    assert.deepEqual([...pcrs.keys()], [17, 18, 19, 20, 21, 22]);
    assert.deepEqual(pcrs.get(17), H(bank, Buffer.alloc(size), H(bank, Buffer.from('sinit'))));
    assert.deepEqual(pcrs.get(18), H(bank, Buffer.alloc(size), H(bank, Buffer.from('mle'))));
    const a = H(bank, Buffer.alloc(size), H(bank, Buffer.from('module a')));
    assert.deepEqual(pcrs.get(19), H(bank, a, H(bank, Buffer.from('module b'))));
    assert.deepEqual(pcrs.get(20), Buffer.alloc(size));

    // Without the launch record, 18 extends from all-FF.
    const noLaunch = CelLog.fromRecords(JSON.parse(sampleLog().serialize()).slice(1));
    assert.deepEqual(replay(noLaunch, bank).get(18), H(bank, Buffer.alloc(size, 0xff), H(bank, Buffer.from('mle'))));
  }
});

test('replay: static PCRs start at zero, EV_NO_ACTION is not extended, StartupLocality sets PCR 0', () => {
  const log = new CelLog();
  log.appendEvent(0, 'EV_NO_ACTION', Buffer.concat([Buffer.from('StartupLocality\0', 'latin1'), Buffer.from([3])]), [['sha256', Buffer.alloc(32)]]);
  log.appendEvent(0, 'EV_S_CRTM_VERSION', Buffer.from('v1'), [['sha256', H('sha256', Buffer.from('v1'))]]);
  log.appendEvent(7, 'EV_SEPARATOR', Buffer.alloc(4), [['sha256', H('sha256', Buffer.alloc(4))]]);
  log.append({ pcr: 7, digests: [], content_type: 'cel', content: { type: 'firmware_end' } });
  const pcrs = replay(log, 'sha256');
  const locality3 = Buffer.alloc(32);
  locality3[31] = 3;
  assert.deepEqual(pcrs.get(0), H('sha256', locality3, H('sha256', Buffer.from('v1'))));
  assert.deepEqual(pcrs.get(7), H('sha256', Buffer.alloc(32), H('sha256', Buffer.alloc(4))));
});

test('replay refuses a record without a digest in the bank asked for', () => {
  assert.throws(() => replay(sampleLog(), 'sha384'), /record 0 \(PCR 17, recnum 0\) has no sha384 digest/);
});

test('replay of parsed records validates them first', () => {
  const records = JSON.parse(sampleLog().serialize());
  records[1].recnum = 5;
  assert.throws(() => replay(records, 'sha256'), /recnum 5 out of sequence/);
});
