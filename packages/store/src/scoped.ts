// The one door to tenant data. Every query of the service runs in a transaction opened here, in
// one of three scopes, and PostgreSQL row-level security (migration 0004) is the second wall
// behind the service's own checks:
//
//   inTenant(db, id, fn)  — the tenant's rows only (and nothing of any other tenant)
//   asProvider(db, fn)    — the provider's own rows (tenant_id null) and the tenants list
//   asSystem(db, why, fn) — every row; for lookups that come before a tenant is known:
//                           authenticating a proof, the replay cache, spending an enrollment code
//
// Tenant and provider scopes switch the transaction to the unprivileged role sealkeep_app
// (`set local role`) and set the context with set_config(…, true), so both end with the
// transaction. A connection that sets no context as sealkeep_app sees no tenant row at all.

import type { Knex } from 'knex';

/** The role tenant and provider transactions run as: no BYPASSRLS, not the tables' owner. */
export const APP_ROLE = 'sealkeep_app';
/** Session settings the RLS policies read. */
export const TENANT_SETTING = 'sealkeep.tenant_id';
export const SCOPE_SETTING = 'sealkeep.scope';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export class ScopeError extends Error {
  override name = 'ScopeError';
}

/** Put an open transaction in a tenant's scope (also to move a system transaction into one). */
export async function enterTenant(trx: Knex.Transaction, tenantId: string): Promise<void> {
  if (!UUID.test(tenantId)) throw new ScopeError('a tenant scope needs a tenant id (uuid)');
  await trx.raw(`set local role ${APP_ROLE}`);
  await trx.raw('select set_config(?, ?, true), set_config(?, ?, true)', [TENANT_SETTING, tenantId, SCOPE_SETTING, 'tenant']);
}

/** Put an open transaction in the provider's scope. */
export async function enterProvider(trx: Knex.Transaction): Promise<void> {
  await trx.raw(`set local role ${APP_ROLE}`);
  await trx.raw("select set_config(?, '', true), set_config(?, ?, true)", [TENANT_SETTING, SCOPE_SETTING, 'provider']);
}

/** One transaction that sees only `tenantId`'s rows. */
export async function inTenant<T>(db: Knex, tenantId: string, fn: (trx: Knex.Transaction) => Promise<T>): Promise<T> {
  if (!UUID.test(tenantId)) throw new ScopeError('a tenant scope needs a tenant id (uuid)');
  return db.transaction(async (trx) => {
    await enterTenant(trx, tenantId);
    return fn(trx);
  });
}

/** One transaction that sees the provider's rows (tenant_id null) and the list of tenants. */
export function asProvider<T>(db: Knex, fn: (trx: Knex.Transaction) => Promise<T>): Promise<T> {
  return db.transaction(async (trx) => {
    await enterProvider(trx);
    return fn(trx);
  });
}

/** A tenant's scope, or the provider's when `tenantId` is null (a principal's own side). */
export function inScope<T>(db: Knex, tenantId: string | null, fn: (trx: Knex.Transaction) => Promise<T>): Promise<T> {
  return tenantId === null ? asProvider(db, fn) : inTenant(db, tenantId, fn);
}

/**
 * One transaction over every tenant's rows, for what must happen before a tenant is known.
 * `why` names the reason at the call site, so each use can be found and reviewed.
 */
export async function asSystem<T>(db: Knex, why: string, fn: (trx: Knex.Transaction) => Promise<T>): Promise<T> {
  if (!why) throw new ScopeError('a system transaction states why it needs every tenant');
  return db.transaction(fn);
}
