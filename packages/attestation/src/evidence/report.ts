// The verifier's result for people: one line per finding (errors first, then warnings, then
// information, each in the order found), then one summary line. `--json` prints the result
// object itself instead.

import type { Finding, Severity } from './findings.js';
import type { EvidenceResult } from './verify.js';

const ORDER: Record<Severity, number> = { error: 0, warning: 1, info: 2 };

export function formatEvidenceFinding(f: Finding): string {
  const diff = f.expected !== undefined || f.found !== undefined ? `\n         expected ${f.expected ?? '-'}\n         found    ${f.found ?? '-'}` : '';
  return `${f.severity.toUpperCase().padEnd(8)} ${f.id}: ${f.message}${diff}`;
}

/** "0-7,17-22" for a list of PCR indices. */
export function pcrRanges(pcrs: number[]): string {
  const sorted = [...pcrs].sort((a, b) => a - b);
  const out: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    out.push(i === j ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return out.join(',');
}

export function formatEvidenceReport(r: EvidenceResult): string {
  const findings = [...r.findings].sort((a, b) => ORDER[a.severity] - ORDER[b.severity]);
  const lines = findings.map(formatEvidenceFinding);
  const s = r.summary;
  const who = s.subject ? `${s.subject.kind} ${s.subject.id}` : 'unnamed subject';
  const quoted = s.quote ? Object.entries(s.quote.pcrs).map(([bank, pcrs]) => `${bank}:${pcrRanges(pcrs)}`).join(' ') : 'no quote';
  const facts = `${quoted}; ${s.eventsRead} events read; ${s.certificatePaths} certificate path(s) to a trusted root`;
  const count = (sev: Severity) => r.findings.filter((f) => f.severity === sev).length;
  if (r.ok) {
    const w = count('warning');
    lines.push(`evidence OK: ${who} (${facts})${w ? `, ${w} warning${w === 1 ? '' : 's'}` : ''}`);
  } else {
    const e = count('error');
    lines.push(`evidence FAILED: ${who}: ${e} error${e === 1 ? '' : 's'} (${facts})`);
  }
  return lines.join('\n');
}
