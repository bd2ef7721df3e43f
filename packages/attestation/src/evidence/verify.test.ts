// verifyEvidence on real evidence from the in-process TPM (evidence.fixture.ts): a good bundle
// gives no finding at all, and each way of breaking it gives its own finding — the table pins
// the exact set of findings of each case, so a change that adds or loses one is seen.

import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { ManufacturerCa, TPM_RH, commands, password } from '@sealkeep/tpm';
import { evidenceFixture, type EvidenceFixture } from './evidence.fixture.js';
import type { EvidenceBundle } from './bundle.js';
import type { FindingId } from './findings.js';
import { verifyEvidence, type VerifyEvidenceOptions } from './verify.js';

const NONCE = Buffer.from('5eed5eed5eed5eed0123456789abcdef', 'hex');
const clone = <T>(v: T): T => structuredClone(v);
const b64 = (s: string) => Buffer.from(s, 'base64');

/** Reference values for the fixture's good launch: every quoted sha256 PCR as it is. */
function policyOf(bundle: EvidenceBundle) {
  return { version: 1, pcrs: { sha256: { ...bundle.pcrs.sha256! } } };
}

interface Case {
  name: string;
  /** The bundle and options to verify, made from the good ones. */
  make(good: EvidenceBundle, fx: EvidenceFixture): Promise<[EvidenceBundle, Partial<VerifyEvidenceOptions>]> | [EvidenceBundle, Partial<VerifyEvidenceOptions>];
  /** The case's own finding. */
  id: FindingId;
  /** Every finding id it gives, sorted. */
  ids: FindingId[];
}

const CASES: Case[] = [
  {
    name: 'tampered quote signature',
    make(good) {
      const b = clone(good);
      const sig = b64(b.quote.signature);
      sig[sig.length - 1]! ^= 0x01;
      b.quote.signature = sig.toString('base64');
      return [b, {}];
    },
    id: 'quote-signature-invalid',
    ids: ['quote-signature-invalid'],
  },
  {
    name: 'wrong nonce',
    make: (good) => [good, { nonce: Buffer.from('another challenge') }],
    id: 'quote-nonce-mismatch',
    ids: ['quote-nonce-mismatch'],
  },
  {
    name: 'PCR values that are not the quoted ones',
    make(good) {
      const b = clone(good);
      b.pcrs.sha1!['0'] = 'ab'.repeat(20);
      return [b, {}];
    },
    id: 'quote-pcr-digest-mismatch',
    ids: ['event-log-pcr-mismatch', 'quote-pcr-digest-mismatch'],
  },
  {
    name: 'an event log that does not replay',
    make(good) {
      const b = clone(good);
      const ipl = (b.eventLogs!.drtm as Array<{ pcr: number; digests: Array<{ hashAlg: string; digest: string }> }>).find((r) => r.pcr === 19)!;
      ipl.digests.find((d) => d.hashAlg === 'sha256')!.digest = '00'.repeat(32);
      return [b, {}];
    },
    id: 'event-log-pcr-mismatch',
    ids: ['event-log-pcr-mismatch'],
  },
  {
    name: 'a reordered event',
    make(good) {
      const b = clone(good);
      const log = b.eventLogs!.drtm as Array<{ pcr: number }>;
      const [i, j] = log.flatMap((r, k) => (r.pcr === 19 ? [k] : []));
      [log[i!], log[j!]] = [log[j!]!, log[i!]!];
      return [b, {}];
    },
    id: 'event-log-reordered',
    ids: ['event-log-pcr-mismatch', 'event-log-pcr-mismatch', 'event-log-reordered'],
  },
  {
    name: 'an EK certificate chaining to another root',
    async make(good) {
      const other = await ManufacturerCa.create(); // same subject name, another key
      const cert = other.issueEkCertificate({
        ekPublicKey: new X509Certificate(b64(good.ek!.certificate)).publicKey,
        tpm: { manufacturer: 'id:534B4550', model: 'Sealkeep', version: 'id:00010000' },
        specification: { family: '2.0', level: 0, revision: 159 },
      });
      return [{ ...good, ek: { certificate: cert.der.toString('base64') } }, {}];
    },
    id: 'certificate-untrusted-root',
    ids: ['certificate-untrusted-root'],
  },
  {
    name: 'an expired AK certificate',
    make(good, fx) {
      const day = 86_400_000;
      const cert = fx.issueAkCertificate({ notBefore: new Date(Date.now() - 30 * day), notAfter: new Date(Date.now() - day) });
      return [{ ...good, ak: { ...good.ak, certificate: cert.toString('base64') } }, {}];
    },
    id: 'certificate-expired',
    ids: ['certificate-expired'],
  },
  {
    name: 'a clock that went backwards',
    async make(good, fx) {
      const { currentTime } = await fx.client.call(commands.ReadClock, {}, {});
      await fx.client.call(commands.ClockSet, { auth: TPM_RH.OWNER }, { newTime: currentTime.clockInfo.clock + 3_600_000n }, { auth: [password()] });
      const later = await fx.bundle(Buffer.from('later'));
      return [good, { previousQuote: later }];
    },
    id: 'quote-clock-regressed',
    ids: ['quote-clock-regressed'],
  },
];

describe('verifyEvidence', () => {
  let fx: EvidenceFixture;
  let good: EvidenceBundle;
  let base: VerifyEvidenceOptions;
  before(async () => {
    fx = await evidenceFixture();
    good = await fx.bundle(NONCE);
    base = { trustedRoots: fx.trustedRoots, nonce: NONCE, policy: policyOf(good) };
  });

  test('a good bundle gives no finding', async () => {
    const r = await verifyEvidence(good, base);
    assert.deepEqual(r.findings, []);
    assert.equal(r.ok, true);
    assert.deepEqual(r.summary.quote?.pcrs, { sha256: [0, 1, 2, 3, 4, 5, 6, 7, 17, 18, 19, 20, 21, 22], sha1: [0, 1, 2, 3, 4, 5, 6, 7, 17, 18, 19, 20, 21, 22] });
    assert.equal(r.summary.certificatePaths, 2);
    assert.equal(r.summary.eventsRead, good.eventLogs!.static!.length + good.eventLogs!.drtm!.length);
  });

  test('the same bundle as JSON text, and without reference values', async () => {
    const r = await verifyEvidence(JSON.stringify(good), { ...base, policy: undefined });
    assert.deepEqual(r.findings.map((f) => f.id), ['policy-not-given']);
    assert.equal(r.ok, true);
  });

  for (const c of CASES) {
    test(`${c.name}: ${c.id}`, async () => {
      const [bundle, opts] = await c.make(good, fx);
      const r = await verifyEvidence(bundle, { ...base, ...opts });
      assert.equal(r.ok, false);
      assert.deepEqual(r.findings.map((f) => f.id).sort(), c.ids, JSON.stringify(r.findings, null, 2));
    });
  }

  test("each case's own finding is distinct", () => {
    assert.equal(new Set(CASES.map((c) => c.id)).size, CASES.length);
  });
});
