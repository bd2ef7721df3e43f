// The scans table (migration 0011): provider rows, always in the provider's scope. A scan's
// life is written here by the node running it — queued → running (progress, heartbeats) → done
// with its report, or failed with the reason. Writes by the runner are conditional on the scan
// still being its own and running, so a scan another node declared lapsed is never revived.

import type { Knex } from 'knex';
import { asProvider } from '@sealkeep/store';
import type { ScanScope } from './findings.js';
import type { ScanReport } from './report.js';

export type ScanStatus = 'queued' | 'running' | 'done' | 'failed';

export interface ScanRow {
  scan_id: string;
  status: ScanStatus;
  scopes: ScanScope[] | string;
  percent: number;
  step: string;
  items_done: number;
  items_total: number;
  requested_by: string;
  request_id: string;
  runner_id: string;
  heartbeat_at: Date;
  requested_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
  failure: string | null;
  report: ScanReport | string | null;
}

/** How often a runner renews the heartbeat of the scans it holds. */
export const HEARTBEAT_SECONDS = 5;
/** A queued or running scan whose heartbeat is older than this was interrupted (its node stopped). */
export const LAPSE_SECONDS = 30;

const PENDING = ['queued', 'running'] as const;

/** jsonb comes back parsed from node-postgres and, for some values, as text from PGlite. */
export const fromJson = <T>(v: T | string): T => (typeof v === 'string' ? (JSON.parse(v) as T) : v);

export async function insertScan(trx: Knex.Transaction, row: { scan_id: string; scopes: readonly ScanScope[]; requested_by: string; request_id: string; runner_id: string }): Promise<void> {
  await trx('scans').insert({ ...row, scopes: JSON.stringify(row.scopes) });
}

export const findScan = (trx: Knex.Transaction, scanId: string): Promise<ScanRow | undefined> => trx('scans').where({ scan_id: scanId }).first();

/** The newest scans first, without their reports (only the report's summary). */
export function recentScans(trx: Knex.Transaction, limit: number): Promise<Array<Omit<ScanRow, 'report'> & { summary: unknown }>> {
  return trx('scans')
    .select('scan_id', 'status', 'scopes', 'percent', 'step', 'items_done', 'items_total', 'requested_by', 'request_id', 'runner_id', 'heartbeat_at', 'requested_at', 'started_at', 'finished_at', 'failure', trx.raw("report -> 'summary' as summary"))
    .orderBy('requested_at', 'desc')
    .orderBy('scan_id')
    .limit(limit);
}

/** Fail the queued and running scans (one, or all) whose node has stopped renewing their heartbeat. */
export function failLapsedScans(trx: Knex.Transaction, scanId?: string): Promise<number> {
  const q = trx('scans')
    .whereIn('status', PENDING)
    .andWhereRaw('heartbeat_at < now() - make_interval(secs => ?)', [LAPSE_SECONDS]);
  if (scanId) q.andWhere({ scan_id: scanId });
  return q.update({ status: 'failed', finished_at: trx.fn.now(), failure: `interrupted: the node running it stopped (no heartbeat for ${LAPSE_SECONDS} s)` });
}

export const renewHeartbeats = (db: Knex, runnerId: string): Promise<number> =>
  asProvider(db, (trx) => trx('scans').where({ runner_id: runnerId }).whereIn('status', PENDING).update({ heartbeat_at: trx.fn.now() }));

/** The runner's writes: each returns false when the scan is no longer this runner's to write. */
const own = (trx: Knex.Transaction, scanId: string, runnerId: string, status: readonly ScanStatus[]) =>
  trx('scans').where({ scan_id: scanId, runner_id: runnerId }).whereIn('status', status);

export async function markRunning(db: Knex, scanId: string, runnerId: string, itemsTotal: number, startedAt: Date): Promise<boolean> {
  const n = await asProvider(db, (trx) =>
    own(trx, scanId, runnerId, ['queued']).update({ status: 'running', started_at: startedAt, heartbeat_at: trx.fn.now(), items_total: itemsTotal, step: 'starting' }),
  );
  return n === 1;
}

export async function saveProgress(db: Knex, scanId: string, runnerId: string, p: { percent: number; step: string; itemsDone: number; itemsTotal: number }): Promise<boolean> {
  const n = await asProvider(db, (trx) =>
    own(trx, scanId, runnerId, ['running']).update({ percent: p.percent, step: p.step, items_done: p.itemsDone, items_total: p.itemsTotal, heartbeat_at: trx.fn.now() }),
  );
  return n === 1;
}

/** Done: the report is stored in the same transaction as `alsoInTrx` (the audit entry of the finish). */
export async function finishScan(db: Knex, scanId: string, runnerId: string, report: ScanReport, alsoInTrx: (trx: Knex.Transaction) => Promise<unknown>): Promise<boolean> {
  return asProvider(db, async (trx) => {
    const n = await own(trx, scanId, runnerId, ['running']).update({
      status: 'done',
      percent: 100,
      step: 'done',
      items_done: trx.raw('greatest(items_done, items_total)'),
      finished_at: report.finishedAt,
      report: JSON.stringify(report),
    });
    if (n !== 1) return false;
    await alsoInTrx(trx);
    return true;
  });
}

/** Failed, with the reason people will read; audited in the same transaction (`alsoInTrx`). */
export async function failScan(db: Knex, scanId: string, runnerId: string, reason: string, alsoInTrx: (trx: Knex.Transaction) => Promise<unknown>): Promise<boolean> {
  return asProvider(db, async (trx) => {
    const n = await own(trx, scanId, runnerId, PENDING).update({ status: 'failed', finished_at: trx.fn.now(), failure: reason.slice(0, 500) });
    if (n !== 1) return false;
    await alsoInTrx(trx);
    return true;
  });
}

/** At start: fail every scan whose node stopped renewing its heartbeat (LAPSE_SECONDS ago or more). */
export const failInterruptedScans = (db: Knex): Promise<number> => asProvider(db, (trx) => failLapsedScans(trx));
