// A tenant's VMs and volumes: tenant users (or a delegate acting for one) register VMs and their
// volumes, counted against the tenant's quotas in the same transaction; removing a volume gives
// its count and bytes back. The tenant's officer writes each VM's release policy: the one key
// that may be released to it and the reference values its measured boot must match. Every change
// is audited in the tenant's chain.

import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { inTenant } from '@sealkeep/store';
import { Problem } from '../../http/problems.js';
import { appendAudit, type AuditActor } from '../../audit/audit-log.js';
import { release, reserve } from '../quotas/quota.js';
import { expectedVpcrs } from '@sealkeep/tpm';
import { DEFAULT_CIA, requireKey, type Cia } from '../keys/lifecycle.js';
import type { KeyRow } from '../keys/store.js';

export interface VolumeSummary {
  volumeId: string;
  name: string;
  sizeBytes: number;
  sectorSize: 512 | 4096;
  cia: Cia;
  createdAt: string;
  /**
   * Its recorded state (docs/service.md, "Volume state records"): served or closed cleanly, when,
   * what its last open found, and when an open was last refused as rolled back; null until an
   * adapter first opens it through the data plane.
   */
  state: { status: 'served' | 'closed'; recordedAt: string; openedAs: string | null; refusedAt: string | null } | null;
}

export interface VmSummary {
  vmId: string;
  name: string;
  releasePolicy: { keyId: string; referenceValues: ReferenceValues; updatedAt: string } | null;
  volumes: VolumeSummary[];
  createdAt: string;
}

/**
 * What a VM's measured boot must show: expected vPCR values (sha256 bank, index → hex), and/or
 * the expected digests of its configuration and boot volume events, which fix vPCRs 1 and 8
 * (each holds that one event; docs/tpm.md, the VM vPCR layout).
 */
export interface ReferenceValues {
  pcrs?: { sha256?: Record<string, string> };
  events?: { configuration?: string; bootVolume?: string };
}

interface VmRow {
  vm_id: string;
  tenant_id: string;
  name: string;
  release_key_id: string | null;
  reference_values: ReferenceValues | string | null;
  policy_updated_at: Date | null;
  created_at: Date;
}

interface VolumeRow {
  volume_id: string;
  vm_id: string;
  name: string;
  size_bytes: string | number;
  sector_size: 512 | 4096;
  confidentiality: Cia['confidentiality'];
  integrity: Cia['integrity'];
  availability: Cia['availability'];
  created_at: Date;
  state_status: 'served' | 'closed' | null;
  state_recorded_at: Date | null;
  state_opened_as: string | null;
  state_refused_at: Date | null;
}

const iso = (d: Date) => new Date(d).toISOString();

/** Volumes with their recorded state (volume_states), for summaries. */
const volumesWithState = (trx: Knex.Transaction) =>
  trx('volumes')
    .leftJoin('volume_states as vs', 'vs.volume_id', 'volumes.volume_id')
    .select('volumes.*', 'vs.status as state_status', 'vs.recorded_at as state_recorded_at', 'vs.opened_as as state_opened_as', 'vs.refused_at as state_refused_at')
    .orderBy('volumes.created_at');

function volumeSummary(v: VolumeRow): VolumeSummary {
  return {
    volumeId: v.volume_id,
    name: v.name,
    sizeBytes: Number(v.size_bytes),
    sectorSize: v.sector_size,
    cia: { confidentiality: v.confidentiality, integrity: v.integrity, availability: v.availability },
    createdAt: iso(v.created_at),
    state: v.state_status
      ? { status: v.state_status, recordedAt: iso(v.state_recorded_at!), openedAs: v.state_opened_as, refusedAt: v.state_refused_at ? iso(v.state_refused_at) : null }
      : null,
  };
}

function summarize(vm: VmRow, volumes: VolumeRow[]): VmSummary {
  const refs = typeof vm.reference_values === 'string' ? (JSON.parse(vm.reference_values) as ReferenceValues) : vm.reference_values;
  return {
    vmId: vm.vm_id,
    name: vm.name,
    releasePolicy: vm.release_key_id && refs ? { keyId: vm.release_key_id, referenceValues: refs, updatedAt: iso(vm.policy_updated_at!) } : null,
    volumes: volumes.filter((v) => v.vm_id === vm.vm_id).map(volumeSummary),
    createdAt: iso(vm.created_at),
  };
}

async function requireVm(trx: Knex.Transaction, tenantId: string, vmId: string, opts: { lock?: boolean } = {}): Promise<VmRow> {
  const q = trx('vms').where({ tenant_id: tenantId, vm_id: vmId });
  const vm = (await (opts.lock ? q.forUpdate() : q).first()) as VmRow | undefined;
  if (!vm) throw new Problem('not-found', 'no such VM');
  return vm;
}

async function vmSummary(trx: Knex.Transaction, tenantId: string, vm: VmRow): Promise<VmSummary> {
  return summarize(vm, (await volumesWithState(trx).where({ 'volumes.tenant_id': tenantId, 'volumes.vm_id': vm.vm_id })) as VolumeRow[]);
}

