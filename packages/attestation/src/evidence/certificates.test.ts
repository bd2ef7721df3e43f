// Certificate paths and the TCG profiles: PKI.js paths built from chains the test issues itself
// (an issuer that is no CA, a path longer than a pathLenConstraint allows, the root carried in
// the bundle, validity at a given time), and on the real bundle a tampered EK certificate, a
// missing intermediate, an AK certificate passed off as an EK certificate, a bad trusted root.

import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, type KeyObject } from 'node:crypto';
import { asn1 } from '@sealkeep/tpm';
import { caExtensions, cn, issueCertificate, type CertSpec } from './ak-ca.fixture.js';
import type { EvidenceBundle } from './bundle.js';
import { parseCertificate, validatePath, type ParsedCert } from './certificates.js';
import { evidenceFixture, type EvidenceFixture } from './evidence.fixture.js';
import { FindingCollector, type FindingId } from './findings.js';
import { verifyEvidence } from './verify.js';
import { newKeyPair } from '@sealkeep/crypto';

const NONCE = Buffer.from('0ddba11', 'hex').subarray(0, 3);
const DAY = 86_400_000;

/** A CA or leaf key and the issuer record certificates it signs carry. */
function party(name: string): { key: KeyObject; issuer: CertSpec['issuer'] } {
  const key = newKeyPair('ec', { namedCurve: 'P-256' }).privateKey;
  const keyId = asn1.keyIdentifier(createPublicKey(key).export({ type: 'spki', format: 'der' }));
  return { key, issuer: { subject: cn(name), keyId, key } };
}

function cert(label: string, subject: ReturnType<typeof party>, issuer: ReturnType<typeof party>, extensions: Buffer[], validity = { notBefore: new Date(Date.now() - DAY), notAfter: new Date(Date.now() + DAY) }): ParsedCert {
  const { der } = issueCertificate({ subject: subject.issuer.subject, issuer: issuer.issuer, publicKey: createPublicKey(subject.key), ...validity, extensions });
  return parseCertificate(label, der, new FindingCollector())!;
}

const leafExtensions = () => [asn1.basicConstraints({ cA: false }), asn1.keyUsage(asn1.KEY_USAGE.digitalSignature)];

describe('certificate paths', () => {
  const [root, ca1, ca2, leaf] = [party('Root'), party('CA 1'), party('CA 2'), party('Leaf')];
  const rootCert = cert('root', root, root, caExtensions());

  async function path(leafCert: ParsedCert, chain: ParsedCert[], at = new Date()): Promise<[string[] | null, FindingId[]]> {
    const f = new FindingCollector();
    const p = validatePath(leafCert, chain, [rootCert], at, f);
    return [p?.map((c) => c.label) ?? null, f.findings.map((x) => x.id)];
  }

  test('leaf → CA → root, with or without the root in the chain', async () => {
    const c1 = cert('ca1', ca1, root, caExtensions(0));
    const l = cert('leaf', leaf, ca1, leafExtensions());
    assert.deepEqual(await path(l, [c1]), [['leaf', 'ca1', 'root'], []]);
    assert.deepEqual(await path(l, [rootCert, c1]), [['leaf', 'ca1', 'root'], []]);
    assert.deepEqual(await path(l, []), [null, ['certificate-untrusted-root']]);
  });

  test('an issuer that is not a CA', async () => {
    const notCa = cert('not-ca', ca1, root, leafExtensions());
    assert.deepEqual(await path(cert('leaf', leaf, ca1, leafExtensions()), [notCa]), [['leaf', 'not-ca', 'root'], ['certificate-issuer-not-ca']]);
  });

  test('a path longer than pathLenConstraint allows', async () => {
    const c1 = cert('ca1', ca1, root, caExtensions(0));
    const c2 = cert('ca2', ca2, ca1, caExtensions());
    assert.deepEqual(await path(cert('leaf', leaf, ca2, leafExtensions()), [c2, c1]), [['leaf', 'ca2', 'ca1', 'root'], ['certificate-path-length-exceeded']]);
  });

  test('validity at the verification time, for every certificate on the path', async () => {
    const c1 = cert('ca1', ca1, root, caExtensions(0), { notBefore: new Date(Date.now() - 10 * DAY), notAfter: new Date(Date.now() - 5 * DAY) });
    const l = cert('leaf', leaf, ca1, leafExtensions());
    assert.deepEqual((await path(l, [c1]))[1], ['certificate-expired']);
    // A week ago ca1 was valid; the leaf and the root, issued a day ago, were not yet.
    const f = new FindingCollector();
    validatePath(l, [c1], [rootCert], new Date(Date.now() - 7 * DAY), f);
    assert.deepEqual(f.findings.map((x) => [x.id, x.message.split(' ')[0]]), [['certificate-not-yet-valid', 'leaf'], ['certificate-not-yet-valid', 'root']]);
  });
});

describe('certificates of a real bundle', () => {
  let fx: EvidenceFixture; // AK certificate from the manufacturer (AK → manufacturer root)
  let viaCa: EvidenceFixture; // AK certificate from an attestation CA (AK → issuing CA → attestation root)
  let good: EvidenceBundle;
  before(async () => {
    [fx, viaCa] = await Promise.all([evidenceFixture(), evidenceFixture({ akIssuer: 'attestation-ca' })]);
    good = await fx.bundle(NONCE);
  });
  const ids = async (b: EvidenceBundle, trustedRoots = fx.trustedRoots, at?: Date) =>
    (await verifyEvidence(b, { trustedRoots, nonce: NONCE, policy: {}, ...(at && { at }) })).findings.map((f) => f.id).sort();

  test('a changed byte in the EK certificate', async () => {
    const der = Buffer.from(good.ek!.certificate, 'base64');
    der[der.length - 5]! ^= 0x40;
    assert.deepEqual(await ids({ ...good, ek: { certificate: der.toString('base64') } }), ['certificate-signature-invalid']);
  });

  test('an AK certificate through an issuing CA; without it; a year on', async () => {
    const b = await viaCa.bundle(NONCE);
    assert.deepEqual(await ids(b, viaCa.trustedRoots), ['ak-ek-binding-absent']);
    assert.deepEqual(await ids({ ...b, ak: { ...b.ak, chain: [] } }, viaCa.trustedRoots), ['ak-ek-binding-absent', 'certificate-untrusted-root']);
    assert.deepEqual(await ids(b, [viaCa.manufacturer.toPem()]), ['ak-ek-binding-absent', 'certificate-untrusted-root'], 'only the manufacturer root trusted');
    assert.deepEqual(await ids(b, viaCa.trustedRoots, new Date(Date.now() + 400 * DAY)), ['ak-ek-binding-absent', 'certificate-expired']);
  });

  test('an AK certificate passed off as the EK certificate fails the EK profile and the binding', async () => {
    const b = { ...good, ek: { certificate: good.ak.certificate! } };
    assert.deepEqual(await ids(b), ['ak-ek-binding-mismatch', 'ek-certificate-eku-missing', 'ek-certificate-key-usage-invalid', 'ek-certificate-specification-missing']);
  });

  test('trusted roots: one that does not parse, another one, several in one PEM text', async () => {
    assert.deepEqual(await ids(good, ['not a certificate', ...fx.trustedRoots]), ['trusted-root-malformed']);
    assert.deepEqual(await ids(good, [viaCa.manufacturer.toPem()]), ['certificate-untrusted-root', 'certificate-untrusted-root']);
    assert.deepEqual(await ids(good, [viaCa.manufacturer.toPem() + fx.trustedRoots.join('')]), []);
  });
});
