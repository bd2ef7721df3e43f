// Offline verification of what the service signs with its TPM's attestation key, on the real
// service: a volume attestation from the data plane (start a VM, open a session, encrypt-sign the
// volume, POST its tags) and a VM's evidence bundle from the compliance plane
// (GET /v1/vms/{vmId}/evidence), each checked with @sealkeep/attestation's verifier against the
// manufacturer root only — and tampered copies, each failing with its own finding. The evidence
// route is mounted here with its dependencies (the service TPM's AK) as server.ts passes them.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { asProvider } from '@sealkeep/store';
import { ManufacturerCa } from '@sealkeep/tpm';
import { verifyVmEvidence, verifyVolumeAttestation, type VmEvidenceBundle, type VmEvidenceResult, type VolumeResult } from '@sealkeep/attestation';
import { evidenceFixture, MLE, SINIT } from '../../../../../packages/attestation/src/evidence/evidence.fixture.js';
import { bootOf, dataPlane, generations as gens, type DataPlane } from '../blocks/data-plane.fixture.js';
import { mountListener, signedPartsOf } from '../../http/mount.js';
import { verifyRequestProof } from '../../auth/request-proof.js';
import { loadAk } from '../../platform/host-tpm.js';
import { routeTable } from '../../server.js';
import type { ServiceState } from '../../platform/measured-start.js';
import type { App, Caller } from '../quotas/api.fixture.js';
import { vmRoutes } from './routes.js';
import { ephemeralTokenKey } from '../../auth/token-key.js';

let d: DataPlane;
let compliance: App;
let reviewer: Caller;
let serviceRoot: string;
let hostFx: Awaited<ReturnType<typeof evidenceFixture>>;
const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const MEASUREMENTS = { codeDigest: sha256('service code'), configurationDigest: sha256('service configuration') };

before(async () => {
  d = await dataPlane();
  hostFx = await evidenceFixture();
  serviceRoot = readFileSync(path.join(d.api.t.dataDir, 'manufacturer-root.pem'), 'utf8');
  const db = d.api.f.store.db;
  const ak = await loadAk(d.api.t.host.client);
  const attestation = { tpm: d.api.t.host.client, akHandle: ak.handle, akCertificatePem: d.api.keys.endorsement?.akCertificatePem ?? null };
  const service = { measurements: MEASUREMENTS } as unknown as ServiceState;
  compliance = mountListener({
    planes: ['compliance'],
    routes: vmRoutes(d.api.f.store, { keys: d.api.keys, vtpms: d.vtpms, sessions: d.sessions, signingKey: ephemeralTokenKey() }, { attestation, service, vtpms: d.vtpms }),
    authenticate: (req) => verifyRequestProof(db, signedPartsOf(req)),
    onInternalError: (err) => console.error('internal error:', err),
  }) as unknown as App;
  reviewer = await d.api.f.addPrincipal(null, 'rita', 'reviewer');
});
after(() => d.close());

const errors = (r: VolumeResult | VmEvidenceResult) => r.findings.filter((f) => f.severity === 'error').map((f) => f.id as string);

async function readyVm(sectors = 1024) {
  const vm = await d.newVm({ sectors });
  const boot = bootOf();
  const referenceValues = { events: { configuration: boot.configuration, bootVolume: boot.bootVolume } };
  const policy = await d.api.call(d.api.officer, 'put', `${d.api.base}/vms/${vm.vmId}/release-policy`, { keyId: vm.kekId, referenceValues });
  assert.equal(policy.status, 200, policy.text);
  const started = await d.startVm(vm.vmId, boot.events);
  assert.equal(started.status, 200, started.text);
  return { ...vm, boot: started.body as { bootId: string; vpcrs: Record<string, string> }, referenceValues };
}

/** The host's adapter attested with the evidence fixture's TPM, as attestHost would have recorded it. */
async function hostAttested() {
  const nonce = randomBytes(32);
  const bundle = await hostFx.bundle(nonce);
  await asProvider(d.api.f.store.db, (trx) =>
    trx('hosts')
      .where({ host_id: d.hostId })
      .update({ last_evidence: JSON.stringify(bundle), last_nonce: nonce, attested_at: new Date(), approved_sinit: JSON.stringify([sha256(SINIT)]), approved_mle: JSON.stringify([sha256(MLE)]) }),
  );
}

