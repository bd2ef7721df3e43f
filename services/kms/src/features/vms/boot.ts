// A VM start on an attested host (data plane): the host's adapter, acting for a tenant user
// through the cloud-management layer (a delegation), submits the VM's measured-boot events as
// TCG CEL JSON. The service checks the log (every digest recomputable from its event data is
// recomputed; the vPCR layout in docs/tpm.md), power-cycles the VM's vTPM and extends each event
// into it, reads the vPCRs back, compares them with the VM's release policy and records the boot
// as the VM's current one. Volume keys are released only against the current boot.

import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { asProvider, inTenant } from '@sealkeep/store';
import { checkVmBootLog, measureVmBoot, VmBootLogError, expectedVpcrs, type TpmManager, type CelRecord } from '@sealkeep/tpm';
import { Problem } from '../../http/problems.js';
import type { Principal } from '../../http/mount.js';
import { appendAudit, type AuditActor } from '../../audit/audit-log.js';
import { freshBootTpm, withVmTpm } from './vm-tpms.js';
import type { ReferenceValues } from './service.js';

export type PolicyResult = 'match' | 'mismatch' | 'no-policy';

export interface BootSummary {
  bootId: string;
  vmId: string;
  hostId: string;
  bootedAt: string;
  /** sha256 bank, PCR index → hex. */
  vpcrs: Record<string, string>;
  policyResult: PolicyResult;
  events: number;
}

/** Whether measured vPCRs meet the reference values (every expected PCR equal). */
export function meetsReferenceValues(vpcrs: Record<string, string>, refs: ReferenceValues | null): PolicyResult {
  if (!refs) return 'no-policy';
  for (const [i, v] of expectedVpcrs(refs)) if (vpcrs[String(i)] !== v.toString('hex')) return 'mismatch';
  return 'match';
}

/** The attested host a hypervisor principal acts for. */
export async function hostOf(db: Knex, principal: Principal): Promise<{ host_id: string; name: string; attested_until: Date }> {
  const host = await asProvider(db, (trx) => trx('hosts').where({ principal_id: principal.id, status: 'attested' }).first('host_id', 'name', 'attested_until'));
  if (!host) throw new Problem('attestation-stale');
  return host;
}

function parseRefs(v: unknown): ReferenceValues | null {
  if (v === null || v === undefined) return null;
  return (typeof v === 'string' ? JSON.parse(v) : v) as ReferenceValues;
}

export async function startVm(db: Knex, vtpms: TpmManager, principal: Principal, actor: AuditActor, tenantId: string, vmId: string, events: unknown): Promise<BootSummary> {
  if (!principal.delegation) throw new Problem('forbidden', "a VM starts on behalf of the tenant's principal: present a delegation token (Sealkeep-Delegation)");
  const host = await hostOf(db, principal);
  let records: CelRecord[];
  try {
    records = checkVmBootLog(events);
  } catch (e) {
    if (e instanceof VmBootLogError) throw new Problem('validation-failed', e.message);
    throw e;
  }
  const vm = await inTenant(db, tenantId, (trx) => trx('vms').where({ tenant_id: tenantId, vm_id: vmId }).first());
  if (!vm) throw new Problem('not-found', 'no such VM');
  return withVmTpm(vtpms, vmId, async () => {
    const tpm = await freshBootTpm(vtpms, vmId);
    const vpcrs = await measureVmBoot(tpm.client(), records);
    await tpm.flush();
    return recordBoot(db, tenantId, vmId, host.host_id, records, vpcrs, actor).catch(async (e: unknown) => {
      // The vTPM holds the new boot but the store does not: the VM has no current boot, so
      // nothing is released against a record the vTPM no longer matches.
      await inTenant(db, tenantId, (trx) => trx('vms').where({ tenant_id: tenantId, vm_id: vmId }).update({ current_boot_id: null })).catch(() => {});
      throw e;
    });
  });
}

/** The measured boot as the VM's current one, compared with its policy, audited. */
function recordBoot(db: Knex, tenantId: string, vmId: string, hostId: string, records: CelRecord[], vpcrs: Record<string, string>, actor: AuditActor): Promise<BootSummary> {
  return inTenant(db, tenantId, async (trx) => {
    const locked = await trx('vms').where({ tenant_id: tenantId, vm_id: vmId }).forUpdate().first();
    if (!locked) throw new Problem('not-found', 'no such VM');
    const policyResult = meetsReferenceValues(vpcrs, parseRefs(locked.reference_values));
    const bootId = randomUUID();
    const [row] = await trx('vm_boots')
      .insert({ boot_id: bootId, tenant_id: tenantId, vm_id: vmId, host_id: hostId, log: JSON.stringify(records), vpcrs: JSON.stringify({ sha256: vpcrs }), policy_result: policyResult, actor_chain: JSON.stringify(actor.actorChain) })
      .returning('booted_at');
    await trx('vms').where({ vm_id: vmId }).update({ current_boot_id: bootId });
    await appendAudit(trx, actor, {
      tenantId,
      action: 'vm.start',
      resource: `vm:${vmId}`,
      outcome: 'success',
      details: { bootId, hostId, events: records.length, policyResult, configurationPcrDigest: vpcrs['1'] ?? '', bootVolumePcrDigest: vpcrs['8'] ?? '' },
    });
    return { bootId, vmId, hostId, bootedAt: new Date(row.booted_at).toISOString(), vpcrs, policyResult, events: records.length };
  });
}
