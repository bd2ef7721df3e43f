// The VM evidence verifier on bundles built as the service builds them, the boot statement signed
// by a real (in-process) TPM's AK: a good bundle has no finding with the reviewer's own reference
// values; a reordered event, a changed vPCR, a changed reference value, a tampered signature and a
// bad host bundle each give their own finding — also when the service signed the lie.

import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { ManufacturerCa } from '@sealkeep/tpm';
import { statementSigner, type StatementSigner } from '../statement/signer.fixture.js';
import { Findings } from '../statement/findings.js';
import { vmEvidenceFixture, type VmEvidenceFixture } from './vm-evidence.fixture.js';
import { VM_FINDINGS, VM_FINDING_IDS } from './findings.js';
import { decodeVmBootStatement, encodeVmBootStatement, VM_STATEMENT_LENGTH, type VmEvidenceBundle } from './format.js';
import { formatVmEvidenceReport } from './report.js';
import { verifyVmEvidence, type VerifyVmEvidenceOptions, type VmEvidenceResult } from './verify.js';

let signer: StatementSigner;
let fx: VmEvidenceFixture;
before(async () => {
  signer = await statementSigner();
  fx = await vmEvidenceFixture(signer);
});

const ids = (r: VmEvidenceResult) => r.findings.map((f) => f.id);
const errors = (r: VmEvidenceResult) => r.findings.filter((f) => f.severity === 'error').map((f) => f.id);
const clone = (): VmEvidenceBundle => structuredClone(fx.bundle);
/** As a careful reviewer: their own reference values and host policy. */
const strict = (b: unknown, opts: Partial<VerifyVmEvidenceOptions> = {}) =>
  verifyVmEvidence(b, { trustedRoots: signer.trustedRoots, referenceValues: fx.referenceValues, host: { policy: fx.hostPolicy }, ...opts });

test('every finding id is kebab-case and documented in README.md with its severity', () => {
  const readme = readFileSync(new URL('./README.md', import.meta.url), 'utf8');
  const documented = new Map([...readme.matchAll(/^\| `([a-z0-9-]+)` \| (error|warning|info) \|/gm)].map((m) => [m[1]!, m[2]!]));
  for (const id of VM_FINDING_IDS) assert.match(id, /^[a-z0-9]+(?:-[a-z0-9]+)*$/);
  assert.deepEqual(Object.fromEntries(documented), { ...VM_FINDINGS });
});

test('the boot statement layout: 605 bytes, "SKVB" 0x01, ids, time, log digest, 16 vPCRs', () => {
  const s = {
    vmId: '00112233-4455-6677-8899-aabbccddeeff',
    bootId: '10000000-0000-4000-8000-000000000001',
    hostId: '20000000-0000-4000-8000-000000000002',
    bootedAtMs: 0x0a0b0c0dn,
    eventLogDigest: Buffer.alloc(32, 0xdd),
    vpcrs: Array.from({ length: 16 }, (_, i) => Buffer.alloc(32, i)),
  };
  const b = encodeVmBootStatement(s);
  assert.equal(b.length, VM_STATEMENT_LENGTH);
  assert.equal(
    b.subarray(0, 93).toString('hex'),
    '534b564201' + '00112233445566778899aabbccddeeff' + '10000000000040008000000000000001' + '20000000000040008000000000000002' + '000000000a0b0c0d' + 'dd'.repeat(32),
  );
  assert.equal(b.subarray(93 + 15 * 32).toString('hex'), '0f'.repeat(32));
  assert.deepEqual(decodeVmBootStatement(b, new Findings(VM_FINDINGS)), s);
});

