// Row-level security is a wall of its own: whatever the service's code asks, a tenant
// transaction sees and writes only its tenant's rows, the provider's only the provider's, and a
// query as the application role with no context sees nothing. On both back ends.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { asProvider, asSystem, enterTenant, inTenant, APP_ROLE, ScopeError, type Store } from './index.js';
import { backendUnderTest, freshStore } from './testing.js';

describe(`row-level security on ${backendUnderTest()}`, () => {
  let store: Store;
  const a = randomUUID();
  const b = randomUUID();
  const principal = (tenant: string | null, name: string) => ({
    principal_id: randomUUID(),
    tenant_id: tenant,
    name,
    role: tenant ? 'tenant-admin' : 'cloud-admin',
    public_jwk: '{}',
    jwk_thumbprint: randomUUID(),
  });

  before(async () => {
    store = await freshStore();
    await asSystem(store.db, 'test set-up', async (trx) => {
      await trx('tenants').insert([{ tenant_id: a, name: 'a' }, { tenant_id: b, name: 'b' }]);
      await trx('principals').insert([principal(a, 'alice'), principal(b, 'bob'), principal(null, 'ops')]);
    });
  });
  after(() => store.close());

  test('every table holding a tenant_id is behind forced row-level security with a policy (a new table that forgets it fails here)', async () => {
    const result = await store.db.raw(`
      select c.relname as name, c.relrowsecurity as enabled, c.relforcerowsecurity as forced,
             exists (select 1 from pg_policy p where p.polrelid = c.oid) as scoped
        from pg_class c join pg_namespace n on n.oid = c.relnamespace
       where n.nspname = 'public' and c.relkind = 'r'
         and exists (select 1 from information_schema.columns col where col.table_schema = 'public' and col.table_name = c.relname and col.column_name = 'tenant_id')
       order by 1`);
    const tables = ((result as { rows?: unknown[] }).rows ?? result) as Array<{ name: string; enabled: boolean; forced: boolean; scoped: boolean }>;
    assert.ok(tables.some((t) => t.name === 'volume_states') && tables.length >= 18, `found ${tables.map((t) => t.name).join(', ')}`);
    assert.deepEqual(tables.filter((t) => !t.enabled || !t.forced || !t.scoped).map((t) => t.name), []);
  });

  test('a raw query as the application role, without a tenant context, returns no rows', async () => {
    const rows = await store.db.transaction(async (trx) => {
      await trx.raw(`set local role ${APP_ROLE}`);
      return { principals: await trx('principals').select('name'), tenants: await trx('tenants').select('name') };
    });
    assert.deepEqual(rows, { principals: [], tenants: [] });
  });

  test('a tenant transaction sees its own rows and nothing of another tenant or the provider', async () => {
    const names = await inTenant(store.db, a, (trx) => trx('principals').pluck('name'));
    assert.deepEqual(names, ['alice']);
    const tenants = await inTenant(store.db, a, (trx) => trx('tenants').pluck('name'));
    assert.deepEqual(tenants, ['a']);
    // Asking for another tenant's row by its key finds nothing, as if it did not exist.
    assert.equal(await inTenant(store.db, a, (trx) => trx('principals').where({ tenant_id: b }).first()), undefined);
  });

  test("a tenant transaction cannot write into another tenant's rows", async () => {
    await assert.rejects(
      inTenant(store.db, a, (trx) => trx('principals').insert(principal(b, 'mallory'))),
      /row-level security/,
    );
    const changed = await inTenant(store.db, a, (trx) => trx('principals').where({ name: 'bob' }).update({ status: 'revoked' }));
    assert.equal(changed, 0, 'an update aimed at another tenant touches nothing');
    const bob = await asSystem(store.db, 'test check', (trx) => trx('principals').where({ name: 'bob' }).first());
    assert.equal(bob.status, 'active');
  });

  test('the provider scope sees provider rows and every tenant, but no tenant principal', async () => {
    assert.deepEqual(await asProvider(store.db, (trx) => trx('principals').pluck('name')), ['ops']);
    assert.deepEqual((await asProvider(store.db, (trx) => trx('tenants').pluck('name'))).sort(), ['a', 'b']);
  });

  test('the scope ends with its transaction: the same connection is privileged again after it', async () => {
    await inTenant(store.db, a, async () => {});
    const all = await store.db('principals').count<{ count: number }[]>({ count: '*' });
    assert.equal(Number(all[0]!.count), 3);
  });

  test('a system transaction can move into one tenant once it knows which', async () => {
    const names = await asSystem(store.db, 'test: lookup before the tenant is known', async (trx) => {
      const row = await trx('principals').where({ name: 'bob' }).first();
      await enterTenant(trx, row.tenant_id);
      return trx('principals').pluck('name');
    });
    assert.deepEqual(names, ['bob']);
  });

  test('a tenant scope without a uuid, or a system scope without a reason, is refused', async () => {
    await assert.rejects(inTenant(store.db, "x' or true --", async () => {}), ScopeError);
    await assert.rejects(asSystem(store.db, '', async () => {}), ScopeError);
  });
});
