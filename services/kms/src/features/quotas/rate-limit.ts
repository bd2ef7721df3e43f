// Operations per second per tenant: a token bucket per tenant in the store, so the limit holds
// across API nodes. The bucket refills at the tenant's ops/s limit and holds `burstSeconds` of it
// (default one second's worth: a tenant idle for a second may spend its whole second at once);
// every admitted request takes one token in ONE conditional upsert, timed by the database's clock.
// A refused request writes nothing and answers 429 with Retry-After (whole seconds to a token).
//
// Not limited: requests that name no tenant, and the provider's operators (cloud-admin, reviewer)
// acting on a tenant — a tenant spending its budget must not lock out the operator who would
// raise it. Tenants without an ops/s limit (the default) cost no write: their limit is read once
// per `limitCacheMs` per node and the request goes through.

import type { Knex } from 'knex';
import { inTenant, type Store } from '@sealkeep/store';
import type { Role } from '../../auth/permissions.js';
import type { Admission } from '../../http/mount.js';
import { Problem } from '../../http/problems.js';

export interface RateLimiterOptions {
  /** How long this node remembers a tenant's ops/s limit (default 1000 ms); a changed limit applies after at most this long. */
  limitCacheMs?: number;
  /** The bucket's size in seconds of the rate (default 1). */
  burstSeconds?: number;
}

const NOT_LIMITED: ReadonlySet<Role> = new Set(['cloud-admin', 'reviewer']);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const CACHE_PRUNE_AT = 10_000;

// The bucket's level now: what it held, plus the refill since, capped at its size. Parameters: size, rate.
const LEVEL = 'least(?::float8, b.tokens + greatest(0, extract(epoch from statement_timestamp() - b.updated_at)::float8) * ?::float8)';

/** Take one token from the tenant's bucket; true when there was one. */
async function takeToken(trx: Knex.Transaction, tenantId: string, rate: number, size: number): Promise<boolean> {
  const result = await trx.raw(
    `insert into rate_limit_buckets as b (tenant_id, tokens, updated_at)
     values (?::uuid, ?::float8 - 1, statement_timestamp())
     on conflict (tenant_id) do update
        set tokens = ${LEVEL} - 1,
            updated_at = greatest(b.updated_at, statement_timestamp())
      where ${LEVEL} >= 1
     returning tokens`,
    [tenantId, size, size, rate, size, rate],
  );
  return (result.rows as unknown[]).length > 0;
}

/** Whole seconds until the tenant's bucket holds a token again (at least 1). */
async function secondsToNextToken(trx: Knex.Transaction, tenantId: string, rate: number, size: number): Promise<number> {
  const result = await trx.raw(`select ${LEVEL} as level from rate_limit_buckets b where b.tenant_id = ?::uuid`, [size, rate, tenantId]);
  const level = Number((result.rows as Array<{ level: number }>)[0]?.level ?? 0);
  return Math.max(1, Math.ceil((1 - level) / rate));
}

export function createRateLimiter(store: Store, opts: RateLimiterOptions = {}): Admission {
  const cacheMs = opts.limitCacheMs ?? 1000;
  const burstSeconds = opts.burstSeconds ?? 1;
  const limits = new Map<string, { opsPerSecond: Promise<number | null>; until: number }>();

  const opsPerSecondOf = (tenantId: string): Promise<number | null> => {
    const now = Date.now();
    const cached = limits.get(tenantId);
    if (cached && cached.until > now) return cached.opsPerSecond;
    if (limits.size >= CACHE_PRUNE_AT) for (const [id, entry] of limits) if (entry.until <= now) limits.delete(id);
    const opsPerSecond = inTenant(store.db, tenantId, async (trx) => {
      const row = await trx('tenant_quotas').where({ tenant_id: tenantId }).first('ops_per_second');
      return (row?.ops_per_second as number | null | undefined) ?? null;
    });
    limits.set(tenantId, { opsPerSecond, until: now + cacheMs });
    opsPerSecond.catch(() => {
      if (limits.get(tenantId)?.opsPerSecond === opsPerSecond) limits.delete(tenantId);
    });
    return opsPerSecond;
  };

  return async (principal, _route, tenantId) => {
    if (tenantId === undefined || NOT_LIMITED.has(principal.role)) return;
    // A malformed tenant id is refused by validation after admission; there is no bucket to count.
    if (!UUID.test(tenantId)) return;
    const rate = await opsPerSecondOf(tenantId);
    if (rate === null) return;
    const size = Math.max(1, rate * burstSeconds);
    const wait = await inTenant(store.db, tenantId, async (trx) =>
      (await takeToken(trx, tenantId, rate, size)) ? 0 : secondsToNextToken(trx, tenantId, rate, size),
    );
    if (wait > 0) {
      throw new Problem('rate-limited', `more than ${rate} operations per second for this tenant; retry in ${wait} s`, { opsPerSecond: rate }, { 'retry-after': String(wait) });
    }
  };
}
