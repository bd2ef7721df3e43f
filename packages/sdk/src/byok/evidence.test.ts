// verifyImportEvidence against real evidence: an in-process TPM provisioned by a manufacturer CA
// creates and certifies the wrapping key (evidence.fixture.ts). A good bundle passes every check
// and what is wrapped to its key opens in that TPM; each forgery or defect fails its own check;
// malformed input fails checks without throwing.

import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { ManufacturerCa, TPMA_OBJECT as A, marshal, unmarshal, wire } from '@sealkeep/tpm';
import { EvidenceHost, WRAPPING_KEY_ATTRIBUTES } from './evidence.fixture.js';
import { verifyImportEvidence, type ImportEvidence, type VerifyImportEvidenceOptions } from './evidence.js';
import { wrapKeyMaterial } from './wrap.js';

const ALL_CHECKS = [
  'evidence-format',
  'ak-certificate-chain',
  'ak-certificate-validity',
  'ak-certificate-usage',
  'ek-certificate-chain',
  'ek-certificate-validity',
  'ek-binding',
  'ak-public-key',
  'certify-signature',
  'certify-attest',
  'certify-extra-data',
  'certified-name',
  'wrapping-key-attributes',
  'wrapping-key-size',
];

const job = { importJobId: randomUUID(), nonce: randomBytes(32).toString('base64url') };
let host: EvidenceHost;
let otherHost: EvidenceHost;
let good: ImportEvidence;
let goodHandle: number;
let pinned: VerifyImportEvidenceOptions;

before(async () => {
  host = await EvidenceHost.start();
  otherHost = await EvidenceHost.start(host.ca); // another TPM of the same manufacturer
  ({ evidence: good, wrappingKeyHandle: goodHandle } = await host.importEvidence(job));
  pinned = { trustedRootPem: host.ca.toPem(), ...job };
});

const failedChecks = (evidence: unknown, opts: Partial<VerifyImportEvidenceOptions> = {}) => {
  const verdict = verifyImportEvidence(evidence, { ...pinned, ...opts });
  assert.deepEqual(verdict.checks.map((c) => c.id), ALL_CHECKS, 'every check is reported, in order');
  assert.equal(verdict.ok, verdict.checks.every((c) => c.ok));
  assert.equal(verdict.wrappingPublicKey === undefined, !verdict.ok, 'the wrapping key only with a good verdict');
  return verdict.checks.filter((c) => !c.ok).map((c) => c.id);
};

test('good evidence passes every check, and what is wrapped to its key opens in that TPM', { timeout: 120_000 }, async () => {
  const verdict = verifyImportEvidence(good, pinned);
  assert.ok(verdict.ok, JSON.stringify(verdict.checks.filter((c) => !c.ok)));
  assert.equal(verdict.wrappingPublicKey?.asymmetricKeyDetails?.modulusLength, 3072);
  const material = randomBytes(64);
  assert.deepEqual(await host.unwrap(goodHandle, wrapKeyMaterial(material, verdict.wrappingPublicKey!)), material, 'rsa-aes-key-wrap-sha256');
  const short = randomBytes(32);
  assert.deepEqual(await host.unwrap(goodHandle, wrapKeyMaterial(short, verdict.wrappingPublicKey!, 'rsa-oaep-sha256')), short, 'rsa-oaep-sha256');
  // An empty nonce is allowed (docs/byok.md) and binds as no bytes.
  const unnonced = await host.importEvidence({ ...job, nonce: '' });
  assert.deepEqual(failedChecks(unnonced.evidence, { nonce: '' }), []);
});

const flipLastByte = (b64: string) => {
  const bytes = Buffer.from(b64, 'base64');
  bytes[bytes.length - 1]! ^= 1;
  return bytes.toString('base64');
};

test('forged certifications fail the signature check', { timeout: 120_000 }, async () => {
  // The signature's bytes altered (the last byte of S).
  assert.deepEqual(failedChecks({ ...good, certify: { ...good.certify, signature: flipLastByte(good.certify.signature) } }), ['certify-signature']);
  // A signature by another key: another TPM's AK certifying the same job.
  const other = (await otherHost.importEvidence(job)).evidence;
  assert.deepEqual(failedChecks({ ...good, certify: { ...good.certify, signature: other.certify.signature } }), ['certify-signature']);
  // The whole certification from another TPM: its AK did not sign for this one, nor this key.
  assert.deepEqual(failedChecks({ ...good, certify: other.certify }), ['certify-signature', 'certified-name']);
  // A signature with another hash than SHA-256.
  const sig = unmarshal(wire.TPMT_SIGNATURE, Buffer.from(good.certify.signature, 'base64'));
  const sha384 = marshal(wire.TPMT_SIGNATURE, { ...sig, signature: { ...(sig.signature as object), hash: 0x000c } } as wire.TPMT_SIGNATURE);
  assert.deepEqual(failedChecks({ ...good, certify: { ...good.certify, signature: sha384.toString('base64') } }), ['certify-signature']);
});

