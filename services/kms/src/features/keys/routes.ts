// Key routes (tenant plane): import jobs and wrapped imports, keys generated in the TPM, the
// lifecycle (rotate, enable, disable, scheduled destruction, emergency disable-all,
// classification), and key use — one route per operation, and a batch route beside each.

import { z } from 'zod';
import type { Store } from '@sealkeep/store';
import { route } from '../../http/route.js';
import type { Permission } from '../../auth/permissions.js';
import { KEY_TYPES, type Operation } from './key-types.js';
import { requireKeys, type KeysContext } from './keys-context.js';
import { VOLUME_KEY_TYPE } from './store.js';
import { createImportJob, importWrappedKey, WRAPPING_ALGORITHMS, WRAPPING_SPECS } from './import-jobs.js';
import { disableAllKeys, generateKey, getKey, listKeySummaries, MAX_WAITING_DAYS, MIN_WAITING_DAYS, rotateKey, transition, updateKeyMetadata } from './lifecycle.js';
import { runOperation, type OperationItem } from './operations.js';

const Level = z.enum(['low', 'moderate', 'high']);
const Cia = z.strictObject({ confidentiality: Level, integrity: Level, availability: Level }).describe('FIPS 199 classification');
const KeyName = z.string().regex(/^[A-Za-z0-9][\w.-]{0,127}$/, 'letters, digits and . _ -, at most 128');
const Description = z.string().max(512);
const TenantParams = z.object({ tenantId: z.uuid() });
const KeyParams = z.object({ tenantId: z.uuid(), keyId: z.uuid() });
const Bytes = (max: number) => z.base64().max(Math.ceil(max / 3) * 4);

const KeySummary = z.object({
  keyId: z.string(),
  name: z.string(),
  type: z.enum(KEY_TYPES),
  state: z.enum(['enabled', 'disabled', 'pending-destruction', 'destroyed']),
  primaryVersion: z.number(),
  cia: Cia,
  description: z.string(),
  operations: z.array(z.string()),
  createdAt: z.string(),
  updatedAt: z.string(),
  destroyAfter: z.string().nullable(),
  destroyedAt: z.string().nullable(),
  versions: z.array(z.object({ version: z.number(), origin: z.enum(['generated', 'imported']), createdAt: z.string(), publicKeyPem: z.string().nullable() })),
});

/** Each operation's item: what it takes. Inputs are base64; messages up to 64 KiB. */
const ITEMS: Record<Operation, z.ZodType<OperationItem>> = {
  encrypt: z.strictObject({ plaintext: Bytes(65536), aad: Bytes(8192).optional() }),
  decrypt: z.strictObject({ ciphertext: Bytes(65536 + 64), aad: Bytes(8192).optional() }),
  wrap: z.strictObject({ key: Bytes(512).refine((s) => Buffer.from(s, 'base64').length >= 16, 'a data key of 16 to 512 bytes') }),
  unwrap: z.strictObject({ wrappedKey: Bytes(600) }),
  sign: z.strictObject({ message: Bytes(65536), algorithm: z.enum(['ecdsa', 'rsassa-pkcs1-v1_5', 'rsa-pss']).optional() }),
  verify: z.strictObject({ message: Bytes(65536), signature: Bytes(1024), keyVersion: z.number().int().min(1), algorithm: z.enum(['ecdsa', 'rsassa-pkcs1-v1_5', 'rsa-pss']).optional() }),
  hmac: z.strictObject({ message: Bytes(1024) }),
  'hmac-verify': z.strictObject({ message: Bytes(1024), mac: Bytes(64), keyVersion: z.number().int().min(1) }),
};
const OPERATION_SUMMARY: Record<Operation, string> = {
  encrypt: 'Encrypt with AES-256-GCM under the primary version; the ciphertext names its version',
  decrypt: 'Decrypt a ciphertext with the version it names (the same AAD as at encryption)',
  wrap: 'Wrap a data key (RFC 5649) under the primary version',
  unwrap: 'Unwrap a data key with the version its wrapping names',
  sign: 'Sign a message in the TPM with the primary version (ECDSA: DER signature)',
  verify: 'Verify a signature made by a given version',
  hmac: 'HMAC-SHA-256 of a message (up to 1 KiB), computed in the TPM',
  'hmac-verify': 'Check an HMAC-SHA-256 made by a given version',
};
export const MAX_BATCH = 1000;

