// Test support: a VM evidence bundle as the service writes it (services/kms vms/evidence.ts): a
// good VM boot log (packages/tpm's vm-boot fixture) measured into a fresh in-process vTPM, the
// release policy's reference values (the configuration and boot-volume digests) and the vPCRs
// they imply, the evidence fixture's host bundle with the approved launch as its reference
// values (as hosts/evidence.ts gives it), and the boot statement signed by the signer's TPM AK.

import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { checkVmBootLog, commands, expectedVpcrs, InProcessTransport, measureVmBoot, Tpm, TpmClient, TPM_SU } from '@sealkeep/tpm';
import { goodBootLog, recordsOf } from '@sealkeep/tpm/vm-boot-fixture';
import { MLE, SINIT } from '../evidence/evidence.fixture.js';
import type { StatementSigner } from '../statement/signer.fixture.js';
import { encodeVmBootStatement, eventLogDigest, VM_EVIDENCE_FORMAT, VM_EVIDENCE_VERSION, type HostEvidence, type VmEvidenceBundle } from './format.js';

const sha256 = (...parts: Buffer[]) => parts.reduce((h, p) => h.update(p), createHash('sha256')).digest();
/** A PCR after a dynamic launch reset it to zero and extended one digest (hosts/evidence.ts). */
const afterLaunch = (measured: Buffer) => sha256(Buffer.alloc(32), sha256(measured)).toString('hex');

export interface VmEvidenceFixture {
  bundle: VmEvidenceBundle;
  /** The tenant's reference values, as a reviewer would get them from the tenant. */
  referenceValues: { events: { configuration: string; bootVolume: string } };
  /** The host's approved launch, as a reviewer's own host policy. */
  hostPolicy: { pcrs: { sha256: Record<string, string[]> } };
  /** Sign the bundle's boot statement again after a test changed the signed fields (bundle → statement). */
  resign(b: VmEvidenceBundle): Promise<VmEvidenceBundle>;
}

export async function vmEvidenceFixture(signer: StatementSigner, opts: { withoutHost?: boolean } = {}): Promise<VmEvidenceFixture> {
  const boot = goodBootLog();
  const records = checkVmBootLog(recordsOf(boot.log));
  const vtpm = new TpmClient(new InProcessTransport(new Tpm()));
  await vtpm.call(commands.Startup, {}, { startupType: TPM_SU.CLEAR });
  const vpcrs = await measureVmBoot(vtpm, records);
  const referenceValues = { events: { configuration: boot.configuration.toString('hex'), bootVolume: boot.bootVolume.toString('hex') } };
  const hostPolicy = { pcrs: { sha256: { '17': [afterLaunch(SINIT)], '18': [afterLaunch(MLE)] } } };
  const nonce = randomBytes(16);
  const hostBundle = await signer.fx.bundle(nonce);
  const host: HostEvidence = {
    hostId: randomUUID(),
    nonce: nonce.toString('hex'),
    attestedAt: new Date(Date.now() - 60_000).toISOString(),
    attestedUntil: new Date(Date.now() + 540_000).toISOString(),
    bundle: { ...hostBundle, subject: { kind: 'host', id: 'host-07' }, referenceValues: hostPolicy },
  };
  const resign = async (b: VmEvidenceBundle): Promise<VmEvidenceBundle> => {
    const statement = encodeVmBootStatement({
      vmId: b.vmId,
      bootId: b.boot.bootId,
      hostId: b.boot.hostId,
      bootedAtMs: Date.parse(b.boot.bootedAt),
      eventLogDigest: eventLogDigest(b.boot.eventLog),
      vpcrs: Array.from({ length: 16 }, (_, i) => Buffer.from(b.boot.vpcrs.sha256[String(i)]!, 'hex')),
    });
    return { ...b, bootStatement: { ...b.bootStatement, statement: statement.toString('base64'), signature: (await signer.sign(statement)).toString('base64') } };
  };
  const unsigned: VmEvidenceBundle = {
    format: VM_EVIDENCE_FORMAT,
    version: VM_EVIDENCE_VERSION,
    createdAt: new Date().toISOString(),
    vmId: randomUUID(),
    tenantId: randomUUID(),
    name: 'web-01',
    boot: { bootId: randomUUID(), bootedAt: new Date(Date.now() - 30_000).toISOString(), hostId: host.hostId, eventLog: records, vpcrs: { sha256: vpcrs }, policyResult: 'match' },
    referenceValues,
    expectedVpcrs: { sha256: Object.fromEntries([...expectedVpcrs(referenceValues)].map(([i, v]) => [String(i), v.toString('hex')])) },
    host: opts.withoutHost ? null : host,
    serviceMeasurements: { codeDigest: sha256(Buffer.from('service code')).toString('hex'), configurationDigest: sha256(Buffer.from('service configuration')).toString('hex') },
    bootStatement: { statement: '', signature: '', akCertificatePem: signer.akCertificatePem },
  };
  return { bundle: await resign(unsigned), referenceValues, hostPolicy, resign };
}
