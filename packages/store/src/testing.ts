// Test support: a fresh, migrated store per test file on whichever back end the run uses.
// With DATABASE_URL set, a new PostgreSQL database is created beside the one named (and dropped
// on close), so test files running in parallel never see each other's rows. Without it, an
// in-memory PGlite.

import { randomBytes } from 'node:crypto';
import knexFactory from 'knex';
import { storeConfigFromEnv, type StoreConfig } from './config.js';
import { openStore, type Store } from './store.js';

export function backendUnderTest(): 'postgres' | 'pglite' {
  return process.env.DATABASE_URL?.trim() ? 'postgres' : 'pglite';
}

/** Open a fresh store; `migrate: false` leaves it empty. Close it to drop it. */
export async function freshStore(opts: { migrate?: boolean } = {}): Promise<Store> {
  const base = storeConfigFromEnv();
  let config: StoreConfig = base;
  let drop: (() => Promise<void>) | undefined;
  if (base.kind === 'postgres') {
    const name = `sealkeep_t_${randomBytes(6).toString('hex')}`;
    const admin = knexFactory({ client: 'pg', connection: base.url, pool: { min: 0, max: 1 } });
    await admin.raw(`create database ${name}`);
    const url = new URL(base.url);
    url.pathname = `/${name}`;
    config = { ...base, url: url.toString() };
    drop = async () => {
      await admin.raw(`drop database if exists ${name} with (force)`);
      await admin.destroy();
    };
  } else {
    config = { kind: 'pglite-memory' };
  }
  const store = await openStore(config);
  if (opts.migrate !== false) await store.migrateLatest();
  return {
    ...store,
    async close() {
      await store.close();
      await drop?.();
    },
  };
}