test("a good bundle: no finding with the reviewer's own reference values; the bundle's own are warned about", async () => {
  const r = await strict(fx.bundle);
  assert.deepEqual(r.findings, []);
  assert.equal(r.ok, true);
  assert.deepEqual(r.summary.pinnedVpcrs, [1, 8]);
  assert.equal(r.summary.eventsRead, 7);
  assert.equal(r.summary.host?.ok, true);
  const report = formatVmEvidenceReport(r);
  assert.match(report, new RegExp(`^VM evidence OK: VM ${fx.bundle.vmId} of tenant ${fx.bundle.tenantId}, boot ${fx.bundle.boot.bootId} on host ${fx.bundle.boot.hostId} at `));
  assert.match(report, /7 events read; reference values \(yours\) pin vPCR 1,8; signed by AK sha256:[0-9a-f]{16}…; its certificate chains to a trusted root \(.*\); host evidence OK\)$/);

  const trusting = await verifyVmEvidence(JSON.stringify(fx.bundle), { trustedRoots: signer.trustedRoots });
  assert.deepEqual(ids(trusting), ['reference-values-from-bundle', 'host:policy-from-bundle']);
  assert.equal(trusting.ok, true);
  assert.match(formatVmEvidenceReport(trusting), /, 2 warnings$/);
});

test('a reordered event is event-log-reordered (and the log no longer replays to the signed vPCR)', async () => {
  const b = clone();
  [b.boot.eventLog[0], b.boot.eventLog[1]] = [b.boot.eventLog[1], b.boot.eventLog[0]]; // PCR 0: CRTM version and firmware
  const r = await strict(b);
  assert.ok(ids(r).includes('event-log-reordered'), ids(r).join());
  assert.ok(r.findings.some((f) => f.id === 'statement-field-mismatch' && /eventLog/.test(f.message)), 'the signed log digest differs');
  // Even signed so by the service, the reordered log does not give the signed vPCR 0.
  const signed = await strict(await fx.resign(b));
  assert.ok(ids(signed).includes('event-log-reordered'));
  assert.ok(signed.findings.some((f) => f.id === 'event-log-pcr-mismatch' && /^vPCR 0:/.test(f.message)), ids(signed).join());
  assert.ok(!ids(signed).includes('signature-invalid') && !ids(signed).includes('statement-field-mismatch'));
});

test('a changed vPCR is statement-field-mismatch for that vPCR; signed so, the log does not replay to it', async () => {
  const b = clone();
  b.boot.vpcrs.sha256['4'] = 'ab'.repeat(32);
  const r = await strict(b);
  assert.deepEqual(errors(r), ['statement-field-mismatch']);
  assert.match(r.findings[0]!.message, /^boot\.vpcrs\.sha256\.4: /);
  assert.equal(r.findings[0]!.found, 'ab'.repeat(32));
  const signed = await strict(await fx.resign(b));
  assert.deepEqual(errors(signed), ['event-log-pcr-mismatch']);
  assert.match(signed.findings[0]!.message, /^vPCR 4: /);
  assert.deepEqual([signed.findings[0]!.expected, signed.findings[0]!.found], ['ab'.repeat(32), fx.bundle.boot.vpcrs.sha256['4']]);
});

test('a changed reference value: vpcr-mismatch for the vPCR it pins, with expected and found', async () => {
  const other = createHash('sha256').update('another configuration').digest('hex');
  const b = clone();
  b.referenceValues = { events: { ...fx.referenceValues.events, configuration: other } };
  const r = await verifyVmEvidence(b, { trustedRoots: signer.trustedRoots, host: { policy: fx.hostPolicy } });
  assert.deepEqual(errors(r), ['vpcr-mismatch', 'expected-vpcrs-mismatch']);
  const m = r.findings.find((f) => f.id === 'vpcr-mismatch')!;
  assert.match(m.message, /^vPCR 1 /);
  assert.equal(m.found, fx.bundle.boot.vpcrs.sha256['1']);
  assert.equal(m.expected, createHash('sha256').update(Buffer.alloc(32)).update(Buffer.from(other, 'hex')).digest('hex'));
  assert.ok(ids(r).includes('policy-result-differs'), 'the recorded "match" is not what these values give');
  // The reviewer's own values, differing from the VM's boot: only vpcr-mismatch.
  const mine = await strict(fx.bundle, { referenceValues: { pcrs: { sha256: { '8': '00'.repeat(32) } } } });
  assert.deepEqual(errors(mine), ['vpcr-mismatch']);
  assert.match(mine.findings[0]!.message, /^vPCR 8 /);
  // Malformed reference values are reported, not thrown.
  assert.deepEqual(errors(await strict(fx.bundle, { referenceValues: { pcrs: { sha256: { '20': 'zz' } } } })), ['reference-values-malformed']);
});

