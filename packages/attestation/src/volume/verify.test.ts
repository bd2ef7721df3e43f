// The volume attestation verifier on statements signed by a real (in-process) TPM's AK with its
// manufacturer's AK certificate: a good attestation has no finding; a tampered signature, a
// changed field, another root, an expired certificate, a changed tag and a bent statement each
// give their own finding, and every check still runs. The finding table is the README's.

import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import { ManufacturerCa } from '@sealkeep/tpm';
import { statementSigner, type StatementSigner } from '../statement/signer.fixture.js';
import { volumeAttestation, type MadeAttestation } from './volume.fixture.js';
import { VOLUME_FINDINGS, VOLUME_FINDING_IDS } from './findings.js';
import { decodeVolumeStatement, encodeVolumeStatement, VOLUME_STATEMENT_LENGTH } from './format.js';
import { formatVolumeReport } from './report.js';
import { verifyVolumeAttestation, type VolumeResult } from './verify.js';
import { Findings } from '../statement/findings.js';
import { newKeyPair } from '@sealkeep/crypto';

let signer: StatementSigner;
let made: MadeAttestation;
before(async () => {
  signer = await statementSigner();
  made = await volumeAttestation(signer);
});

const ids = (r: VolumeResult) => r.findings.map((f) => f.id);
const errors = (r: VolumeResult) => r.findings.filter((f) => f.severity === 'error').map((f) => f.id);
const clone = () => structuredClone(made.attestation);
const verify = (a: unknown, opts: Partial<Parameters<typeof verifyVolumeAttestation>[1]> = {}) => verifyVolumeAttestation(a, { trustedRoots: signer.trustedRoots, tags: made.tags, ...opts });

test('every finding id is kebab-case and documented in README.md with its severity', () => {
  const readme = readFileSync(new URL('./README.md', import.meta.url), 'utf8');
  const documented = new Map([...readme.matchAll(/^\| `([a-z0-9-]+)` \| (error|warning|info) \|/gm)].map((m) => [m[1]!, m[2]!]));
  for (const id of VOLUME_FINDING_IDS) assert.match(id, /^[a-z0-9]+(?:-[a-z0-9]+)*$/);
  assert.deepEqual(Object.fromEntries(documented), { ...VOLUME_FINDINGS });
});

test('the statement layout: 105 bytes, "SKVA" 0x01, the fields big-endian in order', () => {
  const s = { volumeId: '00112233-4455-6677-8899-aabbccddeeff', vmId: '10000000-0000-4000-8000-000000000001', bootId: '20000000-0000-4000-8000-000000000002', sectorSize: 4096, sectors: 0x0102n, issuedAtMs: 0x0a0b0c0dn, merkleRoot: Buffer.alloc(32, 0xee) };
  const b = encodeVolumeStatement(s);
  assert.equal(b.length, VOLUME_STATEMENT_LENGTH);
  assert.equal(
    b.toString('hex'),
    '534b564101' + '00112233445566778899aabbccddeeff' + '10000000000040008000000000000001' + '20000000000040008000000000000002' + '00001000' + '0000000000000102' + '000000000a0b0c0d' + 'ee'.repeat(32),
  );
  assert.deepEqual(decodeVolumeStatement(b, new Findings(VOLUME_FINDINGS)), s);
});

test('a good attestation with its tags: no finding; the report names the signed volume', async () => {
  const r = await verify(made.attestation);
  assert.deepEqual(r.findings, []);
  assert.equal(r.ok, true);
  assert.equal(r.summary.volumeId, made.statement.volumeId);
  assert.equal(r.summary.sectors, '64');
  assert.equal(r.summary.signatureValid, true);
  assert.equal(r.summary.certificatePath, true);
  assert.equal(r.summary.tagsChecked, true);
  assert.match(formatVolumeReport(r), new RegExp(`^volume attestation OK: volume ${made.statement.volumeId} of VM ${made.statement.vmId}, boot ${made.statement.bootId}: 64 sectors of 4096 bytes, .*tags checked\\)$`));
  // Its JSON text verifies the same.
  assert.deepEqual((await verify(JSON.stringify(made.attestation))).findings, []);
});

