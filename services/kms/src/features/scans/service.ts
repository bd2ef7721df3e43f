// What the scan routes do: accept a scan (stored as queued and audited in one transaction, then
// handed to this node's runner), show one scan's state — with its report once done, which is a
// read of the report and audited — render the report as a page (audited too), and list recent
// scans. Every read first fails scans whose node stopped renewing their heartbeat.

import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { asProvider } from '@sealkeep/store';
import { Problem } from '../../http/problems.js';
import { appendAudit, type AuditActor } from '../../audit/audit-log.js';
import { SCAN_SCOPES, type ScanScope } from './findings.js';
import type { ScanReport } from './report.js';
import { renderReportHtml } from './report-html.js';
import type { ScanRunner } from './runner.js';
import type { ScanContext } from './scope-check.js';
import { failLapsedScans, findScan, fromJson, insertScan, recentScans, type ScanRow, type ScanStatus } from './store.js';

export interface ScanAccepted {
  scanId: string;
  status: 'queued';
  statusUrl: string;
}

export interface ScanState {
  scanId: string;
  status: ScanStatus;
  scopes: ScanScope[];
  percent: number;
  step: string;
  itemsDone: number;
  itemsTotal: number;
  requestedBy: string;
  requestedAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  failure: string | null;
  report?: ScanReport;
  summary?: ScanReport['summary'];
}

export const statusUrlOf = (scanId: string) => `/v1/scans/${scanId}`;
const iso = (d: Date | null) => (d ? new Date(d).toISOString() : null);

function stateOf(row: Omit<ScanRow, 'report'>): ScanState {
  return {
    scanId: row.scan_id,
    status: row.status,
    scopes: fromJson(row.scopes),
    percent: row.percent,
    step: row.step,
    itemsDone: row.items_done,
    itemsTotal: row.items_total,
    requestedBy: row.requested_by,
    requestedAt: iso(row.requested_at)!,
    startedAt: iso(row.started_at),
    finishedAt: iso(row.finished_at),
    failure: row.failure,
  };
}

/** The scopes asked for, each once, in the order scans run them; all of them when none is named. */
export const scopesToRun = (asked: readonly ScanScope[] | undefined): ScanScope[] => (asked?.length ? SCAN_SCOPES.filter((s) => asked.includes(s)) : [...SCAN_SCOPES]);

export async function startScan(db: Knex, runner: ScanRunner, ctx: ScanContext, actor: AuditActor, asked: readonly ScanScope[] | undefined): Promise<ScanAccepted> {
  const slot = runner.reserve();
  if (!slot && runner.stopped) throw new Problem('service-unavailable', 'this node is stopping and takes no more scans');
  if (!slot) throw new Problem('conflict', `this node already holds ${runner.pending} scans (at most ${runner.maxPending}); wait for one to finish`);
  const scanId = randomUUID();
  const scopes = scopesToRun(asked);
  try {
    await asProvider(db, async (trx) => {
      await insertScan(trx, { scan_id: scanId, scopes, requested_by: actor.principal, request_id: actor.requestId, runner_id: runner.runnerId });
      await appendAudit(trx, actor, { tenantId: null, action: 'scan.start', resource: `scan:${scanId}`, outcome: 'success', details: { scopes: scopes.join(',') } });
    });
  } catch (err) {
    slot.release();
    throw err;
  }
  slot.enqueue({ scanId, scopes, requestedBy: actor.principal, requestId: actor.requestId }, ctx);
  return { scanId, status: 'queued', statusUrl: statusUrlOf(scanId) };
}

async function requireScan(trx: Knex.Transaction, scanId: string): Promise<ScanRow> {
  await failLapsedScans(trx, scanId);
  const row = await findScan(trx, scanId);
  if (!row) throw new Problem('not-found', 'no such scan');
  return row;
}

const auditRead = (trx: Knex.Transaction, actor: AuditActor, scanId: string, format: 'json' | 'html') =>
  appendAudit(trx, actor, { tenantId: null, action: 'scan.report.read', resource: `scan:${scanId}`, outcome: 'success', details: { format } });

/** A scan's state; once done, with its report (and that read is audited). */
export function scanState(db: Knex, actor: AuditActor, scanId: string): Promise<ScanState> {
  return asProvider(db, async (trx) => {
    const row = await requireScan(trx, scanId);
    const state = stateOf(row);
    if (row.status !== 'done' || !row.report) return state;
    await auditRead(trx, actor, scanId, 'json');
    return { ...state, report: fromJson(row.report) };
  });
}

/** The finished report as one self-contained page; a scan not done yet is a conflict. */
export function scanReportHtml(db: Knex, actor: AuditActor, scanId: string): Promise<string> {
  return asProvider(db, async (trx) => {
    const row = await requireScan(trx, scanId);
    if (row.status !== 'done' || !row.report) {
      const where = row.status === 'failed' ? `failed: ${row.failure ?? 'no reason recorded'}` : `is ${row.status} (${row.percent} %)`;
      throw new Problem('conflict', `the scan has no report: it ${where}`);
    }
    await auditRead(trx, actor, scanId, 'html');
    return renderReportHtml(fromJson(row.report));
  });
}

/** The newest scans, with each finished one's summary (no findings: reading those is a report read). */
export function listScans(db: Knex, limit: number): Promise<ScanState[]> {
  return asProvider(db, async (trx) => {
    await failLapsedScans(trx);
    const rows = await recentScans(trx, limit);
    return rows.map((r) => ({ ...stateOf(r), ...(r.summary ? { summary: fromJson(r.summary as ScanReport['summary']) } : {}) }));
  });
}
