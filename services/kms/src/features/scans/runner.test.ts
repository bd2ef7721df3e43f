// The scan runner's life: progress writes stay few however many items a scan examines; a node
// that stops fails what it holds at once (the running scan at its next item, queued ones before
// they run); a scan whose node vanished is failed when next read, or at the next start; a scan
// declared lapsed is never revived by the node still running it; a node holds a bounded number of
// scans; an internal error fails the scan without telling reviewers more than where to look.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { asProvider } from '@sealkeep/store';
import { exportChain, PROVIDER_CHAIN } from '../../audit/audit-log.js';
import { ScanProgress } from './progress.js';
import { ScanRunner } from './runner.js';
import type { ServiceState } from '../../platform/measured-start.js';
import { failInterruptedScans, insertScan, markRunning } from './store.js';
import { callAs, followScan, plantFleet, scanFixture, type ScanFixture } from './scans.fixture.js';

let fx: ScanFixture;

before(async () => {
  fx = await scanFixture();
  await plantFleet(fx.store.db, { tenants: 3, vmsPerTenant: 100 });
});
after(() => fx.close());

/** Listeners over the same store with a runner of their own (as another node would have). */
function node(runner: ScanRunner) {
  const { adminApp } = fx.f.nodeApps({ scans: runner });
  return { call: (method: 'get' | 'post', url: string, body?: unknown) => callAs(adminApp, fx.reviewer, method, url, body) };
}

async function queuedRow(runnerId: string, over: Record<string, unknown> = {}): Promise<string> {
  const scanId = randomUUID();
  await asProvider(fx.store.db, (trx) => insertScan(trx, { scan_id: scanId, scopes: ['vms'], requested_by: 'rv:ivy', request_id: 'r-test', runner_id: runnerId }));
  if (Object.keys(over).length) await fx.store.db('scans').where({ scan_id: scanId }).update(over);
  return scanId;
}

test('100,000 items make at most about a hundred progress writes', async () => {
  const runnerId = randomUUID();
  const scanId = await queuedRow(runnerId);
  assert.ok(await markRunning(fx.store.db, scanId, runnerId, 100_000, new Date()));
  for (const intervalMs of [250, 0]) {
    const progress = new ScanProgress(fx.store.db, scanId, runnerId, 100_000, { intervalMs, stopReason: () => null });
    await progress.begin('vms', 100_000);
    for (let i = 0; i < 100_000; i++) await progress.advance();
    assert.ok(progress.writeCount <= 101, `interval ${intervalMs} ms: ${progress.writeCount} writes`);
    // Unthrottled, progress is written as it goes (throttled, a fast store may finish inside one interval).
    if (intervalMs === 0) assert.ok(progress.writeCount >= 2, 'progress is written as it goes');
    console.log(`# interval ${intervalMs} ms: ${progress.writeCount} progress writes for 100,000 items`);
  }
  const row = await fx.store.db('scans').where({ scan_id: scanId }).first();
  assert.equal(row.percent, 99, 'never 100 % until the report is stored');
  assert.match(row.step, /^VMs and volumes: \d+ of 100000$/);
});

test('a node that stops fails the scan it runs at its next item, and the queued ones before they run', async () => {
  const runner = new ScanRunner(fx.store.db, { progressIntervalMs: 0 });
  const ids = [await queuedRow(runner.runnerId), await queuedRow(runner.runnerId), await queuedRow(runner.runnerId)];
  const ctx = { service: undefined, hostAttestationSeconds: 600, keyRotationDays: 365 };
  for (const scanId of ids) runner.enqueue({ scanId, scopes: ['vms'], requestedBy: 'rv:ivy', requestId: 'r-test' }, ctx);
  await runner.stop('the service stopped'); // the first scan has begun counting; the others wait in the queue
  const states = await Promise.all(ids.map(async (id) => (await fx.call('get', `/v1/scans/${id}`)).body));
  assert.deepEqual(states.map((s) => [s.status, s.failure]), [
    ['failed', 'interrupted: the service stopped'],
    ['failed', 'interrupted: the service stopped before the scan ran'],
    ['failed', 'interrupted: the service stopped before the scan ran'],
  ]);
  assert.equal((await node(runner).call('post', '/v1/scans', {})).status, 503, 'a stopping node takes no more scans');
  const finishes = (await asProvider(fx.store.db, (trx) => exportChain(trx, PROVIDER_CHAIN))).map((l) => JSON.parse(l)).filter((e) => e.action === 'scan.finish' && ids.includes(e.resource.slice(5)));
  assert.deepEqual(finishes.map((e) => [e.outcome, e.details.reason]).sort(), [
    ['failure', 'interrupted: the service stopped'],
    ['failure', 'interrupted: the service stopped before the scan ran'],
    ['failure', 'interrupted: the service stopped before the scan ran'],
  ], 'each failure is audited');
});