const afterLaunch = (measured: Buffer) => createHash('sha256').update(Buffer.alloc(32)).update(createHash('sha256').update(measured).digest()).digest('hex');
const HOST_POLICY = { pcrs: { sha256: { '17': [afterLaunch(SINIT)], '18': [afterLaunch(MLE)] } } };

test('a volume attestation from the data plane verifies offline; a tampered signature, a changed field, another root and a changed tag each fail on their own', async () => {
  const vm = await readyVm(64);
  const { res, key } = await d.openSession(vm.vmId, vm.volumeId);
  assert.equal(res.status, 201, res.text);
  const enc = await d.blocks(res.body.sessionId, key!, 'encrypt-sign', 0, Buffer.concat([gens(64), randomBytes(4096 * 64)]));
  assert.equal(enc.status, 200);
  const tags = Buffer.from((enc.body as Buffer).subarray(4096 * 64));
  const att = await d.blocks(res.body.sessionId, key!, 'attestation', 0, tags);
  assert.equal(att.status, 200, (att.body as Buffer).toString());
  const a = JSON.parse((att.body as Buffer).toString());

  const good = await verifyVolumeAttestation(a, { trustedRoots: [serviceRoot], tags });
  assert.deepEqual(good.findings, []);
  assert.equal(good.summary.volumeId, vm.volumeId);
  assert.equal(good.summary.bootId, vm.boot.bootId);
  assert.equal(good.summary.sectors, '64');

  const sig = Buffer.from(a.signature, 'base64');
  sig[sig.length - 1]! ^= 0x01;
  assert.deepEqual(errors(await verifyVolumeAttestation({ ...a, signature: sig.toString('base64') }, { trustedRoots: [serviceRoot], tags })), ['signature-invalid']);
  assert.deepEqual(errors(await verifyVolumeAttestation({ ...a, vmId: randomUUID() }, { trustedRoots: [serviceRoot], tags })), ['statement-field-mismatch']);
  assert.deepEqual(errors(await verifyVolumeAttestation(a, { trustedRoots: [(await ManufacturerCa.create()).toPem()], tags })), ['certificate-untrusted-root']);
  const bent = Buffer.from(tags);
  bent[63 * 32]! ^= 0x80;
  assert.deepEqual(errors(await verifyVolumeAttestation(a, { trustedRoots: [serviceRoot], tags: bent })), ['tags-merkle-root-mismatch']);
});

test('the VM evidence route is in the route table: compliance plane, evidence.read', () => {
  const r = routeTable({ store: d.api.f.store }).find((x) => x.path === '/v1/vms/:vmId/evidence');
  assert.equal(r?.plane, 'compliance');
  assert.equal(r?.permission, 'evidence.read');
});

test('VM evidence before its host has an accepted attestation: the bundle says so, and the verifier fails it for that alone', async () => {
  const vm = await readyVm();
  const r = await d.api.f.call(compliance, reviewer, 'get', `/v1/vms/${vm.vmId}/evidence`);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.host, null);
  const verdict = await verifyVmEvidence(r.body, { trustedRoots: [serviceRoot], referenceValues: vm.referenceValues });
  assert.deepEqual(errors(verdict), ['host-evidence-missing']);
});

