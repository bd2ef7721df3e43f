// Compliance scans through the API: a reviewer starts a scan over 300 VMs in six tenants and
// gets a reservation id at once (202, Location); the scan runs in the background while its
// progress shows; the report names every planted problem under its own id — and nothing in the
// healthy part of the fleet. Scopes can be chosen; starting a scan and reading a report are in
// the provider's audit chain; only reviewers start or read scans.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { asProvider } from '@sealkeep/store';
import { exportChain, PROVIDER_CHAIN } from '../../audit/audit-log.js';
import { followScan, plant, plantFleet, scanFixture, type Fleet, type ScanFixture } from './scans.fixture.js';

let fx: ScanFixture;
let fleet: Fleet;
const planted: Record<string, string> = {};

before(async () => {
  // Progress written at every percent (the default interval, 250 ms, is pinned in runner.test.ts).
  fx = await scanFixture({ progressIntervalMs: 0 });
  const t0 = performance.now();
  fleet = await plantFleet(fx.store.db, { tenants: 6, vmsPerTenant: 50, auditEntriesPerTenant: 8 });
  const [a, b, c] = fleet.tenants as [string, string, string];
  planted['vms.release-policy.missing'] = await plant.vmWithoutPolicy(fx.store.db, a);
  planted['vms.volume.high-confidentiality-unbound'] = await plant.highConfidentialityVolumeWithoutPolicy(fx.store.db, b);
  planted['audit.entry.altered'] = await plant.tamperedAuditEntry(fx.store.db, c);
  planted['hosts.attestation.stale'] = await plant.staleHost(fx.store.db);
  planted['keys.rotation.overdue'] = await plant.oldKey(fx.store.db, a);
  planted['keys.rotation.overdue-high-value'] = await plant.oldKey(fx.store.db, b, { integrity: 'high' });
  console.log(`# planted ${fleet.vms.length} VMs in ${fleet.tenants.length} tenants in ${Math.round(performance.now() - t0)} ms`);
});
after(() => fx.close());

type Finding = { id: string; severity: string; scope: string; subject: string; message: string };
const findingsOf = (report: { sections: Array<{ findings: Finding[] }> }) => report.sections.flatMap((s) => s.findings);

test('a scan over 300 VMs runs in the background, shows its progress, and names every planted problem', { timeout: 300_000 }, async () => {
  const started = performance.now();
  const accepted = await fx.call('post', '/v1/scans', {});
  assert.equal(accepted.status, 202, accepted.text);
  assert.equal(accepted.body.status, 'queued');
  assert.equal(accepted.body.statusUrl, `/v1/scans/${accepted.body.scanId}`);
  assert.equal(accepted.headers.location, accepted.body.statusUrl);

  const seen = await followScan(fx, accepted.body.scanId);
  const elapsed = performance.now() - started;
  const last = seen[seen.length - 1]!;
  assert.equal(last.status, 'done', JSON.stringify(last.body));
  const between = seen.filter((s) => s.status === 'running' && s.percent > 0 && s.percent < 100);
  assert.ok(between.length > 0, `progress observed between 0 and 100 %: ${JSON.stringify(seen.map((s) => [s.status, s.percent]))}`);
  const percents = seen.map((s) => s.percent);
  assert.deepEqual(percents, [...percents].sort((x, y) => x - y), 'progress never goes back');
  console.log(`# scan of ${fleet.vms.length + 2} VMs: ${Math.round(elapsed)} ms, ${seen.length} polls, ${new Set(percents).size} distinct percents, steps e.g. "${between[0]!.step}"`);

  const report = last.body.report;
  assert.equal(report.scanId, accepted.body.scanId);
  assert.equal(report.requestedBy, 'rv:ivy');
  assert.deepEqual(report.scopes, ['hosts', 'vms', 'keys', 'configuration', 'audit']);
  assert.deepEqual(report.sections.map((s: { scope: string }) => s.scope), report.scopes);
  const findings = findingsOf(report);
  for (const [id, subject] of Object.entries(planted)) {
    assert.ok(findings.some((f) => f.id === id && f.subject === subject), `${id} names ${subject}: ${JSON.stringify(findings.filter((f) => f.id === id))}`);
  }
  // The healthy fleet raises nothing: each problem is reported where it was planted, and only there.
  const plantedHere = (subject: string) => Object.values(planted).some((p) => p === subject || p.startsWith(`${subject}/`));
  const elsewhere = findings.filter((f) => f.severity !== 'info' && !plantedHere(f.subject)).map((f) => `${f.id} ${f.subject}`);
  assert.deepEqual(elsewhere, ['configuration.unmeasured service:kms'], 'only the planted problems (and their VMs), and the test service is not measured');
  assert.equal(findings.filter((f) => f.id === 'vms.release-policy.missing').length, 2, 'the planted VM and the one holding the unbound volume');
  assert.equal(report.summary.passed, false, 'high findings fail the scan');
  assert.ok(report.summary.counts.high >= 4);
  const vms = report.sections.find((s: { scope: string }) => s.scope === 'vms');
  assert.deepEqual(vms.checked, { vms: 302, volumes: 601, boots: 300 });
  const audit = report.sections.find((s: { scope: string }) => s.scope === 'audit');
  assert.equal(audit.checked.chains, 7, 'six tenants and the provider');
  assert.equal(findings.filter((f) => f.id === 'audit.chain.verified').length, 6, 'every chain but the tampered one verifies');
  const text = JSON.stringify(report);
  assert.ok(!/private_blob|sealed_private|BEGIN PUBLIC KEY/.test(text), 'no key material or blob in the report');
});

