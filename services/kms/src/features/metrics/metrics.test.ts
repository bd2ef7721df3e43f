// GET /metrics as a Prometheus scraper sees it: no credentials, admin plane only, the text
// exposition format (every sample line parses, every family has HELP and TYPE first); after some
// requests the counters moved by exactly what happened, by plane, route pattern, method and status
// class; audit entries are counted; the process is described; and nothing in it names a tenant,
// a principal or an enrollment code.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import request from 'supertest';
import { jwkThumbprint, publicJwk, newKeyPair } from '@sealkeep/crypto';
import { authorizationHeader, selfSignedAuthorizationHeader } from '@sealkeep/sdk';
import { freshStore } from '@sealkeep/store/testing';
import type { Store } from '@sealkeep/store';
import { buildListeners } from '../../server.js';
import { insertPrincipal } from '../principals/store.js';
import { PROMETHEUS_TEXT } from './exposition.js';

type App = Parameters<typeof request>[0];
let store: Store;
let tenantApp: App, adminApp: App;
const ops = { id: randomUUID(), name: `ops-${randomBytes(4).toString('hex')}`, key: newKeyPair('ec', { namedCurve: 'P-256' }) };

before(async () => {
  store = await freshStore();
  const jwk = publicJwk(ops.key.publicKey);
  await insertPrincipal(store.db, { principal_id: ops.id, tenant_id: null, name: ops.name, role: 'cloud-admin', public_jwk: jwk, jwk_thumbprint: jwkThumbprint(jwk) });
  [tenantApp, adminApp] = buildListeners({ store }, [['tenant'], ['admin', 'compliance']]) as unknown as [App, App];
});
after(() => store.close());

interface Scraped {
  /** `name{k="v",…}` (labels sorted) → value. */
  samples: Map<string, number>;
  types: Map<string, string>;
}

const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)/y;
const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/;

const seriesKey = (name: string, labels: Record<string, string>) =>
  `${name}{${Object.keys(labels)
    .sort()
    .map((k) => `${k}=${JSON.stringify(labels[k])}`)
    .join(',')}}`;

/** A strict reader of the text format: throws on any line it cannot account for. */
function parseExposition(text: string): Scraped {
  assert.ok(text.endsWith('\n'), 'the last line ends in a newline');
  const helped = new Set<string>();
  const types = new Map<string, string>();
  const samples = new Map<string, number>();
  for (const line of text.slice(0, -1).split('\n')) {
    const comment = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (comment) {
      const [, kind, name, rest] = comment;
      if (kind === 'HELP') helped.add(name!);
      else {
        assert.ok(helped.has(name!), `HELP before TYPE for ${name}`);
        assert.match(rest!, /^(counter|gauge|histogram|summary|untyped)$/);
        types.set(name!, rest!);
      }
      continue;
    }
    const m = SAMPLE.exec(line);
    assert.ok(m, `not a sample line: ${JSON.stringify(line)}`);
    const [, name, rawLabels = '', rawValue] = m;
    const family = types.has(name!) ? name! : name!.replace(/_(bucket|sum|count)$/, '');
    assert.ok(types.has(family), `${name} has no TYPE line before it`);
    if (name !== family) assert.equal(types.get(family), 'histogram', `${name} is a histogram's series`);
    const labels: Record<string, string> = {};
    LABEL.lastIndex = 0;
    while (LABEL.lastIndex < rawLabels.length) {
      const l = LABEL.exec(rawLabels);
      assert.ok(l, `unparseable labels in ${JSON.stringify(line)}`);
      labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_m, c: string) => (c === 'n' ? '\n' : c));
    }
    const value = rawValue === '+Inf' ? Infinity : rawValue === '-Inf' ? -Infinity : Number(rawValue);
    assert.ok(rawValue === 'NaN' || !Number.isNaN(value), `not a value: ${rawValue}`);
    samples.set(seriesKey(name!, labels), value);
  }
  return { samples, types };
}

async function scrape(): Promise<{ text: string; parsed: Scraped }> {
  const res = await request(adminApp).get('/metrics');
  assert.equal(res.status, 200, res.text);
  assert.equal(res.headers['content-type'], PROMETHEUS_TEXT);
  return { text: res.text, parsed: parseExposition(res.text) };
}

const sample = (s: Scraped, name: string, labels: Record<string, string> = {}) => s.samples.get(seriesKey(name, labels));
const req = (plane: string, route: string, method: string, statusClass: string) => ({ plane, route, method, status_class: statusClass });