test('the certified Name must be the Name of the key given: another key of the same TPM fails', { timeout: 120_000 }, async () => {
  const another = (await host.importEvidence(job)).evidence;
  assert.deepEqual(failedChecks({ ...good, wrappingKey: another.wrappingKey }), ['certified-name']);
  assert.deepEqual(failedChecks({ ...good, wrappingKey: { ...good.wrappingKey, name: another.wrappingKey.name } }), ['certified-name']);
});

test('evidence for another job or nonce fails the qualifying-data check', () => {
  assert.deepEqual(failedChecks(good, { nonce: randomBytes(32).toString('base64url') }), ['evidence-format', 'certify-extra-data']);
  assert.deepEqual(failedChecks(good, { importJobId: randomUUID() }), ['evidence-format', 'certify-extra-data']);
  // The bundle relabelled for the expected job: the signed qualifying data still names the old one.
  const relabelled = { ...good, importJobId: randomUUID() };
  assert.deepEqual(failedChecks(relabelled, { importJobId: relabelled.importJobId }), ['certify-extra-data']);
  assert.deepEqual(failedChecks(good, { nonce: 'not base64url!' }), ['evidence-format', 'certify-extra-data']);
});

test('certificates: another root, an AK certificate beside another TPM\'s EK, an expired AK certificate', { timeout: 60_000 }, async () => {
  const otherRoot = (await ManufacturerCa.create()).toPem();
  assert.deepEqual(failedChecks(good, { trustedRootPem: otherRoot }), ['ak-certificate-chain', 'ek-certificate-chain']);
  const withAk = (certificatePem: string) => ({ ...good, attestationKey: { ...good.attestationKey, certificatePem } });
  assert.deepEqual(failedChecks(withAk(host.issueAkCertificate({ ekCertificate: otherHost.ekCertificate }))), ['ek-binding']);
  const day = 86_400_000;
  const expired = host.issueAkCertificate({ notBefore: new Date(Date.now() - 30 * day), notAfter: new Date(Date.now() - day) });
  assert.deepEqual(failedChecks(withAk(expired)), ['ak-certificate-validity']);
  // The good bundle, checked at a time before its certificates (and the root) were issued.
  const early = ['ak-certificate-chain', 'ak-certificate-validity', 'ek-certificate-chain', 'ek-certificate-validity'];
  assert.deepEqual(failedChecks(good, { at: new Date(Date.now() - 365 * day) }), early);
  // Another TPM's AK certificate: not the key that signed, nor bound to this EK.
  const otherAk = withAk(otherHost.akCertificatePem);
  assert.deepEqual(failedChecks(otherAk), ['ek-binding', 'ak-public-key']);
  // The EK certificate as the AK certificate: no AIK usage.
  assert.deepEqual(failedChecks(withAk(good.ekCertificatePem)), ['ak-certificate-usage', 'ek-binding', 'ak-public-key']);
});

test("the wrapping key's attributes and size: sign set, fixedTPM clear, RSA 2048", { timeout: 120_000 }, async () => {
  const signing = await host.importEvidence({ ...job, attributes: WRAPPING_KEY_ATTRIBUTES | A.sign });
  assert.deepEqual(failedChecks(signing.evidence), ['wrapping-key-attributes']);
  const duplicable = await host.importEvidence({ ...job, attributes: WRAPPING_KEY_ATTRIBUTES & ~(A.fixedTPM | A.fixedParent) });
  const verdict = verifyImportEvidence(duplicable.evidence, pinned);
  assert.deepEqual(failedChecks(duplicable.evidence), ['wrapping-key-attributes']);
  assert.match(verdict.checks.find((c) => c.id === 'wrapping-key-attributes')!.message, /fixedTPM clear, fixedParent clear/);
  const small = await host.importEvidence({ ...job, keyBits: 2048 });
  assert.deepEqual(failedChecks(small.evidence), ['wrapping-key-size']);
});

test('malformed evidence fails checks and never throws', () => {
  for (const garbage of [null, undefined, 42, 'evidence', [], {}, { format: 'sealkeep.import-evidence.v1' }]) {
    assert.deepEqual(failedChecks(garbage), ALL_CHECKS, JSON.stringify(garbage));
  }
  const notBase64 = { ...good, certify: { attest: 'not*base64', signature: 'AAAA' } };
  assert.deepEqual(failedChecks(notBase64), ['certify-signature', 'certify-attest', 'certify-extra-data', 'certified-name']);
  const truncated = { ...good, wrappingKey: { ...good.wrappingKey, tpmPublic: good.wrappingKey.tpmPublic.slice(0, 40) } };
  assert.deepEqual(failedChecks(truncated), ['certified-name', 'wrapping-key-attributes', 'wrapping-key-size']);
  const badPem = { ...good, ekCertificatePem: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n', attestationKey: { ...good.attestationKey, tpmPublic: 17 } };
  assert.deepEqual(failedChecks(badPem), ['ek-certificate-chain', 'ek-certificate-validity', 'ek-binding', 'ak-public-key', 'certify-signature']);
  assert.deepEqual(failedChecks(good, { trustedRootPem: 'no root' }), ['ak-certificate-chain', 'ek-certificate-chain']);
  const message = verifyImportEvidence(notBase64, pinned).checks.find((c) => c.id === 'certify-attest')!.message;
  assert.equal(message, 'certify.attest is not base64');
});