function operationRoutes(store: Store, keys: KeysContext | undefined) {
  return (Object.keys(ITEMS) as Operation[]).flatMap((op) => [
    route({
      method: 'post',
      path: `/v1/tenants/:tenantId/keys/:keyId/${op}`,
      plane: 'tenant',
      permission: 'key.use',
      summary: OPERATION_SUMMARY[op],
      params: KeyParams,
      body: ITEMS[op],
      handler: ({ params, body, actor }) => runOperation(requireKeys(keys), store.db, actor!, params.tenantId, params.keyId, op, [body], false),
    }),
    route({
      method: 'post',
      path: `/v1/tenants/:tenantId/keys/:keyId/batch/${op}`,
      plane: 'tenant',
      permission: 'key.use',
      summary: `${OPERATION_SUMMARY[op]} — for up to ${MAX_BATCH} items; each answers on its own (a result, or a problem)`,
      params: KeyParams,
      body: z.strictObject({ items: z.array(ITEMS[op]).min(1).max(MAX_BATCH) }),
      maxBody: 4 * 1024 * 1024,
      handler: ({ params, body, actor }) => runOperation(requireKeys(keys), store.db, actor!, params.tenantId, params.keyId, op, body.items, true),
    }),
  ]);
}

function lifecycleRoute(store: Store, keys: KeysContext | undefined, verb: 'enable' | 'disable' | 'cancel-destruction', permission: Permission, summary: string) {
  return route({
    method: 'post',
    path: `/v1/tenants/:tenantId/keys/:keyId/${verb}`,
    plane: 'tenant',
    permission,
    summary,
    params: KeyParams,
    response: KeySummary,
    handler: ({ params, actor }) => transition(keys, store.db, actor!, params.tenantId, params.keyId, verb),
  });
}