export function registerVm(db: Knex, actor: AuditActor, tenantId: string, body: { name: string }): Promise<VmSummary> {
  return inTenant(db, tenantId, async (trx) => {
    if (await trx('vms').where({ tenant_id: tenantId, name: body.name }).first()) throw new Problem('conflict', `a VM named ${body.name} exists`);
    await reserve(trx, tenantId, 'vms', 1);
    const vmId = randomUUID();
    await trx('vms').insert({ vm_id: vmId, tenant_id: tenantId, name: body.name });
    await appendAudit(trx, actor, { tenantId, action: 'vm.register', resource: `vm:${vmId}`, outcome: 'success', details: { name: body.name } });
    return vmSummary(trx, tenantId, await requireVm(trx, tenantId, vmId));
  });
}

export function listVms(db: Knex, tenantId: string): Promise<VmSummary[]> {
  return inTenant(db, tenantId, async (trx) => {
    const vms = (await trx('vms').where({ tenant_id: tenantId }).orderBy('created_at')) as VmRow[];
    const volumes = (await volumesWithState(trx).where({ 'volumes.tenant_id': tenantId })) as VolumeRow[];
    return vms.map((vm) => summarize(vm, volumes));
  });
}

export const getVm = (db: Knex, tenantId: string, vmId: string) => inTenant(db, tenantId, async (trx) => vmSummary(trx, tenantId, await requireVm(trx, tenantId, vmId)));

export interface NewVolume {
  name: string;
  sizeBytes: number;
  sectorSize: 512 | 4096;
  cia?: Cia | undefined;
}

export function addVolume(db: Knex, actor: AuditActor, tenantId: string, vmId: string, body: NewVolume): Promise<VmSummary> {
  if (body.sizeBytes % body.sectorSize !== 0) throw new Problem('validation-failed', `sizeBytes must be a multiple of the sector size (${body.sectorSize})`);
  return inTenant(db, tenantId, async (trx) => {
    const vm = await requireVm(trx, tenantId, vmId, { lock: true });
    if (await trx('volumes').where({ vm_id: vmId, name: body.name }).first()) throw new Problem('conflict', `the VM has a volume named ${body.name}`);
    await reserve(trx, tenantId, 'volumes', 1);
    await reserve(trx, tenantId, 'volume-bytes', body.sizeBytes);
    const volumeId = randomUUID();
    const cia = body.cia ?? DEFAULT_CIA;
    await trx('volumes').insert({ volume_id: volumeId, tenant_id: tenantId, vm_id: vmId, name: body.name, size_bytes: body.sizeBytes, sector_size: body.sectorSize, ...cia });
    await appendAudit(trx, actor, { tenantId, action: 'volume.create', resource: `volume:${volumeId}`, outcome: 'success', details: { vmId, name: body.name, sizeBytes: body.sizeBytes, sectorSize: body.sectorSize, ...cia } });
    return vmSummary(trx, tenantId, vm);
  });
}

export function removeVolume(db: Knex, actor: AuditActor, tenantId: string, vmId: string, volumeId: string): Promise<VmSummary> {
  return inTenant(db, tenantId, async (trx) => {
    const vm = await requireVm(trx, tenantId, vmId, { lock: true });
    const v = (await trx('volumes').where({ tenant_id: tenantId, vm_id: vmId, volume_id: volumeId }).forUpdate().first()) as VolumeRow | undefined;
    if (!v) throw new Problem('not-found', 'no such volume');
    await trx('volumes').where({ volume_id: volumeId }).delete();
    await release(trx, tenantId, 'volumes', 1);
    await release(trx, tenantId, 'volume-bytes', Number(v.size_bytes));
    await appendAudit(trx, actor, { tenantId, action: 'volume.remove', resource: `volume:${volumeId}`, outcome: 'success', details: { vmId, sizeBytes: Number(v.size_bytes) } });
    return vmSummary(trx, tenantId, vm);
  });
}

/**
 * The officer's release policy: the VM's volume keys are wrapped by `keyId` and released while
 * its vPCRs equal `referenceValues`. Volume keys already sealed are re-sealed to the new values
 * (resealVolumeKeys), which works only while the VM runs in the state they were sealed to.
 */
export function setReleasePolicy(
  db: Knex,
  actor: AuditActor,
  tenantId: string,
  vmId: string,
  body: { keyId: string; referenceValues: ReferenceValues },
  resealVolumeKeys?: (trx: Knex.Transaction, vmId: string, kek: KeyRow, expected: Map<number, Buffer>) => Promise<void>,
): Promise<VmSummary> {
  return inTenant(db, tenantId, async (trx) => {
    await requireVm(trx, tenantId, vmId, { lock: true });
    const key = await requireKey(trx, tenantId, body.keyId);
    if (key.type !== 'aes-256') throw new Problem('validation-failed', `volume keys are wrapped by an aes-256 key, not ${key.type}`);
    let expected: Map<number, Buffer>;
    try {
      expected = expectedVpcrs(body.referenceValues);
    } catch (e) {
      throw new Problem('validation-failed', (e as Error).message);
    }
    await resealVolumeKeys?.(trx, vmId, key, expected);
    await trx('vms').where({ tenant_id: tenantId, vm_id: vmId }).update({ release_key_id: body.keyId, reference_values: JSON.stringify(body.referenceValues), policy_updated_at: trx.fn.now() });
    const details: Record<string, string> = { keyId: body.keyId };
    for (const [i, v] of expected) details[`sha256Pcr${i}Digest`] = v.toString('hex');
    await appendAudit(trx, actor, { tenantId, action: 'vm.release-policy', resource: `vm:${vmId}`, outcome: 'success', details });
    return vmSummary(trx, tenantId, await requireVm(trx, tenantId, vmId));
  });
}
