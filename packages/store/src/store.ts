// Opening, migrating and closing the store. A Store is a knex instance bound to one back end,
// already checked to be reachable; everything above it speaks plain knex and SQL.

import { mkdirSync } from 'node:fs';
import knexFactory, { type Knex } from 'knex';
import { migrationSource } from '@sealkeep/migrations';
import type { StoreConfig } from './config.js';
import { knexConfigFor } from './drivers.js';
import { checkPostgresUrl, explainOpenFailure, StoreOpenError } from './errors.js';
import { lockDataDir } from './data-dir-lock.js';

export interface Store {
  readonly config: StoreConfig;
  readonly db: Knex;
  /** Apply every pending migration; returns the names applied. */
  migrateLatest(): Promise<string[]>;
  /** Undo every applied migration, newest first; returns the names undone. */
  migrateDownAll(): Promise<string[]>;
  /** Names of applied migrations, oldest first. */
  appliedMigrations(): Promise<string[]>;
  /** True when a trivial query succeeds (readiness probe). */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

const migrationConfig: Knex.MigratorConfig = { migrationSource, tableName: 'schema_migrations' };

/** Open the store and check it answers; throws StoreOpenError with a one-line reason. */
export async function openStore(config: StoreConfig): Promise<Store> {
  if (config.kind === 'postgres') checkPostgresUrl(config.url);
  let release = () => {};
  if (config.kind === 'pglite') {
    mkdirSync(config.dataDir, { recursive: true });
    release = lockDataDir(config.dataDir);
  }
  let db: Knex;
  try {
    db = knexFactory(knexConfigFor(config));
    await db.raw('select 1');
  } catch (err) {
    // knex keeps retrying pool creation in the background; make sure nothing is left open.
    await db!?.destroy().catch(() => {});
    release();
    throw err instanceof StoreOpenError ? err : explainOpenFailure(config, err);
  }
  return {
    config,
    db,
    async migrateLatest() {
      const [, applied] = (await db.migrate.latest(migrationConfig)) as [number, string[]];
      return applied;
    },
    async migrateDownAll() {
      const [, undone] = (await db.migrate.rollback(migrationConfig, true)) as [number, string[]];
      return undone;
    },
    async appliedMigrations() {
      const [done] = (await db.migrate.list(migrationConfig)) as [Array<{ name: string }>, unknown];
      return done.map((m) => m.name);
    },
    async ping() {
      try {
        await db.raw('select 1');
        return true;
      } catch {
        return false;
      }
    },
    async close() {
      await db.destroy();
      release();
    },
  };
}