test("a reviewer fetches a VM's evidence and verifies it offline; reordered event, changed vPCR, changed reference value and tampered signature each fail on their own", async () => {
  await hostAttested();
  const vm = await readyVm();
  const r = await d.api.f.call(compliance, reviewer, 'get', `/v1/vms/${vm.vmId}/evidence`);
  assert.equal(r.status, 200, r.text);
  const bundle = r.body as VmEvidenceBundle;
  assert.equal(bundle.format, 'sealkeep-vm-evidence');
  assert.equal(bundle.vmId, vm.vmId);
  assert.equal(bundle.tenantId, d.api.tenantId);
  assert.equal(bundle.boot.bootId, vm.boot.bootId);
  assert.equal(bundle.boot.hostId, d.hostId);
  assert.deepEqual(bundle.boot.vpcrs.sha256, vm.boot.vpcrs);
  assert.equal(bundle.boot.policyResult, 'match');
  assert.deepEqual(Object.keys(bundle.expectedVpcrs!.sha256), ['1', '8']);
  assert.equal(bundle.host?.hostId, d.hostId);
  assert.equal(bundle.host?.bundle.subject.id, 'host-07');
  assert.deepEqual(bundle.serviceMeasurements, MEASUREMENTS);

  const roots = [serviceRoot, ...hostFx.trustedRoots];
  const strict = (b: unknown, referenceValues: typeof vm.referenceValues = vm.referenceValues) => verifyVmEvidence(b, { trustedRoots: roots, referenceValues, host: { policy: HOST_POLICY } });
  const good = await strict(bundle);
  assert.deepEqual(good.findings, []);
  const trusting = await verifyVmEvidence(bundle, { trustedRoots: roots });
  assert.deepEqual(trusting.findings.map((f) => f.id), ['reference-values-from-bundle', 'host:policy-from-bundle']);
  assert.equal(trusting.ok, true);

  const reordered = structuredClone(bundle);
  [reordered.boot.eventLog[0], reordered.boot.eventLog[1]] = [reordered.boot.eventLog[1], reordered.boot.eventLog[0]];
  assert.ok(errors(await strict(reordered)).includes('event-log-reordered'));

  const vpcr = structuredClone(bundle);
  vpcr.boot.vpcrs.sha256['8'] = '11'.repeat(32);
  const changed = await strict(vpcr);
  assert.deepEqual(errors(changed), ['statement-field-mismatch']);
  assert.match(changed.findings[0]!.message, /^boot\.vpcrs\.sha256\.8: /);

  const otherVolume = sha256('another boot volume');
  const refs = await strict(bundle, { events: { ...vm.referenceValues.events, bootVolume: otherVolume } });
  assert.deepEqual(errors(refs), ['vpcr-mismatch']);
  assert.match(refs.findings[0]!.message, /^vPCR 8 /);
  assert.equal(refs.findings[0]!.found, bundle.boot.vpcrs.sha256['8']);

  const sig = structuredClone(bundle);
  const s = Buffer.from(sig.bootStatement.signature, 'base64');
  s[s.length - 1]! ^= 0x01;
  sig.bootStatement.signature = s.toString('base64');
  assert.deepEqual(errors(await strict(sig)), ['signature-invalid']);
});

test('only reviewers read VM evidence; each read is audited in the provider chain; unknown and unstarted VMs are 404', async () => {
  const vm = await readyVm();
  assert.equal((await d.api.f.call(compliance, d.api.f.operator, 'get', `/v1/vms/${vm.vmId}/evidence`)).status, 403, 'the cloud-admin reads no evidence');
  assert.equal((await d.api.f.call(compliance, d.api.officer, 'get', `/v1/vms/${vm.vmId}/evidence`)).status, 403, "nor the tenant's officer, on this plane");
  const r = await d.api.f.call(compliance, reviewer, 'get', `/v1/vms/${vm.vmId}/evidence`);
  assert.equal(r.status, 200, r.text);
  const lines = await asProvider(d.api.f.store.db, (trx) => trx('audit_entries').where({ chain_id: 'provider' }).select('line'));
  const read = lines.map((l: { line: string }) => JSON.parse(l.line)).filter((e: { action: string; resource: string }) => e.action === 'evidence.read' && e.resource === `vm:${vm.vmId}`);
  assert.equal(read.length, 1);
  assert.equal(read[0].principal, 'rv:rita');
  assert.equal(read[0].details.bootId, vm.boot.bootId);
  assert.equal(read[0].details.tenantId, d.api.tenantId);
  assert.equal(read[0].details.statementHash, sha256(Buffer.from(r.body.bootStatement.statement, 'base64')));

  assert.equal((await d.api.f.call(compliance, reviewer, 'get', `/v1/vms/${randomUUID()}/evidence`)).status, 404);
  const idle = await d.newVm();
  const notStarted = await d.api.f.call(compliance, reviewer, 'get', `/v1/vms/${idle.vmId}/evidence`);
  assert.equal(notStarted.status, 404);
  assert.match(notStarted.body.detail, /has not started/);
});
