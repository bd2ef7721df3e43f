// One scan, start to report: count what each requested scope will examine (the progress total),
// mark the scan running, run the scopes in order — each collecting its findings, never stopping
// at the first — and assemble the report. Storing it and auditing the finish is the runner's.

import type { Knex } from 'knex';
import { FindingCollector, type ScanScope } from './findings.js';
import { ScanProgress, type ProgressOptions } from './progress.js';
import { buildReport, sectionOf, type ScanReport, type ScanSection } from './report.js';
import { markRunning } from './store.js';
import type { ScanContext, ScopeCheck } from './scope-check.js';
import { hostsCheck } from './hosts-check.js';
import { vmsCheck } from './vms-check.js';
import { keysCheck } from './keys-check.js';
import { configurationCheck } from './configuration-check.js';
import { auditCheck } from './audit-check.js';

export const CHECKS: Record<ScanScope, ScopeCheck> = {
  hosts: hostsCheck,
  vms: vmsCheck,
  keys: keysCheck,
  configuration: configurationCheck,
  audit: auditCheck,
};

/** Findings listed per scope in a report; beyond it they are counted only. */
export const MAX_FINDINGS_PER_SCOPE = 5000;

/** A scan as the runner holds it: what the reviewer asked for, and in which request. */
export interface ScanJob {
  scanId: string;
  scopes: ScanScope[];
  requestedBy: string;
  requestId: string;
}

/** Run a queued scan; null when it was not this runner's to start any more (declared lapsed). */
export async function runScan(db: Knex, runnerId: string, job: ScanJob, ctx: ScanContext, opts: ProgressOptions): Promise<ScanReport | null> {
  const counts = new Map<ScanScope, number>();
  for (const scope of job.scopes) counts.set(scope, await CHECKS[scope].count(db));
  const total = [...counts.values()].reduce((a, b) => a + b, 0);
  const startedAt = new Date();
  if (!(await markRunning(db, job.scanId, runnerId, total, startedAt))) return null;
  const progress = new ScanProgress(db, job.scanId, runnerId, total, opts);
  const sections: ScanSection[] = [];
  for (const scope of job.scopes) {
    const out = new FindingCollector(scope, MAX_FINDINGS_PER_SCOPE);
    await progress.begin(scope, counts.get(scope) ?? 0);
    const checked = await CHECKS[scope].run(db, ctx, out, progress);
    sections.push(sectionOf(out, checked));
  }
  return buildReport(
    {
      scanId: job.scanId,
      scopes: job.scopes,
      requestedBy: job.requestedBy,
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      settings: { hostAttestationSeconds: ctx.hostAttestationSeconds, keyRotationDays: ctx.keyRotationDays },
    },
    sections,
  );
}
