// The audit trail as the service writes it: a tenant's creation and its officer's enrollment
// open the tenant's chain; the export verifies offline; a row altered, deleted or reordered in
// the database is named by the verifier; concurrent appends never fork a chain; a change that
// rolls back leaves no entry; only the tenant's officer and reviewers may export it.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { jwkThumbprint, publicJwk, newKeyPair } from '@sealkeep/crypto';
import { verifyAuditLog } from '@sealkeep/attestation';
import { authorizationHeader, selfSignedAuthorizationHeader } from '@sealkeep/sdk';
import { freshStore } from '@sealkeep/store/testing';
import type { Store } from '@sealkeep/store';
import { buildListeners } from '../server.js';
import { insertPrincipal } from '../features/principals/store.js';
import { appendAudit, exportChain, type AuditActor } from './audit-log.js';

type App = Parameters<typeof request>[0];
let store: Store;
let tenantApp: App, adminApp: App;
const ops = { id: randomUUID(), key: newKeyPair('ed25519') };
const reviewer = { id: randomUUID(), key: newKeyPair('ed25519') };
const officer = newKeyPair('ed25519');
let tenantId: string;
let officerId: string;

/** Findings other than the warning that entries await a TPM-signed checkpoint (not written yet). */
const faults = (r: ReturnType<typeof verifyAuditLog>) => r.findings.filter((f) => f.id !== 'audit.entry.unsigned');

const signed = (who: { id: string; key: { privateKey: import('node:crypto').KeyObject } }, method: string, url: string, body?: string) =>
  authorizationHeader({ key: who.key.privateKey, principalId: who.id, method, url, ...(body ? { body } : {}) });

before(async () => {
  store = await freshStore();
  for (const [p, name, role] of [[ops, 'ops', 'cloud-admin'], [reviewer, 'ivy', 'reviewer']] as const) {
    const jwk = publicJwk(p.key.publicKey);
    await insertPrincipal(store.db, { principal_id: p.id, tenant_id: null, name, role, public_jwk: jwk, jwk_thumbprint: jwkThumbprint(jwk) });
  }
  [tenantApp, adminApp] = buildListeners({ store }, [['tenant'], ['admin', 'compliance']]) as unknown as [App, App];
  const body = JSON.stringify({ name: 'acme' });
  const created = await request(adminApp).post('/v1/tenants').set('content-type', 'application/json').set('authorization', signed(ops, 'POST', '/v1/tenants', body)).send(body);
  tenantId = created.body.tenantId;
  const enrollBody = JSON.stringify({ code: created.body.enrollment.code, name: 'alice' });
  const enrolled = await request(tenantApp)
    .post('/v1/enroll')
    .set('content-type', 'application/json')
    .set('authorization', selfSignedAuthorizationHeader({ key: officer.privateKey, method: 'POST', url: '/v1/enroll', body: enrollBody }))
    .send(enrollBody);
  officerId = enrolled.body.principalId;
});
after(() => store.close());

test("creation and enrollment open the tenant's chain, naming who did each; the export verifies offline", async () => {
  const res = await request(tenantApp).get(`/v1/tenants/${tenantId}/audit`).set('authorization', signed({ id: officerId, key: officer }, 'GET', `/v1/tenants/${tenantId}/audit`));
  assert.equal(res.status, 200, res.text);
  const entries = res.body.lines.map((l: string) => JSON.parse(l));
  assert.deepEqual(entries.map((e: { seq: number; action: string; principal: string; plane: string }) => [e.seq, e.action, e.principal, e.plane]), [
    [1, 'tenant.create', 'ca:ops', 'admin'],
    [2, 'principal.enroll', 'tn:alice', 'tenant'],
  ]);
  const report = verifyAuditLog(res.body.lines);
  assert.deepEqual(faults(report), []);
  assert.deepEqual(report.findings.map((f) => f.id), ['audit.entry.unsigned'], 'honest about the missing checkpoint');
  assert.ok(!res.body.lines.join('').includes('skenroll_'), 'the enrollment code never enters the log');
});

test('only the tenant officer (own tenant) and reviewers export a chain', async () => {
  const other = randomUUID();
  const denied = await request(tenantApp).get(`/v1/tenants/${other}/audit`).set('authorization', signed({ id: officerId, key: officer }, 'GET', `/v1/tenants/${other}/audit`));
  assert.equal(denied.status, 403);
  const url = `/v1/audit/chains/${tenantId}`;
  const asOps = await request(adminApp).get(url).set('authorization', signed(ops, 'GET', url));
  assert.equal(asOps.status, 403, 'the cloud-admin reads audit metadata, not exports');
  const asReviewer = await request(adminApp).get(url).set('authorization', signed(reviewer, 'GET', url));
  assert.equal(asReviewer.status, 200);
  assert.equal(asReviewer.body.lines.length, 2);
});

const actor: AuditActor = { plane: 'admin', principal: 'ca:ops', actorChain: ['ca:ops'], requestId: 'r-1' };

test('concurrent appends to one chain are serialised: no fork, no gap', async () => {
  const chain = randomUUID();
  await Promise.all(
    Array.from({ length: 25 }, (_, i) =>
      store.db.transaction((trx) => appendAudit(trx, actor, { tenantId: chain, action: 'test.append', resource: `item:${i}`, outcome: 'success' })),
    ),
  );
  const lines = await exportChain(store.db, chain);
  assert.deepEqual(lines.map((l) => JSON.parse(l).seq), Array.from({ length: 25 }, (_, i) => i + 1));
  assert.deepEqual(faults(verifyAuditLog(lines)), []);
});

test('a change that rolls back takes its audit entry with it', async () => {
  const chain = randomUUID();
  await store.db.transaction((trx) => appendAudit(trx, actor, { tenantId: chain, action: 'test.kept', resource: 'x', outcome: 'success' }));
  await assert.rejects(
    store.db.transaction(async (trx) => {
      await appendAudit(trx, actor, { tenantId: chain, action: 'test.lost', resource: 'x', outcome: 'success' });
      throw new Error('the change failed');
    }),
  );
  assert.deepEqual((await exportChain(store.db, chain)).map((l) => JSON.parse(l).action), ['test.kept']);
});

test('a row altered, deleted or reordered in the database is named by the offline verifier', async () => {
  const chain = randomUUID();
  for (let i = 0; i < 6; i++) {
    await store.db.transaction((trx) => appendAudit(trx, actor, { tenantId: chain, action: 'test.step', resource: `step:${i}`, outcome: 'success' }));
  }
  const rows = () => store.db('audit_entries').where({ chain_id: chain });
  // An administrator with full database access edits entry 3's resource.
  const third = await rows().where({ seq: 3 }).first();
  await rows().where({ seq: 3 }).update({ line: third.line.replace('step:2', 'step:X') });
  let report = verifyAuditLog(await exportChain(store.db, chain));
  assert.deepEqual(faults(report).map((f) => [f.id, f.seq]), [['audit.entry.altered', 3]]);
  // …then deletes entry 5.
  await rows().where({ seq: 5 }).delete();
  report = verifyAuditLog(await exportChain(store.db, chain));
  assert.ok(report.findings.some((f) => f.id === 'audit.entry.missing'), JSON.stringify(report.findings));
  // …and an exporter that reorders lines is caught too.
  const lines = await exportChain(store.db, chain);
  [lines[0], lines[1]] = [lines[1]!, lines[0]!];
  assert.ok(verifyAuditLog(lines).findings.some((f) => f.id === 'audit.entry.reordered'));
});
