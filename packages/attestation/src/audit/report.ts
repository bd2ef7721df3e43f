// The verifier's report: findings (collected, never thrown — keylime's failure events are the
// model), counts, and the AK keys seen; plain JSON so `--json` prints it as is. formatReport()
// renders it for people: one line per finding, then one summary line.

export const FINDING_IDS = [
  'audit.entry.altered',
  'audit.entry.missing',
  'audit.entry.reordered',
  'audit.entry.duplicate',
  'audit.entry.secret',
  'audit.entry.unsigned',
  'audit.chain.broken',
  'audit.checkpoint.signature',
  'audit.checkpoint.head-mismatch',
  'audit.checkpoint.untrusted-key',
  'audit.checkpoint.clock-regressed',
  'audit.line.malformed',
] as const;
export type AuditFindingId = (typeof FINDING_IDS)[number];
export type AuditSeverity = 'critical' | 'high' | 'warning';

export interface AuditFinding {
  id: AuditFindingId;
  severity: AuditSeverity;
  /** the entry (or, for checkpoints, the covered seq) the finding is about */
  seq?: number;
  /** 1-based line of the export */
  line?: number;
  expected?: string;
  found?: string;
  message: string;
}

export interface AuditCounts {
  /** lines read, blank ones included */
  lines: number;
  entries: number;
  checkpoints: number;
  lastSeq: number | null;
  /** highest seq covered by a checkpoint that verifies (signature, trusted key, head hash) */
  lastCheckpointedSeq: number | null;
  /** entries with a seq above lastCheckpointedSeq: not yet covered by a signature */
  entriesAfterLastCheckpoint: number;
}

export interface AuditReport {
  /** true when no finding is critical or high (warnings do not fail a log) */
  ok: boolean;
  /** the lowest seq of an altered, missing, reordered, conflicting-duplicate or mis-linked entry */
  firstBadSeq: number | null;
  counts: AuditCounts;
  /** each AK that signed a checkpoint: SHA-256 of its SPKI; trusted is null when no trust list was given */
  akKeys: Array<{ fingerprint: string; trusted: boolean | null; checkpoints: number }>;
  findings: AuditFinding[];
  /** findings beyond the cap (opts.maxFindings), counted but not listed */
  findingsOmitted: number;
}

/** 1234567 → "1,234,567" (fixed, locale-independent). */
export const grouped = (n: number): string => String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');

export function formatFinding(f: AuditFinding): string {
  const where = [f.seq === undefined ? '' : `seq ${grouped(f.seq)}`, f.line === undefined ? '' : `line ${grouped(f.line)}`]
    .filter(Boolean)
    .join(', ');
  const diff = f.expected !== undefined || f.found !== undefined ? ` (expected ${f.expected ?? '-'}, found ${f.found ?? '-'})` : '';
  return `${f.severity.toUpperCase().padEnd(8)} ${f.id}${where ? ` [${where}]` : ''}: ${f.message}${diff}`;
}

/** A readable report: one line per finding, then the summary line. */
export function formatReport(report: AuditReport): string {
  const lines = report.findings.map(formatFinding);
  if (report.findingsOmitted > 0) lines.push(`… and ${grouped(report.findingsOmitted)} more findings not listed`);
  const c = report.counts;
  const untrusted = report.akKeys.filter((k) => k.trusted === null);
  if (untrusted.length > 0 && c.checkpoints > 0) {
    lines.push(`note: checkpoint keys were not pinned (no trusted AK given); they verify only against themselves: ${untrusted.map((k) => `sha256:${k.fingerprint}`).join(', ')}`);
  }
  const total = report.findings.length + report.findingsOmitted;
  const signed = c.lastCheckpointedSeq === null ? 'no valid checkpoint' : `last signed at seq ${grouped(c.lastCheckpointedSeq)}`;
  const tail = c.entriesAfterLastCheckpoint > 0 ? ` (${grouped(c.entriesAfterLastCheckpoint)} after it unsigned)` : '';
  if (report.ok) {
    const warnings = total > 0 ? `, ${grouped(total)} warning${total === 1 ? '' : 's'}` : '';
    lines.push(`audit log OK: ${grouped(c.entries)} entries, ${grouped(c.checkpoints)} checkpoints, ${signed}${tail}${warnings}`);
  } else {
    const first = report.firstBadSeq === null ? '' : `; first bad entry: seq ${grouped(report.firstBadSeq)}`;
    lines.push(`audit log FAILED: ${grouped(total)} finding${total === 1 ? '' : 's'}${first}`);
  }
  return lines.join('\n');
}
