// The bundle's shape: malformed input becomes findings naming the field, never an exception —
// a table of broken bundles, then random damage to a real one (fields removed or retyped, bytes
// of the signed and certified fields flipped or cut) that must never throw and never pass.

import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { evidenceFixture, type EvidenceFixture } from './evidence.fixture.js';
import type { EvidenceBundle } from './bundle.js';
import { FINDINGS, type FindingId } from './findings.js';
import { verifyEvidence } from './verify.js';

const NONCE = Buffer.from('feedfacecafebeef', 'hex');
type Json = Record<string, unknown>;

describe('malformed bundles', () => {
  let fx: EvidenceFixture;
  let good: EvidenceBundle;
  before(async () => {
    fx = await evidenceFixture();
    good = await fx.bundle(NONCE);
  });
  const verify = (b: unknown) => verifyEvidence(b, { trustedRoots: fx.trustedRoots, nonce: NONCE, policy: {} });
  const edit = (fn: (b: Json) => void) => {
    const b = structuredClone(good) as unknown as Json;
    fn(b);
    return b;
  };

  const TABLE: Array<[string, () => unknown, FindingId, RegExp]> = [
    ['not JSON', () => '{"format": "sealkeep-evidence",', 'bundle-malformed', /not JSON/],
    ['an array', () => [good], 'bundle-malformed', /JSON object/],
    ['null', () => null, 'bundle-malformed', /JSON object/],
    ['another version', () => edit((b) => (b.version = 2)), 'bundle-version-unsupported', /version 1/],
    ['another format', () => edit((b) => (b.format = 'tpm-quote')), 'bundle-malformed', /^format/],
    ['no quote', () => edit((b) => delete b.quote), 'bundle-malformed', /^quote:/],
    ['attest not base64', () => edit((b) => ((b.quote as Json).attest = 'not*base64')), 'bundle-malformed', /^quote\.attest/],
    ['a PCR value of the wrong size', () => edit((b) => ((b.pcrs as Json).sha256 = { ...(b.pcrs as Json).sha256 as Json, '7': 'abcd' })), 'bundle-malformed', /^pcrs\.sha256\.7: must be 32 bytes/],
    ['a PCR index out of range', () => edit((b) => ((b.pcrs as Json).sha256 = { '24': '00'.repeat(32) })), 'bundle-malformed', /PCR index/],
    ['an unknown bank', () => edit((b) => ((b.pcrs as Json).md5 = {})), 'bundle-malformed', /^pcrs\.md5/],
    ['an event log that is not an array', () => edit((b) => ((b.eventLogs as Json).drtm = '[]')), 'bundle-malformed', /^eventLogs\.drtm/],
    ['an AK public key that is neither', () => edit((b) => ((b.ak as Json).public = 'AAAA')), 'ak-public-malformed', /TPM2B_PUBLIC/],
    ['an unknown parent', () => edit((b) => ((b.ak as Json).parent = 'storage')), 'bundle-malformed', /^ak\.parent/],
    ['a certificate that is not one', () => edit((b) => ((b.ak as Json).certificate = Buffer.from('hello').toString('base64'))), 'certificate-malformed', /ak certificate/],
    ['an unknown field', () => edit((b) => (b.signedBy = 'the cloud admin')), 'bundle-field-unknown', /^signedBy/],
    ['no EK certificate', () => edit((b) => delete b.ek), 'ek-certificate-missing', /EK certificate/],
  ];

  for (const [name, make, id, message] of TABLE) {
    test(`${name}: ${id}`, async () => {
      const r = await verify(make());
      const f = r.findings.find((x) => x.id === id);
      assert.ok(f, `no ${id} in ${JSON.stringify(r.findings, null, 2)}`);
      assert.match(f.message, message);
      assert.equal(r.ok, FINDINGS[id] !== 'error' && r.findings.every((x) => x.severity !== 'error'));
    });
  }

  test('random damage never throws, and damage to signed or certified bytes never passes', async () => {
    const binary: Array<(b: Json) => Json> = [(b) => b.quote as Json, (b) => b.ak as Json, (b) => b.ek as Json];
    const keys: Array<[number, string]> = [[0, 'attest'], [0, 'signature'], [1, 'public'], [1, 'certificate'], [2, 'certificate']];
    for (let i = 0; i < 150; i++) {
      const [holder, key] = keys[randomInt(keys.length)]!;
      const b = edit((x) => {
        const h = binary[holder]!(x);
        const bytes = Buffer.from(h[key] as string, 'base64');
        if (randomInt(4) === 0) h[key] = bytes.subarray(0, randomInt(bytes.length)).toString('base64');
        else {
          const at = randomInt(bytes.length);
          bytes[at]! ^= 1 << randomInt(8);
          h[key] = bytes.toString('base64');
        }
      });
      const r = await verify(b);
      assert.equal(r.ok, false, `damaged ${key} passed: ${JSON.stringify(r.findings)}`);
      for (const f of r.findings) assert.equal(FINDINGS[f.id], f.severity);
    }
    const shapes: unknown[] = [1, 'x', [], {}, null, true, { a: 1 }, [1, 2], -1];
    const paths = ['subject', 'quote', 'pcrs', 'eventLogs', 'ak', 'ek', 'referenceValues', 'pcrs.sha256', 'ak.chain', 'eventLogs.static', 'quote.signature'];
    for (const p of paths) {
      for (const v of shapes) {
        const b = edit((x) => {
          const parts = p.split('.');
          const holder = parts.length === 2 ? (x[parts[0]!] as Json) : x;
          holder[parts.at(-1)!] = v;
        });
        await verify(b); // must not throw
      }
    }
  });
});