test('a tampered signature is signature-invalid, and nothing else fails', async () => {
  const b = clone();
  const sig = Buffer.from(b.bootStatement.signature, 'base64');
  sig[sig.length - 1]! ^= 0x01;
  b.bootStatement.signature = sig.toString('base64');
  const r = await strict(b);
  assert.deepEqual(errors(r), ['signature-invalid']);
  assert.match(formatVmEvidenceReport(r), /^VM evidence FAILED: 1 error: .*signature not valid/m);
});

test("the host's evidence: missing, another host's, or not verifying — each its own finding", async () => {
  const without = await vmEvidenceFixture(signer, { withoutHost: true });
  assert.deepEqual(errors(await strict(without.bundle)), ['host-evidence-missing']);
  const b = clone();
  b.host!.hostId = '99999999-0000-4000-8000-000000000000';
  assert.deepEqual(errors(await strict(b)), ['host-evidence-mismatch']);
  const q = clone();
  const attest = Buffer.from(q.host!.bundle.quote.attest, 'base64');
  attest[attest.length - 1]! ^= 0x01;
  q.host!.bundle.quote.attest = attest.toString('base64');
  const r = await strict(q);
  assert.ok(errors(r).includes('host:quote-signature-invalid'), errors(r).join());
  assert.equal(r.summary.host?.ok, false);
  assert.match(formatVmEvidenceReport(r), /host evidence FAILED/);
  const replayed = await strict(fx.bundle, { host: { nonce: 'beef', policy: fx.hostPolicy } });
  assert.deepEqual(errors(replayed), ['host:quote-nonce-mismatch']);
});

test('another root: the boot statement and the host each certificate-untrusted-root', async () => {
  const stranger = await ManufacturerCa.create();
  const r = await strict(fx.bundle, { trustedRoots: [stranger.toPem()] });
  assert.deepEqual(errors(r), ['certificate-untrusted-root', 'host:certificate-untrusted-root', 'host:certificate-untrusted-root']);
  assert.equal(r.summary.signatureValid, true);
});

test('no release policy: reference-values-absent (a warning), and "no-policy" agrees', async () => {
  const b = await fx.resign({ ...clone(), referenceValues: null, expectedVpcrs: null, boot: { ...clone().boot, policyResult: 'no-policy' } });
  const r = await verifyVmEvidence(b, { trustedRoots: signer.trustedRoots, host: { policy: fx.hostPolicy } });
  assert.deepEqual(ids(r), ['reference-values-absent']);
  assert.equal(r.ok, true);
});

test('bad input never throws: not JSON, another version, unknown fields, broken parts', async () => {
  assert.deepEqual(ids(await strict('{')), ['bundle-malformed']);
  assert.deepEqual(ids(await strict({ ...clone(), version: 2 })), ['bundle-version-unsupported']);
  assert.deepEqual(ids(await strict({ ...clone(), extra: true })), ['bundle-field-unknown']);
  const broken = await strict({ ...clone(), boot: { ...clone().boot, eventLog: [{ recnum: 'x' }], vpcrs: { sha256: { '3': 'xx' } } }, bootStatement: { statement: '', signature: '', akCertificatePem: null } });
  assert.ok(errors(broken).includes('bundle-malformed'));
  assert.ok(errors(broken).includes('event-log-malformed'));
  assert.ok(errors(broken).includes('ak-certificate-missing'));
});
