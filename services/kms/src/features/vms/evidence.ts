// A VM's evidence for reviewers (compliance plane): its current boot as the service measured it
// into the VM's vTPM — host, CEL log, the vPCRs read from the vTPM now, the policy result — the
// release policy's reference values in force and the vPCRs they imply, the host's last accepted
// attestation (hosts/evidence.ts) and the service's measurements, with a boot statement signed
// by the service TPM's attestation key: the vTPM lives inside the service, so the service TPM
// attests the vTPM state it holds. The format and the statement are @sealkeep/attestation's
// (packages/attestation/src/vm/README.md); reviewers verify the bundle offline (`sealkeep verify
// vm-evidence`) against their own manufacturer roots. A reviewer names a VM, not its tenant: the
// tenant is looked up with asSystem, the VM read in its tenant's scope. Each read is audited in
// the provider's chain.

import { createHash } from 'node:crypto';
import type { Knex } from 'knex';
import { asProvider, asSystem, inTenant } from '@sealkeep/store';
import { encodeVmBootStatement, eventLogDigest, VM_EVIDENCE_FORMAT, VM_EVIDENCE_VERSION, VM_STATEMENT_VPCRS, type HostEvidence, type VmEvidenceBundle } from '@sealkeep/attestation';
import { expectedVpcrs, readVmPcrs, signWithRestrictedKey, TPM_RH, type TpmManager } from '@sealkeep/tpm';
import { currentTpm, withVmTpm } from './vm-tpms.js';
import { Problem } from '../../http/problems.js';
import { appendAudit, type AuditActor } from '../../audit/audit-log.js';
import type { ServiceState } from '../../platform/measured-start.js';
import type { VolumeAttestationDeps } from '../blocks/volume-attestation.js';
import { hostEvidence } from '../hosts/evidence.js';
import type { ReferenceValues } from './service.js';
import type { PolicyResult } from './boot.js';

export interface VmEvidenceDeps {
  /** The service TPM's attestation key (the one volume attestations use); without it the route answers 503. */
  attestation?: VolumeAttestationDeps | undefined;
  /** The measured start's outcome, for the service's measurements. */
  service?: ServiceState | undefined;
  /** The VMs' vTPMs, whose live vPCRs the boot statement signs; without them the route answers 503. */
  vtpms?: TpmManager | undefined;
}

const json = <T>(v: unknown): T => (typeof v === 'string' ? (JSON.parse(v) as T) : (v as T));

export async function vmEvidence(db: Knex, actor: AuditActor, deps: VmEvidenceDeps, vmId: string): Promise<VmEvidenceBundle> {
  const ak = deps.attestation;
  if (!ak) throw new Problem('service-unavailable', 'the service TPM has no attestation key');
  const found = (await asSystem(db, 'VM evidence: a reviewer names a VM, not its tenant', (trx) => trx('vms').where({ vm_id: vmId }).first('tenant_id'))) as { tenant_id: string } | undefined;
  if (!found) throw new Problem('not-found', 'no such VM');
  const tenantId = found.tenant_id;
  const { vm, boot } = await inTenant(db, tenantId, async (trx) => {
    const vm = await trx('vms').where({ tenant_id: tenantId, vm_id: vmId }).first('name', 'current_boot_id', 'reference_values');
    const boot = vm?.current_boot_id ? await trx('vm_boots').where({ tenant_id: tenantId, boot_id: vm.current_boot_id }).first() : undefined;
    return { vm, boot };
  });
  if (!vm) throw new Problem('not-found', 'no such VM');
  if (!boot) throw new Problem('not-found', 'the VM has not started: there is no boot to attest');

  const eventLog = json<unknown[]>(boot.log);
  // The statement signs the vPCRs the vTPM holds now, not the store's copy (which whoever can
  // write the store could forge); they must still be the ones the current boot recorded.
  if (!deps.vtpms) throw new Problem('service-unavailable', 'VM vTPMs need the unsealed service root');
  const vtpms = deps.vtpms;
  const live = await withVmTpm(vtpms, vmId, async () => readVmPcrs((await currentTpm(vtpms, vmId)).client()));
  const recorded = json<{ sha256: Record<string, string> }>(boot.vpcrs).sha256;
  const vpcrs = Array.from({ length: VM_STATEMENT_VPCRS }, (_, i) => {
    const hex = live[i];
    if (!hex || hex !== recorded[String(i)]) throw new Problem('conflict', `the VM's vTPM does not hold the vPCRs its current boot recorded (vPCR ${i})`);
    return Buffer.from(hex, 'hex');
  });
  const bootedAtMs = new Date(boot.booted_at).getTime();
  const statement = encodeVmBootStatement({ vmId, bootId: boot.boot_id, hostId: boot.host_id, bootedAtMs, eventLogDigest: eventLogDigest(eventLog), vpcrs });
  const signature = await signWithRestrictedKey(ak.tpm, ak.akHandle, TPM_RH.ENDORSEMENT, statement);

  const referenceValues = vm.reference_values ? json<ReferenceValues>(vm.reference_values) : null;
  const expected = referenceValues ? Object.fromEntries([...expectedVpcrs(referenceValues)].map(([i, v]) => [String(i), v.toString('hex')])) : null;
  let host: HostEvidence | null = null;
  try {
    host = (await hostEvidence(db, actor, deps.service, boot.host_id)) as unknown as HostEvidence;
  } catch (e) {
    if (!(e instanceof Problem && e.slug === 'not-found')) throw e; // no accepted attestation yet: the verifier reports it
  }
  const statementHash = createHash('sha256').update(statement).digest('hex');
  await asProvider(db, (trx) =>
    appendAudit(trx, actor, { tenantId: null, action: 'evidence.read', resource: `vm:${vmId}`, outcome: 'success', details: { tenantId, bootId: boot.boot_id, hostId: boot.host_id, hostEvidence: host !== null, statementHash } }),
  );
  const m = deps.service?.measurements;
  return {
    format: VM_EVIDENCE_FORMAT,
    version: VM_EVIDENCE_VERSION,
    createdAt: new Date().toISOString(),
    vmId,
    tenantId,
    name: vm.name,
    boot: {
      bootId: boot.boot_id,
      bootedAt: new Date(bootedAtMs).toISOString(),
      hostId: boot.host_id,
      eventLog,
      vpcrs: { sha256: Object.fromEntries(vpcrs.map((v, i) => [String(i), v.toString('hex')])) },
      policyResult: boot.policy_result as PolicyResult,
    },
    referenceValues,
    expectedVpcrs: expected ? { sha256: expected } : null,
    host,
    serviceMeasurements: m ? { codeDigest: m.codeDigest, configurationDigest: m.configurationDigest } : null,
    bootStatement: { statement: statement.toString('base64'), signature: signature.der.toString('base64'), akCertificatePem: ak.akCertificatePem },
  };
}
