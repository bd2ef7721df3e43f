// Test set-up for the key routes: a fresh store, an in-process host TPM with its key engine,
// the tenant listener with keys enabled, a tenant with its officer (tenant-admin) and a user
// (tenant-user), and signed JSON calls. `importKey` runs the whole BYOK flow with local wrapping.

import { createPublicKey, randomBytes } from 'node:crypto';
import { wrapKeyMaterial } from '@sealkeep/sdk';
import { apiFixture, type ApiFixture, type App, type Caller } from '../quotas/api.fixture.js';
import { keysContext, type KeysContext } from './keys-context.js';
import { openTestEngine, type TestEngine } from './keys.fixture.js';
import type { KeyType } from './key-types.js';

export interface KeysApi {
  f: ApiFixture;
  t: TestEngine;
  keys: KeysContext;
  app: App;
  tenantId: string;
  officer: Caller;
  user: Caller;
  base: string;
  call(who: Caller, method: 'get' | 'post' | 'put' | 'patch' | 'delete', url: string, body?: unknown): ReturnType<ApiFixture['call']>;
  close(): Promise<void>;
}

export async function keysApi(): Promise<KeysApi> {
  const f = await apiFixture();
  const t = await openTestEngine();
  const keys = await keysContext(t.host, t.engine, null);
  const { tenantApp } = f.nodeApps({ keys });
  const { tenantId, officer } = await f.newTenant();
  const user = await f.addPrincipal(tenantId, 'bob', 'tenant-user');
  return {
    f,
    t,
    keys,
    app: tenantApp,
    tenantId,
    officer,
    user,
    base: `/v1/tenants/${tenantId}`,
    call: (who, method, url, body) => f.call(tenantApp, who, method as 'get', url, body),
    async close() {
      await f.store.close();
      await t.close();
    },
  };
}

/** Wrap to a job's wrapping key as the tenant's machine does (the SDK's wrapping; tests skip its evidence check). */
export function wrapForImport(spkiPem: string, material: Buffer, algorithm: 'rsa-aes-key-wrap-sha256' | 'rsa-oaep-sha256'): Buffer {
  return wrapKeyMaterial(material, createPublicKey(spkiPem), algorithm);
}

/** Run an import job and a wrapped import; answers the import's response and the job. */
export async function importKey(api: KeysApi, name: string, type: KeyType, material: Buffer, algorithm: 'rsa-aes-key-wrap-sha256' | 'rsa-oaep-sha256' = 'rsa-aes-key-wrap-sha256') {
  const job = await api.call(api.officer, 'post', `${api.base}/import-jobs`, { keyName: name, keyType: type, nonce: randomBytes(32).toString('base64url') });
  if (job.status !== 201) throw new Error(`import job: ${job.status} ${job.text}`);
  const wrappedKey = wrapForImport(job.body.wrappingKey.spkiPem, material, algorithm).toString('base64');
  const res = await api.call(api.officer, 'post', `${api.base}/keys/import`, { importToken: job.body.importToken, wrappingAlgorithm: algorithm, wrappedKey });
  return { res, job: job.body };
}