test('a scan whose node vanished is failed once its heartbeat is 30 s old: at the next start, when read, or when listed', async () => {
  const gone = randomUUID();
  const stale = new Date(Date.now() - 60_000);
  const status = async (id: string) => (await fx.store.db('scans').where({ scan_id: id }).first()).status as string;
  const atStart = [await queuedRow(gone, { status: 'running', heartbeat_at: stale }), await queuedRow(gone, { heartbeat_at: stale })];
  const alive = await queuedRow(gone, { status: 'running', heartbeat_at: new Date(Date.now() - 5_000) });
  assert.ok((await failInterruptedScans(fx.store.db)) >= 2);
  assert.deepEqual(await Promise.all([...atStart, alive].map(status)), ['failed', 'failed', 'running'], 'a scan with a live heartbeat is left alone');

  const read = await queuedRow(gone, { status: 'running', heartbeat_at: stale, percent: 37 });
  const r = await fx.call('get', `/v1/scans/${read}`);
  assert.equal(r.body.status, 'failed');
  assert.equal(r.body.failure, 'interrupted: the node running it stopped (no heartbeat for 30 s)');
  assert.equal(r.body.percent, 37, 'how far it got is kept');

  const listed = await queuedRow(gone, { heartbeat_at: stale });
  const list = (await fx.call('get', '/v1/scans?limit=100')).body as Array<{ scanId: string; status: string }>;
  assert.equal(list.find((s) => s.scanId === listed)!.status, 'failed');
  assert.equal(list.find((s) => s.scanId === alive)!.status, 'running');
});

test('a scan declared lapsed while it runs is abandoned by its node, never revived', async () => {
  const runner = new ScanRunner(fx.store.db, { progressIntervalMs: 0 });
  const other = node(runner);
  const scanId = (await other.call('post', '/v1/scans', { scopes: ['vms'] })).body.scanId as string;
  for (let s = (await fx.call('get', `/v1/scans/${scanId}`)).body; s.status !== 'running'; s = (await fx.call('get', `/v1/scans/${scanId}`)).body) assert.equal(s.status, 'queued');
  await fx.store.db('scans').where({ scan_id: scanId }).update({ status: 'failed', failure: 'declared lapsed by another node' });
  await runner.idle();
  const s = (await fx.call('get', `/v1/scans/${scanId}`)).body;
  assert.deepEqual([s.status, s.failure], ['failed', 'declared lapsed by another node']);
  await runner.stop();
});

test('a node holds a bounded number of scans; more are refused with 409, also when asked at once', async () => {
  const runner = new ScanRunner(fx.store.db, { maxPending: 1 });
  const other = node(runner);
  const slot = runner.reserve();
  assert.ok(slot, 'a scan being accepted holds the one slot');
  const refused = await other.call('post', '/v1/scans', { scopes: ['vms'] });
  assert.equal(refused.status, 409);
  assert.match(refused.body.detail, /already holds 1 scans \(at most 1\)/);
  slot.release();
  slot.release(); // once is all a slot gives back
  const together = await Promise.all([other.call('post', '/v1/scans', { scopes: ['vms'] }), other.call('post', '/v1/scans', { scopes: ['vms'] })]);
  assert.deepEqual(together.map((r) => r.status).sort(), [202, 409]);
  await runner.idle();
  const accepted = together.find((r) => r.status === 202)!;
  assert.equal((await followScan(fx, accepted.body.scanId)).at(-1)!.status, 'done');
  assert.equal((await other.call('post', '/v1/scans', { scopes: ['hosts'] })).status, 202, 'a finished scan frees its slot');
  await runner.stop();
});

test('an internal error fails the scan; the cause goes to the log, the reviewer is told where to look', async () => {
  const errors: Array<[unknown, string]> = [];
  const runner = new ScanRunner(fx.store.db, { onError: (err, id) => errors.push([err, id]) });
  const scanId = await queuedRow(runner.runnerId);
  const broken = { measurements: undefined } as unknown as ServiceState; // a bug: the check reads its digests
  runner.enqueue({ scanId, scopes: ['configuration'], requestedBy: 'rv:ivy', requestId: 'r-test' }, { service: broken, hostAttestationSeconds: 600, keyRotationDays: 365 });
  await runner.idle();
  const s = (await fx.call('get', `/v1/scans/${scanId}`)).body;
  assert.equal(s.status, 'failed');
  assert.equal(s.failure, `an internal error ended the scan (the service log has it under scan ${scanId})`);
  assert.equal(errors.length, 1);
  assert.ok(errors[0]![0] instanceof TypeError);
  assert.equal(errors[0]![1], scanId);
  await runner.stop();
});
