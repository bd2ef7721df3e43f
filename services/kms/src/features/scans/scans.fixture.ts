// Test support for scans: a store with a reviewer and a compliance listener whose scan runner the
// test holds, and a fleet planted straight into the store (hundreds of VMs in a few statements):
// tenants, each with an enabled release key, VMs with PCR-bound release policies, volumes with
// sealed keys, boots that matched on an attested host, and a short audit chain. Problems are then
// planted one by one (plant.*), each returning the subject its finding must name.

import { randomBytes, randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import request from 'supertest';
import { authorizationHeader } from '@sealkeep/sdk';
import { asSystem } from '@sealkeep/store';
import { appendAudit, type AuditActor } from '../../audit/audit-log.js';
import { apiFixture, type ApiFixture, type App, type Caller } from '../quotas/api.fixture.js';
import { ScanRunner, type ScanRunnerOptions } from './runner.js';

export const FRESH_SECONDS = 600;
const SETUP = 'test set-up: a fleet planted for a compliance scan';
const PCRS = { sha256: { '0': 'aa'.repeat(32), '7': 'bb'.repeat(32) } };
const fakeBlob = () => randomBytes(48); // stands for a TPM private blob: never opened by a scan

export interface ScanFixture {
  f: ApiFixture;
  store: ApiFixture['store'];
  runner: ScanRunner;
  compliance: App;
  reviewer: Caller;
  /** A signed call as the reviewer (or `who`) to the compliance listener. */
  call(method: 'get' | 'post', url: string, body?: unknown, who?: Caller): Promise<request.Response>;
  close(): Promise<void>;
}

/** A signed call as `who` to a compliance listener. */
export function callAs(app: App, who: Caller, method: 'get' | 'post', url: string, body?: unknown): Promise<request.Response> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const req = request(app)[method](url).set('authorization', authorizationHeader({ key: who.key, principalId: who.id, method, url, ...(payload ? { body: payload } : {}) }));
  return payload ? req.set('content-type', 'application/json').send(payload) : req;
}

export async function scanFixture(opts: ScanRunnerOptions = {}): Promise<ScanFixture> {
  const f = await apiFixture();
  const runner = new ScanRunner(f.store.db, opts);
  const reviewer = await f.addPrincipal(null, 'ivy', 'reviewer');
  const { adminApp: compliance } = f.nodeApps({ scans: runner, hosts: { settings: { trustedRoots: [], freshSeconds: FRESH_SECONDS } } });
  return {
    f,
    store: f.store,
    runner,
    compliance,
    reviewer,
    call: (method, url, body, who = reviewer) => callAs(compliance, who, method, url, body),
    async close() {
      await runner.stop('the test ended');
      await f.store.close();
    },
  };
}

export interface Fleet {
  tenants: string[];
  hostId: string;
  /** vm id → its tenant, in insertion order. */
  vms: Array<{ tenantId: string; vmId: string }>;
  releaseKeys: Map<string, string>;
}

const actorFor = (label: string): AuditActor => ({ plane: 'tenant', principal: label, actorChain: [label], requestId: randomUUID() });

async function insertInChunks(trx: Knex.Transaction, table: string, rows: object[]): Promise<void> {
  for (let i = 0; i < rows.length; i += 500) await trx(table).insert(rows.slice(i, i + 500));
}

/** A healthy fleet: `tenants` tenants × `vmsPerTenant` VMs with two volumes each, and an attested host. */
export async function plantFleet(db: Knex, opts: { tenants: number; vmsPerTenant: number; auditEntriesPerTenant?: number }): Promise<Fleet> {
  const hostId = randomUUID();
  const fleet: Fleet = { tenants: [], hostId, vms: [], releaseKeys: new Map() };
  const rows = { tenants: [] as object[], keys: [] as object[], versions: [] as object[], vms: [] as object[], volumes: [] as object[], volumeKeys: [] as object[], boots: [] as object[] };
  for (let t = 0; t < opts.tenants; t++) {
    const tenantId = randomUUID();
    const keyId = randomUUID();
    fleet.tenants.push(tenantId);
    fleet.releaseKeys.set(tenantId, keyId);
    rows.tenants.push({ tenant_id: tenantId, name: `fleet-${tenantId}` });
    rows.keys.push({ key_id: keyId, tenant_id: tenantId, name: 'release', type: 'aes-256', state: 'enabled', primary_version: 1, confidentiality: 'moderate', integrity: 'moderate', availability: 'moderate' });
    rows.versions.push({ key_id: keyId, version: 1, tenant_id: tenantId, origin: 'generated', private_blob: fakeBlob() });
    for (let v = 0; v < opts.vmsPerTenant; v++) {
      const vmId = randomUUID();
      const bootId = randomUUID();
      fleet.vms.push({ tenantId, vmId });
      rows.vms.push({ vm_id: vmId, tenant_id: tenantId, name: `vm-${v}`, release_key_id: keyId, reference_values: JSON.stringify({ pcrs: PCRS }), policy_updated_at: new Date(Date.now() - 3600_000) });
      rows.boots.push({ boot_id: bootId, tenant_id: tenantId, vm_id: vmId, host_id: hostId, log: '[]', vpcrs: JSON.stringify(PCRS), policy_result: 'match', actor_chain: '["hv:fleet-host"]' });
      for (const name of ['boot', 'data']) {
        const volumeId = randomUUID();
        rows.volumes.push({ volume_id: volumeId, tenant_id: tenantId, vm_id: vmId, name, size_bytes: 1 << 20, sector_size: 4096, confidentiality: name === 'data' ? 'high' : 'moderate', integrity: 'moderate', availability: 'moderate' });
        rows.volumeKeys.push({ volume_id: volumeId, tenant_id: tenantId, kek_id: keyId, kek_version: 1, sealed_public: fakeBlob(), sealed_private: fakeBlob(), sealed_vpcrs: JSON.stringify(PCRS), origin: 'generated' });
      }
    }
  }
  await asSystem(db, SETUP, async (trx) => {
    await trx('hosts').insert({ host_id: hostId, name: 'fleet-host', ek_certificate: Buffer.from('not parsed by scans'), approved_mle: JSON.stringify(['cc'.repeat(32)]), status: 'attested', attested_at: new Date(), attested_until: new Date(Date.now() + 3600_000) });
    await insertInChunks(trx, 'tenants', rows.tenants);
    await insertInChunks(trx, 'keys', rows.keys);
    await insertInChunks(trx, 'key_versions', rows.versions);
    await insertInChunks(trx, 'vms', rows.vms);
    await insertInChunks(trx, 'vm_boots', rows.boots);
    for (const b of rows.boots as Array<{ boot_id: string; vm_id: string }>) await trx('vms').where({ vm_id: b.vm_id }).update({ current_boot_id: b.boot_id });
    await insertInChunks(trx, 'volumes', rows.volumes);
    await insertInChunks(trx, 'volume_keys', rows.volumeKeys);
  });
  for (const tenantId of fleet.tenants) {
    for (let i = 0; i < (opts.auditEntriesPerTenant ?? 5); i++) {
      await db.transaction((trx) => appendAudit(trx, actorFor('tn:alice'), { tenantId, action: 'vm.register', resource: `vm:${i}`, outcome: 'success' }));
    }
  }
  return fleet;
}

