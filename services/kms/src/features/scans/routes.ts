// Compliance scan routes (compliance plane, reviewers): start a scan (202 with a reservation id
// and where to follow it), follow it (state, progress, and the report once done), read the
// report as one HTML page, list recent scans. Starting and every read of a report are audited.

import { z } from 'zod';
import type { Store } from '@sealkeep/store';
import { route } from '../../http/route.js';
import { SCAN_SCOPES, SEVERITIES } from './findings.js';
import { REPORT_CSP } from './report-html.js';
import type { ScanRunner } from './runner.js';
import type { ScanContext } from './scope-check.js';
import { listScans, scanReportHtml, scanState, startScan, type ScanAccepted } from './service.js';

const ScanParams = z.object({ scanId: z.uuid() });
const Status = z.enum(['queued', 'running', 'done', 'failed']);
const Counts = z.object(Object.fromEntries(SEVERITIES.map((s) => [s, z.number().int()])) as Record<(typeof SEVERITIES)[number], z.ZodNumber>);
const Summary = z.object({ passed: z.boolean(), findings: z.number().int(), counts: Counts, checked: z.record(z.string(), z.number()) });
const Finding = z.object({
  id: z.string(),
  severity: z.enum(SEVERITIES),
  scope: z.enum(SCAN_SCOPES),
  subject: z.string(),
  message: z.string(),
  expected: z.string().optional(),
  found: z.string().optional(),
});
const Report = z.object({
  format: z.literal('sealkeep-scan-report'),
  version: z.literal(1),
  scanId: z.uuid(),
  scopes: z.array(z.enum(SCAN_SCOPES)),
  requestedBy: z.string(),
  startedAt: z.string(),
  finishedAt: z.string(),
  settings: z.object({ hostAttestationSeconds: z.number(), keyRotationDays: z.number() }),
  summary: Summary,
  sections: z.array(z.object({ scope: z.enum(SCAN_SCOPES), title: z.string(), passed: z.boolean(), checked: z.record(z.string(), z.number()), counts: Counts, findings: z.array(Finding), omitted: z.number().int() })),
});
const State = z.object({
  scanId: z.uuid(),
  status: Status,
  scopes: z.array(z.enum(SCAN_SCOPES)),
  percent: z.number().int().min(0).max(100),
  step: z.string(),
  itemsDone: z.number().int(),
  itemsTotal: z.number().int(),
  requestedBy: z.string(),
  requestedAt: z.string(),
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
  failure: z.string().nullable(),
  report: Report.optional().describe('present once the scan is done'),
});

export function scanRoutes(store: Store, runner: ScanRunner, context: ScanContext) {
  return [
    route({
      method: 'post',
      path: '/v1/scans',
      plane: 'compliance',
      permission: 'scan.run',
      summary: 'Start a compliance scan of hosts, VMs, keys, the service configuration and the audit trail (all unless scopes are named); answers at once with the scan id to follow',
      body: z.strictObject({ scopes: z.array(z.enum(SCAN_SCOPES)).min(1).max(SCAN_SCOPES.length).optional() }),
      status: 202,
      response: z.object({ scanId: z.uuid(), status: z.literal('queued'), statusUrl: z.string() }),
      responseHeaders: (accepted: ScanAccepted) => ({ location: accepted.statusUrl }),
      handler: ({ body, actor }) => startScan(store.db, runner, context, actor!, body.scopes),
    }),
    route({
      method: 'get',
      path: '/v1/scans',
      plane: 'compliance',
      permission: 'scan.read',
      summary: 'Recent scans, newest first, with the summary of each finished one',
      query: z.object({ limit: z.coerce.number().int().min(1).max(100).optional() }),
      response: z.array(State.omit({ report: true }).extend({ summary: Summary.optional() })),
      handler: ({ query }) => listScans(store.db, query.limit ?? 20),
    }),
    route({
      method: 'get',
      path: '/v1/scans/:scanId',
      plane: 'compliance',
      permission: 'scan.read',
      summary: "A scan's state and progress; once done, its report (a read of the report, audited)",
      params: ScanParams,
      response: State,
      handler: ({ params, actor }) => scanState(store.db, actor!, params.scanId),
    }),
    route({
      method: 'get',
      path: '/v1/scans/:scanId/report.html',
      plane: 'compliance',
      permission: 'scan.read',
      summary: "A finished scan's report as one self-contained HTML page (audited)",
      params: ScanParams,
      produces: 'text/html',
      responseHeaders: { 'content-security-policy': REPORT_CSP, 'x-content-type-options': 'nosniff', 'cache-control': 'no-store' },
      handler: ({ params, actor }) => scanReportHtml(store.db, actor!, params.scanId),
    }),
  ];
}
