// The request pipeline every route goes through: problems with stable types for each failure
// (unknown route, wrong method, malformed or oversize body, wrong media type, schema violation,
// no credentials, wrong role, other tenant, internal error without internal detail), and an
// OpenAPI 3.1 document per listener that lists exactly its planes' operations.

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import { z } from 'zod';
import type { Store } from '@sealkeep/store';
import { mountListener, type Principal } from './mount.js';
import { PROBLEM_BASE } from './problems.js';
import { route, type AnyRoute } from './route.js';
import { buildListeners } from '../server.js';
import { PERMISSIONS, ROLES } from '../auth/permissions.js';

const fakeStore = (up: boolean) => ({ ping: async () => up }) as unknown as Store;

const internalErrors: unknown[] = [];
const testRoutes: AnyRoute[] = [
  route({
    method: 'post',
    path: '/v1/tenants/:tenantId/things',
    plane: 'tenant',
    permission: 'key.generate',
    summary: 'make a thing',
    params: z.object({ tenantId: z.string().min(1) }),
    body: z.strictObject({ name: z.string().min(1).max(32), size: z.number().int().positive() }),
    status: 201,
    maxBody: 1024,
    handler: ({ params, body }) => ({ tenantId: params.tenantId, ...body }),
  }),
  route({
    method: 'get',
    path: '/v1/boom',
    plane: 'tenant',
    permission: 'self.read',
    summary: 'fails inside',
    handler: () => {
      throw new Error('SELECT secret FROM keys -- internal detail');
    },
  }),
];

// The test authenticator reads the principal from a header; the real one verifies a request proof.
const app = mountListener({
  planes: ['tenant'],
  routes: testRoutes,
  authenticate: async (req) => {
    const h = req.header('x-test-principal');
    return h ? (JSON.parse(h) as Principal) : null;
  },
  onInternalError: (e) => internalErrors.push(e),
});
const admin: Principal = { id: 'tn:acme/alice', name: 'alice', role: 'tenant-admin', tenantId: 'acme' };
const as = (p: Principal) => ({ 'x-test-principal': JSON.stringify(p) });

function expectProblem(res: request.Response, status: number, slug: string) {
  assert.equal(res.status, status, JSON.stringify(res.body));
  assert.match(res.headers['content-type'] ?? '', /^application\/problem\+json/);
  const body = JSON.parse(res.text);
  assert.equal(body.type, PROBLEM_BASE + slug);
  assert.equal(body.status, status);
  assert.ok(body.title);
  return body;
}