/** Problems planted into a healthy fleet; each returns the subject its finding names. */
export const plant = {
  async vmWithoutPolicy(db: Knex, tenantId: string): Promise<string> {
    const vmId = randomUUID();
    await asSystem(db, SETUP, (trx) => trx('vms').insert({ vm_id: vmId, tenant_id: tenantId, name: `no-policy-${vmId.slice(0, 8)}` }));
    return `tenant:${tenantId}/vm:${vmId}`;
  },

  async highConfidentialityVolumeWithoutPolicy(db: Knex, tenantId: string): Promise<string> {
    const vmId = randomUUID();
    const volumeId = randomUUID();
    await asSystem(db, SETUP, async (trx) => {
      await trx('vms').insert({ vm_id: vmId, tenant_id: tenantId, name: `secret-${vmId.slice(0, 8)}` });
      await trx('volumes').insert({ volume_id: volumeId, tenant_id: tenantId, vm_id: vmId, name: 'secrets', size_bytes: 4096, sector_size: 4096, confidentiality: 'high', integrity: 'high', availability: 'low' });
    });
    return `tenant:${tenantId}/vm:${vmId}/volume:${volumeId}`;
  },

  /** An administrator with database access edits a written audit entry. */
  async tamperedAuditEntry(db: Knex, tenantId: string, seq = 2): Promise<string> {
    await asSystem(db, SETUP, async (trx) => {
      const row = await trx('audit_entries').where({ chain_id: tenantId, seq }).first();
      await trx('audit_entries').where({ chain_id: tenantId, seq }).update({ line: (row.line as string).replace('"outcome":"success"', '"outcome":"denied"') });
    });
    return `chain:${tenantId}/seq:${seq}`;
  },

  /** A host whose last good attestation is two hours old. */
  async staleHost(db: Knex): Promise<string> {
    const hostId = randomUUID();
    const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
    await asSystem(db, SETUP, (trx) =>
      trx('hosts').insert({ host_id: hostId, name: `stale-${hostId.slice(0, 8)}`, ek_certificate: Buffer.from('x'), approved_mle: JSON.stringify(['dd'.repeat(32)]), status: 'attested', attested_at: twoHoursAgo, attested_until: new Date(twoHoursAgo.getTime() + FRESH_SECONDS * 1000) }),
    );
    return `host:${hostId}`;
  },

  /** A signing key whose only version is 400 days old. */
  async oldKey(db: Knex, tenantId: string, cia: { confidentiality?: string; integrity?: string } = {}): Promise<string> {
    const keyId = randomUUID();
    const created = new Date(Date.now() - 400 * 86400_000);
    await asSystem(db, SETUP, async (trx) => {
      await trx('keys').insert({ key_id: keyId, tenant_id: tenantId, name: `legacy-${keyId.slice(0, 8)}`, type: 'ec-p256', state: 'enabled', primary_version: 1, confidentiality: cia.confidentiality ?? 'moderate', integrity: cia.integrity ?? 'moderate', availability: 'moderate', created_at: created });
      await trx('key_versions').insert({ key_id: keyId, version: 1, tenant_id: tenantId, origin: 'imported', private_blob: fakeBlob(), created_at: created });
    });
    return `tenant:${tenantId}/key:${keyId}`;
  },
};

/** Poll a scan until it is done or failed; every state seen, in order. */
export async function followScan(fx: ScanFixture, scanId: string, timeoutMs = 120_000): Promise<Array<{ status: string; percent: number; step: string; body: Record<string, any> }>> {
  const seen: Array<{ status: string; percent: number; step: string; body: Record<string, any> }> = [];
  const until = Date.now() + timeoutMs;
  for (;;) {
    const r = await fx.call('get', `/v1/scans/${scanId}`);
    if (r.status !== 200) throw new Error(`GET scan: ${r.status} ${r.text}`);
    seen.push({ status: r.body.status, percent: r.body.percent, step: r.body.step, body: r.body });
    if (r.body.status === 'done' || r.body.status === 'failed') return seen;
    if (Date.now() > until) throw new Error(`scan ${scanId} still ${r.body.status} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