test('after some requests, /metrics counts them by plane, route, method and status class, and names no tenant or principal', async () => {
  const before = (await scrape()).parsed;
  const auditBefore = sample(before, 'sealkeep_audit_entries_appended_total', { chain: 'tenant' }) ?? 0;

  const tenantName = `metrics-${randomBytes(4).toString('hex')}`;
  const body = JSON.stringify({ name: tenantName });
  const created = await request(adminApp)
    .post('/v1/tenants')
    .set('content-type', 'application/json')
    .set('authorization', authorizationHeader({ key: ops.key.privateKey, principalId: ops.id, method: 'POST', url: '/v1/tenants', body }))
    .send(body);
  assert.equal(created.status, 201, created.text);
  const officer = newKeyPair('ec', { namedCurve: 'P-256' });
  const officerName = `alice-${randomBytes(4).toString('hex')}`;
  const enrollBody = JSON.stringify({ code: created.body.enrollment.code, name: officerName });
  const enrolled = await request(tenantApp)
    .post('/v1/enroll')
    .set('content-type', 'application/json')
    .set('authorization', selfSignedAuthorizationHeader({ key: officer.privateKey, method: 'POST', url: '/v1/enroll', body: enrollBody }))
    .send(enrollBody);
  assert.equal(enrolled.status, 201, enrolled.text);
  for (let i = 0; i < 3; i++) {
    const self = await request(tenantApp)
      .get('/v1/self')
      .set('authorization', authorizationHeader({ key: officer.privateKey, principalId: enrolled.body.principalId, method: 'GET', url: '/v1/self' }));
    assert.equal(self.status, 200);
  }
  const opsSelf = await request(adminApp).get('/v1/self').set('authorization', authorizationHeader({ key: ops.key.privateKey, principalId: ops.id, method: 'GET', url: '/v1/self' }));
  assert.equal(opsSelf.status, 200);
  assert.equal((await request(adminApp).get('/v1/tenants')).status, 401);
  assert.equal((await request(tenantApp).get(`/v1/tenants/${created.body.tenantId}/nothing-here`)).status, 404);
  assert.equal((await request(tenantApp).get('/metrics')).status, 404, 'not served on the tenant plane');

  const { text, parsed: after } = await scrape();
  const count = (labels: ReturnType<typeof req>) => (sample(after, 'sealkeep_http_requests_total', labels) ?? 0) - (sample(before, 'sealkeep_http_requests_total', labels) ?? 0);
  assert.equal(count(req('admin', '/v1/tenants', 'POST', '2xx')), 1);
  assert.equal(count(req('tenant', '/v1/enroll', 'POST', '2xx')), 1);
  assert.equal(count(req('tenant', '/v1/self', 'GET', '2xx')), 3);
  assert.equal(count(req('admin', '/v1/self', 'GET', '2xx')), 1, "the admin listener's /v1/self counts under the admin plane");
  assert.equal(count(req('admin', '/v1/tenants', 'GET', '4xx')), 1);
  assert.equal(count(req('tenant', '(no route)', 'GET', '4xx')), 2, 'unmatched paths share one series, without their ids');
  assert.equal(count(req('admin+compliance', '/metrics', 'GET', '2xx')), 0);
  assert.equal(count(req('admin', '/metrics', 'GET', '2xx')), 1, 'the first scrape');

  // The latency histogram agrees with the counter; its buckets never fall and end at the count.
  const selfLabels = req('tenant', '/v1/self', 'GET', '2xx');
  assert.equal(after.types.get('sealkeep_http_request_duration_seconds'), 'histogram');
  assert.equal(sample(after, 'sealkeep_http_request_duration_seconds_count', selfLabels), 3);
  const buckets = [...after.samples]
    .filter(([k]) => k.startsWith('sealkeep_http_request_duration_seconds_bucket{') && k.includes('"/v1/self"') && k.includes('plane="tenant"'))
    .map(([k, v]) => [Number(/le="([^"]+)"/.exec(k)![1]!.replace('+Inf', 'Infinity')), v] as const)
    .sort((a, b) => a[0] - b[0]);
  assert.ok(buckets.length > 5);
  assert.ok(buckets.every(([, v], i) => i === 0 || v >= buckets[i - 1]![1]), 'cumulative buckets');
  assert.deepEqual(buckets.at(-1), [Infinity, 3]);
  assert.ok(sample(after, 'sealkeep_http_request_duration_seconds_sum', selfLabels)! > 0);

  assert.equal((sample(after, 'sealkeep_audit_entries_appended_total', { chain: 'tenant' }) ?? 0) - auditBefore, 2, 'creation and enrollment');
  assert.equal(after.types.get('sealkeep_audit_entries_appended_total'), 'counter');
  for (const gauge of ['process_resident_memory_bytes', 'nodejs_heap_size_used_bytes', 'process_uptime_seconds', 'process_start_time_seconds']) {
    assert.ok(sample(after, gauge)! > 0, gauge);
  }
  assert.ok(sample(after, 'nodejs_eventloop_delay_max_seconds')! >= 0);
  assert.ok([...after.samples.keys()].some((k) => k.startsWith('nodejs_active_resources{type=')));

  for (const secret of [created.body.tenantId, tenantName, officerName, enrolled.body.principalId, ops.name, ops.id, created.body.enrollment.code]) {
    assert.ok(!text.includes(secret), `the scrape names ${secret}`);
  }
});

test('the scrape needs no credentials and ignores any it is given', async () => {
  const res = await request(adminApp).get('/metrics').set('authorization', 'Sealkeep-Proof not-a-proof');
  assert.equal(res.status, 200);
  assert.match(res.text, /^# HELP sealkeep_http_requests_total /m);
});