test('the scopes asked for are the ones scanned; unknown scopes and fields are refused', async () => {
  const accepted = await fx.call('post', '/v1/scans', { scopes: ['keys', 'hosts', 'keys'] });
  assert.equal(accepted.status, 202, accepted.text);
  const last = (await followScan(fx, accepted.body.scanId)).at(-1)!;
  assert.deepEqual(last.body.scopes, ['hosts', 'keys'], 'each once, in the order scans run them');
  assert.deepEqual(last.body.report.sections.map((s: { scope: string }) => s.scope), ['hosts', 'keys']);
  assert.equal((await fx.call('post', '/v1/scans', { scopes: ['everything'] })).status, 400);
  assert.equal((await fx.call('post', '/v1/scans', { scopes: [] })).status, 400);
  assert.equal((await fx.call('post', '/v1/scans', { scopes: ['vms'], depth: 3 })).status, 400);
});

test('recent scans are listed newest first, with the summary of finished ones', async () => {
  const listed = await fx.call('get', '/v1/scans?limit=5');
  assert.equal(listed.status, 200, listed.text);
  assert.ok(listed.body.length >= 2);
  const times = listed.body.map((s: { requestedAt: string }) => s.requestedAt);
  assert.deepEqual(times, [...times].sort().reverse());
  const done = listed.body.find((s: { status: string }) => s.status === 'done');
  assert.equal(typeof done.summary.passed, 'boolean');
  assert.equal(done.report, undefined, 'a listing holds no findings');
  assert.equal((await fx.call('get', '/v1/scans?limit=0')).status, 400);
});

test('the report as a page: text/html with a policy forbidding every resource; 409 before it is done, 404 for no scan', async () => {
  const accepted = await fx.call('post', '/v1/scans', { scopes: ['hosts', 'configuration'] });
  await followScan(fx, accepted.body.scanId);
  const page = await fx.call('get', `/v1/scans/${accepted.body.scanId}/report.html`);
  assert.equal(page.status, 200, page.text);
  assert.match(page.headers['content-type']!, /^text\/html/);
  assert.match(page.headers['content-security-policy']!, /default-src 'none'/);
  assert.match(page.text, /<h2>Hosts — /);
  assert.match(page.text, /<h2>Service configuration — /);
  assert.doesNotMatch(page.text, /<script|<link|<img|https?:\/\//i);

  await fx.store.db('scans').insert({ scan_id: '00000000-0000-4000-8000-000000000001', scopes: '["hosts"]', status: 'running', percent: 40, requested_by: 'rv:ivy', request_id: 'r', runner_id: fx.runner.runnerId });
  const early = await fx.call('get', '/v1/scans/00000000-0000-4000-8000-000000000001/report.html');
  assert.equal(early.status, 409);
  assert.match(early.body.detail, /is running \(40 %\)/);
  assert.equal((await fx.call('get', '/v1/scans/00000000-0000-4000-8000-00000000dead/report.html')).status, 404);
  await fx.store.db('scans').where({ scan_id: '00000000-0000-4000-8000-000000000001' }).delete();
});

test("starting a scan, its finish and every read of its report are in the provider's audit chain", async () => {
  const accepted = await fx.call('post', '/v1/scans', { scopes: ['configuration'] });
  const scanId = accepted.body.scanId as string;
  await followScan(fx, scanId);
  await fx.call('get', `/v1/scans/${scanId}/report.html`);
  await fx.call('get', `/v1/scans/${scanId}`);
  const lines = await asProvider(fx.store.db, (trx) => exportChain(trx, PROVIDER_CHAIN));
  const entries = lines.map((l) => JSON.parse(l)).filter((e) => e.resource === `scan:${scanId}`);
  assert.deepEqual(
    entries.map((e) => [e.action, e.principal, e.details?.format ?? e.details?.scopes ?? e.outcome]),
    [
      ['scan.start', 'rv:ivy', 'configuration'],
      ['scan.finish', 'sys:sealkeep', 'success'],
      ['scan.report.read', 'rv:ivy', 'json'], // the poll that saw it done
      ['scan.report.read', 'rv:ivy', 'html'],
      ['scan.report.read', 'rv:ivy', 'json'],
    ],
  );
  assert.deepEqual(entries[1].actorChain, ['rv:ivy', 'sys:sealkeep'], 'the finish names who asked');
  assert.equal(entries[0].requestId, entries[1].requestId, 'the finish carries the starting request');
});

test('only reviewers start and read scans', async () => {
  const ops = fx.f.operator;
  assert.equal((await fx.call('post', '/v1/scans', {}, ops)).status, 403);
  assert.equal((await fx.call('get', '/v1/scans', undefined, ops)).status, 403);
});