test('without tags: the root is not checked, which is said (info), and the attestation holds', async () => {
  const r = await verify(made.attestation, { tags: undefined });
  assert.deepEqual(ids(r), ['tags-not-checked']);
  assert.equal(r.ok, true);
  assert.match(formatVolumeReport(r), /^INFO     tags-not-checked: /m);
});

test('a tampered signature is signature-invalid, and nothing else fails', async () => {
  const a = clone();
  const sig = Buffer.from(a.signature, 'base64');
  sig[sig.length - 1]! ^= 0x01;
  a.signature = sig.toString('base64');
  const r = await verify(a);
  assert.deepEqual(errors(r), ['signature-invalid']);
  assert.equal(r.summary.signatureValid, false);
  assert.equal(r.summary.certificatePath, true);
  assert.match(formatVolumeReport(r), /^volume attestation FAILED: 1 error: /m);
  const truncated = { ...clone(), signature: sig.subarray(0, 10).toString('base64') };
  assert.deepEqual(errors(await verify(truncated)), ['signature-malformed']);
});

test('a changed field is statement-field-mismatch naming it, with the signed and the given value', async () => {
  const a = { ...clone(), sectors: '65' };
  const r = await verify(a);
  assert.deepEqual(errors(r), ['statement-field-mismatch']);
  assert.match(r.findings[0]!.message, /^sectors: /);
  assert.deepEqual([r.findings[0]!.expected, r.findings[0]!.found], ['64', '65']);
  const several = await verify({ ...clone(), volumeId: made.statement.vmId, merkleRoot: '00'.repeat(32), issuedAt: new Date(0).toISOString() });
  assert.deepEqual(several.findings.map((f) => f.message.split(':')[0]), ['volumeId', 'issuedAt', 'merkleRoot']);
});

test('a statement changed after signing fails its signature, and its fields no longer match the JSON', async () => {
  const a = clone();
  const st = Buffer.from(a.statement, 'base64');
  st.writeBigUInt64BE(65n, 57); // sectors
  a.statement = st.toString('base64');
  const r = await verify(a);
  assert.deepEqual(errors(r).sort(), ['signature-invalid', 'statement-field-mismatch', 'tags-count-mismatch']);
});

test('a statement that is not a version 1 volume statement: magic, version and length each reported', async () => {
  const bent = await volumeAttestation(signer, { bend: (s) => Buffer.concat([Buffer.from('SKVB\x02', 'latin1'), s.subarray(5), Buffer.of(0)]) });
  const r = await verifyVolumeAttestation(bent.attestation, { trustedRoots: signer.trustedRoots, tags: bent.tags });
  assert.deepEqual(errors(r), ['statement-malformed', 'statement-magic-invalid', 'statement-version-unsupported']);
  assert.equal(r.summary.signatureValid, true, 'the AK signed it: only its contents are wrong');
});

test('another root: certificate-untrusted-root, while the signature itself still verifies', async () => {
  const stranger = await ManufacturerCa.create();
  const r = await verify(made.attestation, { trustedRoots: [stranger.toPem()] });
  assert.deepEqual(errors(r), ['certificate-untrusted-root']);
  assert.equal(r.summary.signatureValid, true);
  assert.equal(r.summary.certificatePath, false);
  assert.deepEqual(errors(await verify(made.attestation, { trustedRoots: ['not a certificate'] })), ['trusted-root-malformed', 'certificate-untrusted-root']);
});

