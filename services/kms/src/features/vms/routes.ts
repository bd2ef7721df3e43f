// VM and volume routes (tenant plane): tenant users and delegates register VMs and volumes; the
// tenant's officer writes each VM's release policy; the tenant's principals read them.

import { z } from 'zod';
import type { Store } from '@sealkeep/store';
import { route } from '../../http/route.js';
import { addVolume, getVm, listVms, registerVm, removeVolume, setReleasePolicy } from './service.js';

const Level = z.enum(['low', 'moderate', 'high']);
const Name = z.string().regex(/^[A-Za-z0-9][\w.-]{0,127}$/, 'letters, digits and . _ -, at most 128');
const TenantParams = z.object({ tenantId: z.uuid() });
const VmParams = z.object({ tenantId: z.uuid(), vmId: z.uuid() });
const Hex = z.string().regex(/^(?:[0-9a-fA-F]{40}|[0-9a-fA-F]{64}|[0-9a-fA-F]{96})$/, 'a SHA-1, SHA-256 or SHA-384 value, hex');
const ReferenceValues = z.strictObject({
  pcrs: z.partialRecord(z.enum(['sha1', 'sha256', 'sha384']), z.record(z.string().regex(/^(?:[0-9]|1[0-9]|2[0-3])$/, 'a PCR index 0–23'), Hex)),
});

export function vmRoutes(store: Store) {
  return [
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
      handler: ({ params, body, actor }) => setReleasePolicy(store.db, actor!, params.tenantId, params.vmId, body),
    }),
  ];
}
