// The one place where the two back ends are made to behave alike. PGlite returns bytea as
// Uint8Array and int8 as number; node-postgres returns Buffer and string. Both are normalised
// here to Buffer and (safe-integer) number, so no store code ever branches on the back end.
// PGlite is a single connection (pool of one); PostgreSQL gets a real pool.

import { mkdirSync } from 'node:fs';
import { PGlite, types as liteTypes } from '@electric-sql/pglite';
import ClientPgLite from 'knex-pglite';
import pg from 'pg';
import type { Knex } from 'knex';
import type { StoreConfig } from './config.js';

/** int8 → number; refuses silently losing precision. */
export function parseInt8(text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new RangeError(`int8 value ${text} exceeds the safe integer range`);
  return n;
}

function parseByteaHex(text: string): Buffer {
  // Text-format bytea in hex output ("\x0a1b..."), the PostgreSQL default since 9.0.
  return Buffer.from(text.startsWith('\\x') ? text.slice(2) : text, 'hex');
}

const pgTypes = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === pg.types.builtins.INT8 && format !== 'binary') return parseInt8;
    return pg.types.getTypeParser(oid, format);
  },
};

// knex prints pool and connection failures (with stacks) through its own logger; every such
// failure also rejects the query that caused it, and the caller explains it in one line.
const quietKnexLog = { warn() {}, error() {}, deprecate() {}, debug() {} };

/**
 * knex-pglite names a delete's command "DEL" where knex's PostgreSQL dialect expects "DELETE",
 * so `del()` resolved to the driver's result object instead of the row count. Answer as pg does.
 */
class PgliteClient extends (ClientPgLite as unknown as new (config: Knex.Config) => { processResponse(obj: any, runner: any): unknown }) {
  override processResponse(obj: { method?: string; returning?: unknown; response?: { affectedRows?: number } }, runner: unknown): unknown {
    if (obj?.method === 'del' && !obj.returning) return obj.response?.affectedRows ?? 0;
    return super.processResponse(obj, runner);
  }
}

/** The knex configuration for a back end, with the normalising parsers installed. */
export function knexConfigFor(config: StoreConfig): Knex.Config {
  return { ...backendConfig(config), log: quietKnexLog };
}

function backendConfig(config: StoreConfig): Knex.Config {
  switch (config.kind) {
    case 'postgres':
      return {
        client: 'pg',
        connection: { connectionString: config.url, types: pgTypes, connectionTimeoutMillis: 5000 } as Knex.PgConnectionConfig,
        pool: { min: 0, max: config.poolMax },
        acquireConnectionTimeout: 10_000,
      };
    case 'pglite':
    case 'pglite-memory': {
      const dataDir = config.kind === 'pglite' ? config.dataDir : undefined;
      if (dataDir) mkdirSync(dataDir, { recursive: true });
      // The options-object form: `new PGlite(dir, options)` ignores `parsers`.
      const pglite = new PGlite({
        ...(dataDir ? { dataDir } : {}),
        parsers: { [liteTypes.BYTEA]: parseByteaHex, [liteTypes.INT8]: parseInt8 },
      });
      return {
        client: PgliteClient as unknown as Knex.Config['client'],
        connection: (() => ({ pglite })) as unknown as Knex.Config['connection'],
        acquireConnectionTimeout: 60_000,
      };
    }
  }
}