test('an expired AK certificate is certificate-expired; one not valid yet, certificate-not-yet-valid', async () => {
  const expired = signer.certificate({ notBefore: new Date(Date.now() - 2 * 86_400_000), notAfter: new Date(Date.now() - 86_400_000) });
  const r = await verify({ ...clone(), akCertificatePem: expired });
  assert.deepEqual(errors(r), ['certificate-expired']);
  assert.match(r.findings[0]!.found!, /^notAfter /);
  const early = await verify(made.attestation, { now: new Date(Date.now() - 365 * 86_400_000) });
  assert.deepEqual([...new Set(errors(early))], ['certificate-not-yet-valid'], 'the AK certificate (and the root) not valid yet');
});

test('a certificate of another key: the signature does not verify with it; no certificate at all is said', async () => {
  const other = signer.certificate({ akPublicKey: newKeyPair('ec', { namedCurve: 'P-256' }).publicKey });
  assert.deepEqual(errors(await verify({ ...clone(), akCertificatePem: other })), ['signature-invalid']);
  const rsa = signer.certificate({ akPublicKey: newKeyPair('rsa', { modulusLength: 2048 }).publicKey });
  assert.deepEqual(errors(await verify({ ...clone(), akCertificatePem: rsa })), ['ak-certificate-key-unsupported']);
  assert.deepEqual(errors(await verify({ ...clone(), akCertificatePem: null })), ['ak-certificate-missing']);
});

test('the EK certificate is no AK certificate: its profile is reported (EKU, key usage)', async () => {
  const ek = `-----BEGIN CERTIFICATE-----\n${signer.fx.ekCertificate.toString('base64')}\n-----END CERTIFICATE-----\n`;
  const r = await verify({ ...clone(), akCertificatePem: ek });
  for (const id of ['ak-certificate-key-usage-invalid', 'ak-certificate-eku-missing', 'signature-invalid'] as const) assert.ok(ids(r).includes(id), id);
});

test('a changed tag is tags-merkle-root-mismatch; a tag more is tags-count-mismatch as well', async () => {
  const tags = Buffer.from(made.tags);
  tags[5 * 32 + 7]! ^= 0x01;
  const r = await verify(made.attestation, { tags });
  assert.deepEqual(errors(r), ['tags-merkle-root-mismatch']);
  assert.equal(r.findings[0]!.expected, made.statement.merkleRoot.toString('hex'));
  const more = await verify(made.attestation, { tags: Buffer.concat([made.tags, Buffer.alloc(32)]) });
  assert.deepEqual(errors(more), ['tags-count-mismatch', 'tags-merkle-root-mismatch']);
  const ragged = await verify(made.attestation, { tags: made.tags.subarray(0, made.tags.length - 1) });
  assert.match(ragged.findings[0]!.found!, /not a whole number of tags/);
});

test('bad input never throws: not JSON, not an object, another format, unknown fields, bad base64', async () => {
  assert.deepEqual(ids(await verify('{')), ['attestation-malformed']);
  assert.deepEqual(ids(await verify([1, 2])), ['attestation-malformed']);
  const other = await verify({ ...clone(), format: 'sealkeep-volume-attestation/2', extra: 1 });
  assert.deepEqual(ids(other), ['attestation-format-unsupported', 'attestation-field-unknown']);
  const r = await verify({ ...clone(), statement: 'not base64!', signature: 7 });
  assert.deepEqual(errors(r), ['attestation-malformed', 'attestation-malformed']);
});

test('a statement dated in the future (beyond five minutes) is a warning', async () => {
  const later = await volumeAttestation(signer, { issuedAtMs: Date.now() + 3_600_000 });
  const r = await verifyVolumeAttestation(later.attestation, { trustedRoots: signer.trustedRoots, tags: later.tags });
  assert.deepEqual(ids(r), ['statement-issued-in-future']);
  assert.equal(r.ok, true);
  const skewed = await volumeAttestation(signer, { issuedAtMs: Date.now() + 60_000 });
  assert.deepEqual(ids(await verifyVolumeAttestation(skewed.attestation, { trustedRoots: signer.trustedRoots, tags: skewed.tags })), [], 'a minute of clock skew is not reported');
});
