// The store behaves the same on both back ends: migrations round-trip, bytea and int8 come back
// as Buffer and number, transactions commit or leave nothing, and a bad connection string is
// one clear line.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { migrations } from '@sealkeep/migrations';
import { openStore, StoreOpenError, storeConfigFromEnv, type Store } from './index.js';
import { backendUnderTest, freshStore } from './testing.js';

const backend = backendUnderTest();

describe(`store on ${backend}`, () => {
  let store: Store;
  before(async () => {
    store = await freshStore({ migrate: false });
  });
  after(() => store.close());

  test('migrations go up, all the way down, and up again', async () => {
    const names = migrations.map(([n]) => n);
    assert.deepEqual(await store.migrateLatest(), names);
    assert.deepEqual(await store.appliedMigrations(), names);
    assert.equal(await store.db.schema.hasTable('tenants'), true);
    assert.deepEqual(await store.migrateDownAll(), [...names].reverse());
    assert.equal(await store.db.schema.hasTable('tenants'), false);
    assert.deepEqual(await store.appliedMigrations(), []);
    assert.deepEqual(await store.migrateLatest(), names);
    assert.deepEqual(await store.migrateLatest(), [], 'a second run applies nothing');
  });

  test('bytea comes back as a Buffer with every byte value intact', async () => {
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const { rows } = await store.db.raw('select ?::bytea as b, ?::bytea as e', [all, Buffer.alloc(0)]);
    assert.ok(Buffer.isBuffer(rows[0].b), 'bytea is a Buffer');
    assert.deepEqual(rows[0].b, all);
    assert.deepEqual(rows[0].e, Buffer.alloc(0));
  });

  test('int8 and count(*) come back as numbers; an unsafe int8 is refused, not rounded', async () => {
    const { rows } = await store.db.raw('select 9007199254740991::int8 as big, count(*) as c from (values (1), (2)) v');
    assert.equal(rows[0].big, Number.MAX_SAFE_INTEGER);
    assert.equal(rows[0].c, 2);
    await assert.rejects(store.db.raw('select 9007199254740993::int8 as x'), /safe integer/);
  });

  test('timestamps come back as Dates', async () => {
    const { rows } = await store.db.raw('select now() as t');
    assert.ok(rows[0].t instanceof Date);
  });

  test('a failed transaction leaves nothing; a committed one persists', async () => {
    const id = randomUUID();
    await assert.rejects(
      store.db.transaction(async (trx) => {
        await trx('tenants').insert({ tenant_id: id, name: `rollback-${id}` });
        throw new Error('boom');
      }),
      /boom/,
    );
    assert.equal((await store.db('tenants').where({ tenant_id: id })).length, 0);
    await store.db.transaction((trx) => trx('tenants').insert({ tenant_id: id, name: `commit-${id}` }));
    assert.equal((await store.db('tenants').where({ tenant_id: id })).length, 1);
  });

  test('concurrent transactions all land, and a constraint violation rolls back only its own', async () => {
    const prefix = randomUUID();
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) =>
        store.db.transaction((trx) => trx('tenants').insert({ tenant_id: randomUUID(), name: `${prefix}-${i % 10}` })),
      ),
    );
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 10);
    assert.equal(results.filter((r) => r.status === 'rejected').length, 10, 'duplicate names are refused');
    const rows = await store.db('tenants').whereLike('name', `${prefix}-%`);
    assert.equal(rows.length, 10);
  });

  test('update and delete answer the number of rows they touched', async () => {
    const prefix = randomUUID();
    await store.db('tenants').insert([1, 2, 3].map((i) => ({ tenant_id: randomUUID(), name: `${prefix}-${i}` })));
    assert.equal(await store.db('tenants').whereLike('name', `${prefix}-%`).update({ status: 'suspended' }), 3);
    assert.equal(await store.db('tenants').whereLike('name', `${prefix}-%`).del(), 3);
    assert.equal(await store.db('tenants').whereLike('name', `${prefix}-%`).del(), 0);
  });

  test('a check constraint is enforced the same way', async () => {
    await assert.rejects(store.db('tenants').insert({ tenant_id: randomUUID(), name: randomUUID(), status: 'bogus' }));
  });
});

describe('opening a store that is not there', () => {
  const cases: Array<[string, string, RegExp]> = [
    ['refused port', 'postgres://postgres@127.0.0.1:1/test', /PostgreSQL at postgres:\/\/postgres@127\.0\.0\.1:1\/test.*connection refused/],
    ['not a URL', 'not a url', /not a valid URL/],
    ['wrong scheme', 'mysql://root@127.0.0.1/test', /postgres:\/\/ scheme/],
    ['no database', 'postgres://postgres@127.0.0.1:5432', /names no database/],
    ['password never shown', 'postgres://u:hunter2@127.0.0.1:1/test', /u:\*\*\*@/],
  ];
  for (const [name, url, expected] of cases) {
    test(name, async () => {
      const err = await openStore({ kind: 'postgres', url, poolMax: 1 }).then(
        () => assert.fail('opened'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof StoreOpenError);
      assert.match(err.message, expected);
      assert.doesNotMatch(err.message, /\n|hunter2/);
    });
  }

  test('a database that does not exist is named as such', { skip: backend !== 'postgres' }, async () => {
    const base = storeConfigFromEnv();
    assert.equal(base.kind, 'postgres');
    const url = new URL(base.kind === 'postgres' ? base.url : '');
    url.pathname = '/sealkeep_no_such_database';
    await assert.rejects(openStore({ kind: 'postgres', url: url.toString(), poolMax: 1 }), /that database does not exist/);
  });
});

test('the embedded store keeps its data across a close and reopen', { skip: backend !== 'pglite' }, async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sealkeep-store-'));
  try {
    const config = { kind: 'pglite' as const, dataDir: path.join(dir, 'pgdata') };
    const first = await openStore(config);
    await first.migrateLatest();
    await first.db('tenants').insert({ tenant_id: randomUUID(), name: 'persisted' });
    await first.close();
    const second = await openStore(config);
    assert.deepEqual(await second.migrateLatest(), []);
    assert.equal((await second.db('tenants').where({ name: 'persisted' })).length, 1);
    await second.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the embedded store refuses a second process, and takes over a lock left by a dead one', { skip: backend !== 'pglite' }, async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sealkeep-lock-'));
  const dataDir = path.join(dir, 'pgdata');
  try {
    const { writeFileSync } = await import('node:fs');
    const { spawnSync } = await import('node:child_process');
    // A live process holds it (this test's parent stands in for a running service).
    writeFileSync(`${dataDir}.lock`, String(process.ppid));
    await assert.rejects(openStore({ kind: 'pglite', dataDir }), new RegExp(`in use by process ${process.ppid}`));
    // A dead process's lock is taken over.
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout;
    writeFileSync(`${dataDir}.lock`, dead);
    const store = await openStore({ kind: 'pglite', dataDir });
    await assert.rejects(openStore({ kind: 'pglite', dataDir }), /in use by this process already/);
    await store.close();
    const again = await openStore({ kind: 'pglite', dataDir });
    await again.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