describe('request pipeline', () => {
  test('success: validated input reaches the handler; the status is the route\'s', async () => {
    const res = await request(app).post('/v1/tenants/acme/things').set(as(admin)).send({ name: 'disk', size: 3 });
    assert.equal(res.status, 201);
    assert.deepEqual(res.body, { tenantId: 'acme', name: 'disk', size: 3 });
    assert.match(res.headers['x-request-id'] ?? '', /^[\w-]+$/);
  });

  const cases: Array<[string, () => request.Test, number, string]> = [
    ['unknown route', () => request(app).get('/v1/nothing'), 404, 'not-found'],
    ['wrong method', () => request(app).delete('/v1/tenants/acme/things'), 405, 'method-not-allowed'],
    ['no credentials', () => request(app).post('/v1/tenants/acme/things').send({ name: 'x', size: 1 }), 401, 'unauthenticated'],
    ['role without the permission', () => request(app).post('/v1/tenants/acme/things').set(as({ ...admin, role: 'tenant-user' })).send({ name: 'x', size: 1 }), 403, 'forbidden'],
    ['cloud-admin on a tenant route', () => request(app).post('/v1/tenants/acme/things').set(as({ id: 'ca:root', name: 'root', role: 'cloud-admin', tenantId: null })).send({ name: 'x', size: 1 }), 403, 'forbidden'],
    ['another tenant', () => request(app).post('/v1/tenants/globex/things').set(as(admin)).send({ name: 'x', size: 1 }), 403, 'forbidden'],
    ['malformed JSON', () => request(app).post('/v1/tenants/acme/things').set(as(admin)).set('content-type', 'application/json').send('{"name":'), 400, 'malformed-request'],
    ['not JSON', () => request(app).post('/v1/tenants/acme/things').set(as(admin)).set('content-type', 'text/plain').send('name=x'), 415, 'unsupported-media-type'],
    ['body over the route limit', () => request(app).post('/v1/tenants/acme/things').set(as(admin)).send({ name: 'x'.repeat(2000), size: 1 }), 413, 'payload-too-large'],
  ];
  for (const [name, call, status, slug] of cases) {
    test(`${name} → ${status} ${slug}`, async () => {
      expectProblem(await call(), status, slug);
    });
  }

  test('schema violations name every failing field, and unknown fields are refused', async () => {
    const res = await request(app).post('/v1/tenants/acme/things').set(as(admin)).send({ name: '', size: -1, extra: true });
    const body = expectProblem(res, 400, 'validation-failed');
    const paths = (body.errors as Array<{ path: string }>).map((e) => e.path).sort();
    assert.deepEqual(paths, ['', 'name', 'size']);
  });

  test('an internal error is a 500 problem that names the request, not the cause', async () => {
    const res = await request(app).get('/v1/boom').set(as(admin));
    const body = expectProblem(res, 500, 'internal');
    assert.doesNotMatch(res.text, /SELECT|secret|internal detail|at /);
    assert.equal(body.detail, `request ${res.headers['x-request-id']}`);
    assert.equal(internalErrors.length, 1);
  });
});

describe('listeners and their OpenAPI documents', () => {
  const [tenantApp, adminApp] = buildListeners({ store: fakeStore(true) }, [['tenant'], ['admin', 'compliance']]);

  test('health and readiness on the admin listener; readiness fails as a problem when the store is down', async () => {
    assert.deepEqual((await request(adminApp!).get('/healthz')).body, { status: 'ok' });
    assert.deepEqual((await request(adminApp!).get('/readyz')).body, { status: 'ready', checks: { store: true } });
    const [, down] = buildListeners({ store: fakeStore(false) }, [['tenant'], ['admin']]);
    const body = expectProblem(await request(down!).get('/readyz'), 503, 'service-unavailable');
    assert.deepEqual(body.checks, { store: false });
    expectProblem(await request(tenantApp!).get('/healthz'), 404, 'not-found');
  });

  test('each listener documents only its own planes, every operation with its permission and roles', async () => {
    const doc = (await request(adminApp!).get('/openapi.json')).body;
    assert.equal(doc.openapi, '3.1.0');
    assert.ok(doc.paths['/readyz'].get);
    for (const ops of Object.values(doc.paths) as Array<Record<string, { 'x-sealkeep-permission': keyof typeof PERMISSIONS; 'x-sealkeep-roles': string[] }>>) {
      for (const op of Object.values(ops)) {
        assert.ok(op['x-sealkeep-permission'] in PERMISSIONS);
        assert.deepEqual(op['x-sealkeep-roles'], [...PERMISSIONS[op['x-sealkeep-permission']]]);
      }
    }
    const tenantDoc = (await request(tenantApp!).get('/openapi.json')).body;
    assert.equal(tenantDoc.paths['/readyz'], undefined, 'no admin operation on the tenant listener');
  });
});

test('the permission table names only known roles, and the cloud-admin holds no key or data permission', () => {
  for (const [perm, roles] of Object.entries(PERMISSIONS)) {
    for (const r of roles) assert.ok((ROLES as readonly string[]).includes(r), `${perm}: ${r}`);
    if (/^(key|block|vm|policy|principal)\./.test(perm)) assert.ok(!(roles as readonly string[]).includes('cloud-admin'), perm);
  }
});
