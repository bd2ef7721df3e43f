// Timed work of the keys feature, once a minute: destroy keys whose waiting period is over, and
// erase the wrapping keys of import jobs that expired unspent.

import type { Knex } from 'knex';
import { asSystem } from '@sealkeep/store';
import { destroyDueKeys } from './lifecycle.js';
import { eraseExpiredImportJobs } from './import-jobs.js';
import type { KeysContext } from './keys-context.js';

export async function sweepKeys(db: Knex, ctx: KeysContext | undefined): Promise<{ destroyed: string[]; jobsErased: number }> {
  const destroyed = await destroyDueKeys(db, ctx);
  const jobsErased = await asSystem(db, 'erase the wrapping keys of expired import jobs, across tenants', eraseExpiredImportJobs);
  return { destroyed, jobsErased };
}

export function startKeySweeper(db: Knex, ctx: KeysContext | undefined, onError: (err: unknown) => void, everyMs = 60_000): { stop(): void } {
  const timer = setInterval(() => void sweepKeys(db, ctx).catch(onError), everyMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
