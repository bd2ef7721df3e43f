// Findings for people, as the evidence verifier prints them (../evidence/report.ts): one line per
// finding, errors first, then warnings, then information, each in the order found.

import { formatEvidenceFinding } from '../evidence/report.js';
import type { Finding as EvidenceFinding } from '../evidence/findings.js';
import type { Finding, Severity } from './findings.js';

const ORDER: Record<Severity, number> = { error: 0, warning: 1, info: 2 };

export const formatFinding = (f: Finding): string => formatEvidenceFinding(f as EvidenceFinding);

export function findingLines(findings: readonly Finding[]): string[] {
  return [...findings].sort((a, b) => ORDER[a.severity] - ORDER[b.severity]).map(formatFinding);
}

export function count(findings: readonly Finding[], severity: Severity): string {
  const n = findings.filter((f) => f.severity === severity).length;
  return `${n} ${severity === 'info' ? 'note' : severity}${n === 1 ? '' : 's'}`;
}

export const short = (hex: string | undefined) => (hex ? `${hex.slice(0, 16)}…` : '?');
