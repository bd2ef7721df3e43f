// Reference-value policies against a real launch: PCR values (one, or a list of allowed ones),
// events that must be in the logs with a given digest, malformed policies, and the bundle's own
// reference values (used, with a warning) when the reviewer gives none.

import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { evidenceFixture, MLE } from './evidence.fixture.js';
import type { EvidenceBundle } from './bundle.js';
import type { FindingId } from './findings.js';
import { verifyEvidence } from './verify.js';

const NONCE = Buffer.from('c0ffee', 'hex');
const sha256 = (s: string | Buffer) => createHash('sha256').update(s).digest('hex');
const OTHER = 'ee'.repeat(32);

describe('reference-value policies', () => {
  let good: EvidenceBundle;
  let trustedRoots: string[];
  before(async () => {
    const fx = await evidenceFixture({ modules: 2 });
    good = await fx.bundle(NONCE);
    trustedRoots = fx.trustedRoots;
  });
  const pcr = (bank: 'sha1' | 'sha256', i: number) => good.pcrs[bank]![String(i)]!;
  const ids = async (policy: unknown, bundle: EvidenceBundle = good) =>
    (await verifyEvidence(bundle, { trustedRoots, nonce: NONCE, ...(policy !== undefined && { policy }) })).findings.map((f) => f.id).sort();

  const ROWS: Array<[string, () => unknown, FindingId[]]> = [
    ['the launch PCRs as they are', () => ({ version: 1, pcrs: { sha256: { 17: pcr('sha256', 17), 18: pcr('sha256', 18) }, sha1: { 18: pcr('sha1', 18) } } }), []],
    ['an allow-list holding the value', () => ({ pcrs: { sha256: { 18: [OTHER, pcr('sha256', 18)] } } }), []],
    ['a PCR with another value', () => ({ pcrs: { sha256: { 17: pcr('sha256', 17), 18: OTHER } } }), ['policy-pcr-mismatch']],
    ['an allow-list without it', () => ({ pcrs: { sha256: { 18: [OTHER, 'dd'.repeat(32)] } } }), ['policy-pcr-mismatch']],
    ['a PCR the quote does not cover', () => ({ pcrs: { sha256: { 10: OTHER } } }), ['policy-pcr-not-quoted']],
    ['the MLE event with its digest', () => ({ events: [{ pcr: 18, type: 'EVTYPE_MLE_HASH', digest: sha256(MLE) }] }), []],
    ['a module by name and digest', () => ({ events: [{ pcr: 19, type: 'EV_IPL', name: 'module-1', digest: sha256('module 1 image') }] }), []],
    ['a module with another digest', () => ({ events: [{ pcr: 19, type: 'EV_IPL', name: 'module-1', digest: OTHER }] }), ['policy-event-digest-mismatch']],
    ['a module that was not loaded', () => ({ events: [{ pcr: 19, type: 'EV_IPL', name: 'module-9', digest: OTHER }] }), ['policy-event-missing']],
    ['an event type by number, in sha1', () => ({ events: [{ pcr: 18, type: 0x404, bank: 'sha1', digest: createHash('sha1').update(MLE).digest('hex') }] }), []],
    ['not an object', () => 'pcr 18 = good', ['policy-malformed']],
    ['a value of the wrong size', () => ({ pcrs: { sha256: { 18: 'abcd' } } }), ['policy-malformed']],
    ['an unknown event type, and an unknown field', () => ({ events: [{ pcr: 18, type: 'EV_MAGIC', digest: OTHER }], allowAll: true }), ['policy-malformed', 'policy-malformed']],
  ];

  for (const [name, policy, expected] of ROWS) {
    test(name, async () => assert.deepEqual(await ids(policy()), expected));
  }

  test("the bundle's own reference values are used with a warning when the reviewer gives none", async () => {
    const b = { ...good, referenceValues: { pcrs: { sha256: { 18: OTHER } } } };
    assert.deepEqual(await ids(undefined, b), ['policy-from-bundle', 'policy-pcr-mismatch']);
    assert.deepEqual(await ids({}, b), [], "the reviewer's policy wins");
  });

  test('a mismatch says what was expected and found', async () => {
    const r = await verifyEvidence(good, { trustedRoots, nonce: NONCE, policy: { pcrs: { sha256: { 18: [OTHER] } } } });
    assert.deepEqual(r.findings, [
      { id: 'policy-pcr-mismatch', severity: 'error', message: 'sha256 PCR 18 is not a reference value', expected: OTHER, found: pcr('sha256', 18) },
    ]);
  });
});