export function keyRoutes(store: Store, keys: KeysContext | undefined) {
  return [
    route({
      method: 'post',
      path: '/v1/tenants/:tenantId/import-jobs',
      plane: 'tenant',
      permission: 'key.import',
      summary: 'Start a BYOK import: a TPM-resident wrapping key, its certification by the AK with the manufacturer certificates, and a one-use token (docs/byok.md)',
      params: TenantParams,
      body: z.strictObject({
        keyName: KeyName,
        keyType: z.enum([...KEY_TYPES, VOLUME_KEY_TYPE]).describe(`a key type, or ${VOLUME_KEY_TYPE} for a volume's DEK (keyName volume-<volume id>)`),
        wrappingKeySpec: z.enum(Object.keys(WRAPPING_SPECS) as ['rsa-3072', 'rsa-4096']).optional(),
        nonce: z.base64url().min(22).max(86).optional().describe('16–64 random bytes (base64url) the evidence must carry'),
      }),
      status: 201,
      handler: ({ params, body, actor }) => createImportJob(requireKeys(keys), store.db, actor!, params.tenantId, body),
    }),
    route({
      method: 'post',
      path: '/v1/tenants/:tenantId/keys/import',
      plane: 'tenant',
      permission: 'key.import',
      summary: 'Import wrapped key material with an import token: a new key, or a new version of the key the job named',
      params: TenantParams,
      body: z.strictObject({ importToken: z.string().min(16).max(128), wrappingAlgorithm: z.enum(WRAPPING_ALGORITHMS), wrappedKey: Bytes(8192), cia: Cia.optional(), description: Description.optional() }),
      response: KeySummary,
      status: 201,
      handler: ({ params, body, actor }) => importWrappedKey(requireKeys(keys), store.db, actor!, params.tenantId, body),
    }),
    route({
      method: 'post',
      path: '/v1/tenants/:tenantId/keys',
      plane: 'tenant',
      permission: 'key.generate',
      summary: 'Generate a key inside the TPM (never exportable)',
      params: TenantParams,
      body: z.strictObject({ name: KeyName, type: z.enum(KEY_TYPES), cia: Cia.optional(), description: Description.optional() }),
      response: KeySummary,
      status: 201,
      handler: ({ params, body, actor }) => generateKey(requireKeys(keys), store.db, actor!, params.tenantId, body),
    }),
    route({
      method: 'get',
      path: '/v1/tenants/:tenantId/keys',
      plane: 'tenant',
      permission: 'key.read',
      summary: "The tenant's keys and their versions (never material)",
      params: TenantParams,
      response: z.array(KeySummary),
      handler: ({ params }) => listKeySummaries(store.db, params.tenantId),
    }),
    route({
      method: 'get',
      path: '/v1/tenants/:tenantId/keys/:keyId',
      plane: 'tenant',
      permission: 'key.read',
      summary: 'One key and its versions',
      params: KeyParams,
      response: KeySummary,
      handler: ({ params }) => getKey(store.db, params.tenantId, params.keyId),
    }),
    route({
      method: 'patch',
      path: '/v1/tenants/:tenantId/keys/:keyId',
      plane: 'tenant',
      permission: 'key.classify',
      summary: "Change a key's C.I.A. classification or description",
      params: KeyParams,
      body: z.strictObject({ cia: Cia.partial().optional(), description: Description.optional() }),
      response: KeySummary,
      handler: ({ params, body, actor }) => updateKeyMetadata(store.db, actor!, params.tenantId, params.keyId, body),
    }),
    route({
      method: 'post',
      path: '/v1/tenants/:tenantId/keys/:keyId/rotate',
      plane: 'tenant',
      permission: 'key.rotate',
      summary: 'Generate a new primary version in the TPM; older versions still decrypt and verify',
      params: KeyParams,
      response: KeySummary,
      handler: ({ params, actor }) => rotateKey(requireKeys(keys), store.db, actor!, params.tenantId, params.keyId),
    }),
    lifecycleRoute(store, keys, 'enable', 'key.enable', 'Enable a disabled key'),
    lifecycleRoute(store, keys, 'disable', 'key.disable', 'Disable a key: no operation uses it until it is enabled again'),
    lifecycleRoute(store, keys, 'cancel-destruction', 'key.destroy', 'Cancel a scheduled destruction; the key stays disabled'),
    route({
      method: 'post',
      path: '/v1/tenants/:tenantId/keys/:keyId/schedule-destruction',
      plane: 'tenant',
      permission: 'key.destroy',
      summary: `Schedule destruction after a waiting period of ${MIN_WAITING_DAYS}–${MAX_WAITING_DAYS} days; then every blob of the key is erased`,
      params: KeyParams,
      body: z.strictObject({ waitingPeriodDays: z.number().int().min(MIN_WAITING_DAYS).max(MAX_WAITING_DAYS) }),
      response: KeySummary,
      handler: ({ params, body, actor }) => transition(keys, store.db, actor!, params.tenantId, params.keyId, 'schedule-destruction', body.waitingPeriodDays),
    }),
    route({
      method: 'post',
      path: '/v1/tenants/:tenantId/keys/disable-all',
      plane: 'tenant',
      permission: 'key.disable',
      summary: "Emergency: disable every enabled key of the tenant at once",
      params: TenantParams,
      response: z.object({ disabled: z.array(z.string()) }),
      handler: ({ params, actor }) => disableAllKeys(keys, store.db, actor!, params.tenantId),
    }),
    ...operationRoutes(store, keys),
  ];
}
