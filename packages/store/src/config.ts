// Store configuration: which back end (embedded PGlite or PostgreSQL) and where its data lives,
// read from the environment in one place.

import path from 'node:path';

export type StoreConfig =
  | { kind: 'pglite'; dataDir: string }
  | { kind: 'pglite-memory' }
  | { kind: 'postgres'; url: string; poolMax: number };

/**
 * `DATABASE_URL` selects PostgreSQL; otherwise the embedded PGlite store keeps its files under
 * `$SEALKEEP_DATA_DIR/pgdata` (default `./.sealkeep/pgdata`).
 */
export function storeConfigFromEnv(env: NodeJS.ProcessEnv = process.env): StoreConfig {
  const url = env.DATABASE_URL?.trim();
  if (url) {
    const poolMax = Number(env.SEALKEEP_DB_POOL_MAX ?? 10);
    if (!Number.isInteger(poolMax) || poolMax < 1) {
      throw new Error(`SEALKEEP_DB_POOL_MAX must be a positive integer, got "${env.SEALKEEP_DB_POOL_MAX}"`);
    }
    return { kind: 'postgres', url, poolMax };
  }
  return { kind: 'pglite', dataDir: path.resolve(dataDirFromEnv(env), 'pgdata') };
}

/** The service's data directory (store files, TPM state). */
export function dataDirFromEnv(env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(env.SEALKEEP_DATA_DIR?.trim() || '.sealkeep');
}

/** A description safe to log: never the password of a connection URL. */
export function describeStoreConfig(config: StoreConfig): string {
  switch (config.kind) {
    case 'pglite':
      return `embedded PGlite at ${config.dataDir}`;
    case 'pglite-memory':
      return 'embedded PGlite in memory';
    case 'postgres':
      return `PostgreSQL at ${redactUrl(config.url)}`;
  }
}

export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable URL)';
  }
}
