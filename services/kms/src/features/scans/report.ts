// A finished scan's report, as JSON: a summary (counts by severity, what was checked, pass or
// fail), then one section per scope with its findings, high first. A scan passes when no
// finding is high. The same value is rendered for people by report-html.ts and by the CLI.

import { SEVERITIES, type Finding, type FindingCollector, type ScanScope, type Severity } from './findings.js';

export const SCOPE_TITLES: Record<ScanScope, string> = {
  hosts: 'Hosts',
  vms: 'VMs and volumes',
  keys: 'Keys',
  configuration: 'Service configuration',
  audit: 'Audit trail',
};

export interface ScanSection {
  scope: ScanScope;
  title: string;
  passed: boolean;
  /** What was examined, e.g. { vms: 300, volumes: 600 }. */
  checked: Record<string, number>;
  counts: Record<Severity, number>;
  findings: Finding[];
  /** Findings beyond the per-scope limit: counted above, not listed. */
  omitted: number;
}

export interface ScanReport {
  format: 'sealkeep-scan-report';
  version: 1;
  scanId: string;
  scopes: ScanScope[];
  requestedBy: string;
  startedAt: string;
  finishedAt: string;
  /** The thresholds the checks used. */
  settings: { hostAttestationSeconds: number; keyRotationDays: number };
  summary: { passed: boolean; findings: number; counts: Record<Severity, number>; checked: Record<string, number> };
  sections: ScanSection[];
}

const RANK: Record<Severity, number> = { high: 0, medium: 1, low: 2, info: 3 };

export const bySeverity = (a: Finding, b: Finding): number =>
  RANK[a.severity] - RANK[b.severity] || a.id.localeCompare(b.id) || a.subject.localeCompare(b.subject);

export function sectionOf(collector: FindingCollector, checked: Record<string, number>): ScanSection {
  return {
    scope: collector.scope,
    title: SCOPE_TITLES[collector.scope],
    passed: collector.counts.high === 0,
    checked,
    counts: { ...collector.counts },
    findings: [...collector.findings].sort(bySeverity),
    omitted: collector.omitted,
  };
}

export function buildReport(head: Omit<ScanReport, 'format' | 'version' | 'summary' | 'sections'>, sections: ScanSection[]): ScanReport {
  const counts = Object.fromEntries(SEVERITIES.map((s) => [s, sections.reduce((n, x) => n + x.counts[s], 0)])) as Record<Severity, number>;
  const checked: Record<string, number> = {};
  for (const s of sections) for (const [what, n] of Object.entries(s.checked)) checked[what] = (checked[what] ?? 0) + n;
  return {
    format: 'sealkeep-scan-report',
    version: 1,
    ...head,
    summary: { passed: counts.high === 0, findings: SEVERITIES.reduce((n, s) => n + counts[s], 0), counts, checked },
    sections,
  };
}
