// VM and volume routes (tenant plane): tenant users and delegates register VMs and volumes; the
// tenant's officer writes each VM's release policy; the tenant's principals read them.

import { z } from 'zod';
import type { Store } from '@sealkeep/store';
import { route } from '../../http/route.js';
import { addVolume, getVm, listVms, registerVm, removeVolume, setReleasePolicy } from './service.js';
import { startVm } from './boot.js';
import { withVmTpm } from './vm-tpms.js';
import { Problem } from '../../http/problems.js';
import { requireBlockDeps, type BlockDeps } from '../blocks/release.js';
import { resealVolumeKeys } from '../blocks/volume-keys.js';
import { vmEvidence, type VmEvidenceDeps } from './evidence.js';

const Level = z.enum(['low', 'moderate', 'high']);
const Name = z.string().regex(/^[A-Za-z0-9][\w.-]{0,127}$/, 'letters, digits and . _ -, at most 128');
const TenantParams = z.object({ tenantId: z.uuid() });
const VmParams = z.object({ tenantId: z.uuid(), vmId: z.uuid() });
const Sha256 = z.string().regex(/^[0-9a-fA-F]{64}$/, 'a SHA-256 value, hex').transform((v) => v.toLowerCase());
const ReferenceValues = z
  .strictObject({
    pcrs: z.strictObject({ sha256: z.record(z.string().regex(/^(?:[0-9]|1[0-5])$/, "a VM's PCR index 0–15"), Sha256) }).optional(),
    events: z.strictObject({ configuration: Sha256.optional(), bootVolume: Sha256.optional() }).optional(),
  })
  .refine((r) => Object.keys(r.pcrs?.sha256 ?? {}).length + Object.keys(r.events ?? {}).length > 0, 'expected vPCR values or event digests');
/** A VM's measured boot, TCG CEL JSON (checked in full by the boot handler). */
const BootLog = z.strictObject({ events: z.array(z.unknown()).min(1).max(1024) });

export function vmRoutes(store: Store, blocks: BlockDeps, evidence: VmEvidenceDeps = {}) {
  return [
    route({
      method: 'get',
      path: '/v1/vms/:vmId/evidence',
      plane: 'compliance',
      permission: 'evidence.read',
      summary: "The VM's current boot (host, CEL log, vPCRs), its reference values, its host's last accepted attestation and the service's measurements, with a boot statement signed by the service TPM's AK, to verify offline (packages/attestation/src/vm/README.md)",
      params: z.object({ vmId: z.uuid() }),
      handler: ({ params, actor }) => vmEvidence(store.db, actor!, evidence, params.vmId),
    }),
    route({
      method: 'post',
      path: '/v1/tenants/:tenantId/vms/:vmId/boot',
      plane: 'data',
      permission: 'vm.measure',
      summary: "A VM starts on the caller's attested host, for a tenant principal (delegation): its measured-boot events (TCG CEL JSON) are extended into its vTPM and compared with its release policy",
      params: VmParams,
      body: BootLog,
      maxBody: 1024 * 1024,
      handler: async ({ params, body, principal, actor }) => {
        if (!blocks.vtpms) throw new Problem('keys-unavailable', 'VM vTPMs need the unsealed service root');
        const boot = await startVm(store.db, blocks.vtpms, principal!, actor!, params.tenantId, params.vmId, body.events);
        // The VM restarted: block sessions of its earlier boot end now, not at their next check.
        await blocks.sessions?.endWhere((s) => s.vmId === params.vmId && s.bootId !== boot.bootId, 'vm-restarted');
        return boot;
      },
    }),
    route({
      method: 'post',
      path: '/v1/tenants/:tenantId/vms',
      plane: 'tenant',
      permission: 'vm.register',
      summary: 'Register a VM (counted against the VM quota)',
      params: TenantParams,
      body: z.strictObject({ name: Name }),
      status: 201,
      handler: ({ params, body, actor }) => registerVm(store.db, actor!, params.tenantId, body),
    }),
    route({
      method: 'get',
      path: '/v1/tenants/:tenantId/vms',
      plane: 'tenant',
      permission: 'vm.read',
      summary: "The tenant's VMs with their volumes and release policies",
      params: TenantParams,
      handler: ({ params }) => listVms(store.db, params.tenantId),
    }),
    route({
      method: 'get',
      path: '/v1/tenants/:tenantId/vms/:vmId',
      plane: 'tenant',
      permission: 'vm.read',
      summary: 'One VM',
      params: VmParams,
      handler: ({ params }) => getVm(store.db, params.tenantId, params.vmId),
    }),
    route({
      method: 'post',
      path: '/v1/tenants/:tenantId/vms/:vmId/volumes',
      plane: 'tenant',
      permission: 'vm.register',
      summary: 'Add a volume (counted against the volume and volume-size quotas)',
      params: VmParams,
      body: z.strictObject({
        name: Name,
        sizeBytes: z.number().int().min(512).max(2 ** 50),
        sectorSize: z.union([z.literal(512), z.literal(4096)]),
        cia: z.strictObject({ confidentiality: Level, integrity: Level, availability: Level }).optional(),
      }),
      status: 201,
      handler: ({ params, body, actor }) => addVolume(store.db, actor!, params.tenantId, params.vmId, body),
    }),
    route({
      method: 'delete',
      path: '/v1/tenants/:tenantId/vms/:vmId/volumes/:volumeId',
      plane: 'tenant',
      permission: 'vm.register',
      summary: 'Remove a volume (its quota is given back)',
      params: z.object({ tenantId: z.uuid(), vmId: z.uuid(), volumeId: z.uuid() }),
      handler: ({ params, actor }) => removeVolume(store.db, actor!, params.tenantId, params.vmId, params.volumeId),
    }),
    route({
      method: 'put',
      path: '/v1/tenants/:tenantId/vms/:vmId/release-policy',
      plane: 'tenant',
      permission: 'policy.write',
      summary: "The VM's release policy: the key its volume keys are released under, and the vPCR values its measured boot must match",
      params: VmParams,
      body: z.strictObject({ keyId: z.uuid(), referenceValues: ReferenceValues }),
      handler: ({ params, body, actor }) =>
        withVmTpm(blocks.vtpms, params.vmId, () =>
          setReleasePolicy(store.db, actor!, params.tenantId, params.vmId, body, async (trx, vmId, kek, expected) => {
            if (!(await trx('volume_keys').join('volumes', 'volumes.volume_id', 'volume_keys.volume_id').where({ 'volumes.vm_id': vmId }).first())) return;
            await resealVolumeKeys(trx, requireBlockDeps(blocks), params.tenantId, vmId, kek, expected);
          }),
        ),
    }),
  ];
}
