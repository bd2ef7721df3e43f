// reserve() and release() against the store, on both back ends. The concurrency test opens every
// transaction first and lets them all reserve at once (on PostgreSQL on a pool as large as the
// crowd), so a read-then-write reserve() would let most of them through; the conditional upsert
// lets exactly the limit through.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { asSystem, inTenant, type Store } from '@sealkeep/store';
import { backendUnderTest, freshStore } from '@sealkeep/store/testing';
import { Problem } from '../../http/problems.js';
import { release, reserve, type QuotaResource } from './quota.js';

const CROWD = 24;
let store: Store;

before(async () => {
  // Every reserving transaction holds its own connection while the others reserve.
  process.env.SEALKEEP_DB_POOL_MAX = String(CROWD + 4);
  store = await freshStore();
});
after(() => store.close());

async function tenantWithLimits(limits: Record<string, number | null>): Promise<string> {
  const tenantId = randomUUID();
  await asSystem(store.db, 'test set-up', async (trx) => {
    await trx('tenants').insert({ tenant_id: tenantId, name: `t-${tenantId}` });
    await trx('tenant_quotas').insert({ tenant_id: tenantId, ...limits });
  });
  return tenantId;
}

const used = (tenantId: string, resource: QuotaResource) =>
  inTenant(store.db, tenantId, async (trx) => Number((await trx('tenant_usage').where({ tenant_id: tenantId, resource }).first('used'))?.used ?? 0));

/** Resolves for everyone once `n` have arrived. */
function barrier(n: number): () => Promise<void> {
  let arrived = 0;
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return () => {
    if (++arrived === n) open();
    return opened;
  };
}

test(`${CROWD} concurrent reservations against a limit of 5: exactly 5 succeed and usage is 5 (${backendUnderTest()})`, async () => {
  const tenantId = await tenantWithLimits({ keys: 5 });
  // PGlite is one connection, so its transactions take turns; on PostgreSQL all are open at once.
  const allOpen = backendUnderTest() === 'postgres' ? barrier(CROWD) : async () => {};
  const outcomes = await Promise.allSettled(
    Array.from({ length: CROWD }, () =>
      inTenant(store.db, tenantId, async (trx) => {
        await trx.raw('select 1');
        await allOpen();
        return reserve(trx, tenantId, 'keys', 1);
      }),
    ),
  );
  const admitted = outcomes.filter((o) => o.status === 'fulfilled');
  const refused = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
  assert.equal(admitted.length, 5);
  for (const r of refused) {
    assert.ok(r.reason instanceof Problem, String(r.reason));
    assert.equal(r.reason.slug, 'quota-exceeded');
  }
  assert.equal(await used(tenantId, 'keys'), 5);
  // Each admitted reservation saw its own count: 1..5, no two alike.
  assert.deepEqual(admitted.map((o) => (o as PromiseFulfilledResult<number>).value).sort(), [1, 2, 3, 4, 5]);
});

test('the refusal names the resource, the limit and the usage', async () => {
  const gib = 1024 ** 3;
  const tenantId = await tenantWithLimits({ volume_bytes: 10 * gib });
  assert.equal(await inTenant(store.db, tenantId, (trx) => reserve(trx, tenantId, 'volume-bytes', 8 * gib)), 8 * gib);
  await assert.rejects(
    inTenant(store.db, tenantId, (trx) => reserve(trx, tenantId, 'volume-bytes', 4 * gib)),
    (e: unknown) => {
      assert.ok(e instanceof Problem);
      assert.equal(e.slug, 'quota-exceeded');
      assert.equal(e.detail, `volume-bytes: limit ${10 * gib}, in use ${8 * gib}, requested ${4 * gib}`);
      assert.deepEqual(e.extensions, { resource: 'volume-bytes', limit: 10 * gib, used: 8 * gib, requested: 4 * gib });
      return true;
    },
  );
  // A first reservation larger than the limit is refused too (there is no usage row yet).
  const small = await tenantWithLimits({ vms: 1 });
  await assert.rejects(inTenant(store.db, small, (trx) => reserve(trx, small, 'vms', 2)), /vms: limit 1, in use 0, requested 2/);
  assert.equal(await used(small, 'vms'), 0);
});

test('release frees what was reserved; releasing more than is counted throws', async () => {
  const tenantId = await tenantWithLimits({ volumes: 2 });
  const inIt = <T>(fn: (trx: Knex.Transaction) => Promise<T>) => inTenant(store.db, tenantId, fn);
  await inIt((trx) => reserve(trx, tenantId, 'volumes', 2));
  await assert.rejects(inIt((trx) => reserve(trx, tenantId, 'volumes', 1)), /quota|limit/);
  assert.equal(await inIt((trx) => release(trx, tenantId, 'volumes', 1)), 1);
  assert.equal(await inIt((trx) => reserve(trx, tenantId, 'volumes', 1)), 2);
  await assert.rejects(inIt((trx) => release(trx, tenantId, 'volumes', 3)), /exceeds the tenant's counted usage/);
  assert.equal(await used(tenantId, 'volumes'), 2);
});

test('a rolled-back creation takes its reservation with it', async () => {
  const tenantId = await tenantWithLimits({ vms: 3 });
  await assert.rejects(
    inTenant(store.db, tenantId, async (trx) => {
      await reserve(trx, tenantId, 'vms', 3);
      throw new Error('the VM could not be registered');
    }),
    /could not be registered/,
  );
  assert.equal(await used(tenantId, 'vms'), 0);
  assert.equal(await inTenant(store.db, tenantId, (trx) => reserve(trx, tenantId, 'vms', 3)), 3);
});

test('no limit row, or a null limit, is unlimited; other resources are counted apart', async () => {
  const tenantId = await tenantWithLimits({ keys: 1, vms: null });
  await inTenant(store.db, tenantId, async (trx) => {
    await reserve(trx, tenantId, 'keys', 1);
    await reserve(trx, tenantId, 'vms', 1000);
    await reserve(trx, tenantId, 'volume-bytes', Number.MAX_SAFE_INTEGER - 1);
  });
  assert.deepEqual([await used(tenantId, 'keys'), await used(tenantId, 'vms')], [1, 1000]);
});

test('amounts are positive integers and resources are the four known ones', async () => {
  const tenantId = await tenantWithLimits({});
  await inTenant(store.db, tenantId, async (trx) => {
    await assert.rejects(reserve(trx, tenantId, 'keys', 0), RangeError);
    await assert.rejects(reserve(trx, tenantId, 'keys', 1.5), RangeError);
    await assert.rejects(release(trx, tenantId, 'keys', -1), RangeError);
    await assert.rejects(reserve(trx, tenantId, 'hosts' as QuotaResource, 1), TypeError);
  });
});

test("usage and limits are tenant rows: one tenant's transaction neither sees nor counts another's", async () => {
  const a = await tenantWithLimits({ keys: 10 });
  const b = await tenantWithLimits({ keys: 10 });
  await inTenant(store.db, a, (trx) => reserve(trx, a, 'keys', 4));
  const seenByB = await inTenant(store.db, b, async (trx) => ({
    usage: await trx('tenant_usage').select('tenant_id'),
    quotas: await trx('tenant_quotas').select('tenant_id'),
  }));
  assert.deepEqual(seenByB, { usage: [], quotas: [{ tenant_id: b }] });
  // Reserving for tenant a from tenant b's scope is refused by row-level security.
  await assert.rejects(inTenant(store.db, b, (trx) => reserve(trx, a, 'keys', 1)), /row-level security/);
  assert.equal(await used(a, 'keys'), 4);
});
