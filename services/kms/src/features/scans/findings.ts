// What a compliance scan reports: structured findings, each with a stable id from the catalogue
// below, a severity, the scope that found it, the subject it is about and a message; collected,
// never thrown at the first (keylime's failure events, as in @sealkeep/attestation's verifiers).
// Ids are `scope.thing.problem` and, once released, never change meaning; docs/service.md
// ("Compliance scans") lists them. The audit scope also passes on the offline audit verifier's
// own ids (audit.entry.*, audit.checkpoint.*, …) with the severity it gives them.

export const SCAN_SCOPES = ['hosts', 'vms', 'keys', 'configuration', 'audit'] as const;
export type ScanScope = (typeof SCAN_SCOPES)[number];

export const SEVERITIES = ['high', 'medium', 'low', 'info'] as const;
export type Severity = (typeof SEVERITIES)[number];

export interface Finding {
  /** A catalogue id (below), or one of the audit verifier's. */
  id: string;
  severity: Severity;
  scope: ScanScope;
  /** What it is about: `host:ID`, `tenant:ID/vm:ID/volume:ID`, `tenant:ID/key:ID`, `service:kms`, `chain:ID`. */
  subject: string;
  message: string;
  expected?: string;
  found?: string;
}

/** Every finding id the scan's own checks raise, with its one severity. */
export const FINDINGS = {
  'hosts.none-registered': 'info',
  'hosts.launch-policy.missing': 'high',
  'hosts.attestation.never': 'medium',
  'hosts.attestation.stale': 'medium',
  'hosts.attestation.failed': 'high',
  'vms.release-policy.missing': 'medium',
  'vms.release-policy.not-pcr-bound': 'medium',
  'vms.release-key.unusable': 'medium',
  'vms.volume.high-confidentiality-unbound': 'high',
  'vms.volume.no-sealed-key': 'info',
  'vms.volume.state-refused': 'high',
  'vms.volume.state-unchecked': 'medium',
  'vms.boot.mismatch': 'high',
  'vms.boot.no-policy': 'medium',
  'vms.boot.policy-changed': 'low',
  'vms.boot.host-unattested': 'medium',
  'keys.classification.invalid': 'high',
  'keys.classification.high': 'info',
  'keys.rotation.overdue': 'medium',
  'keys.rotation.overdue-high-value': 'high',
  'keys.primary-version.missing': 'high',
  'keys.state.disabled': 'info',
  'keys.state.pending-destruction': 'low',
  'keys.state.destroyed': 'info',
  'keys.destroyed.blob-remains': 'high',
  'configuration.unmeasured': 'high',
  'configuration.measured': 'info',
  'configuration.root.uninitialised': 'medium',
  'configuration.pcrs.mismatch': 'high',
  'configuration.approval.unrecorded': 'high',
  'audit.chain.verified': 'info',
  'audit.chain.head-mismatch': 'high',
  'audit.findings.omitted': 'info',
} as const satisfies Record<string, Severity>;

export type FindingId = keyof typeof FINDINGS;

/** Details a finding may carry besides its id, subject and message. */
export interface FindingDetail {
  expected?: string | undefined;
  found?: string | undefined;
}

/** Collects one scope's findings; keeps at most `limit` and counts the rest by severity. */
export class FindingCollector {
  readonly findings: Finding[] = [];
  readonly counts: Record<Severity, number> = { high: 0, medium: 0, low: 0, info: 0 };
  omitted = 0;

  constructor(
    readonly scope: ScanScope,
    private readonly limit: number,
  ) {}

  /** A finding of the catalogue, at its catalogued severity. */
  add(id: FindingId, subject: string, message: string, detail: FindingDetail = {}): void {
    this.push({ id, severity: FINDINGS[id], scope: this.scope, subject, message, ...defined(detail) });
  }

  /** A finding whose id and severity come from elsewhere (the audit verifier). */
  push(f: Finding): void {
    this.counts[f.severity]++;
    if (this.findings.length < this.limit) this.findings.push(f);
    else this.omitted++;
  }
}

function defined(d: FindingDetail): { expected?: string; found?: string } {
  return { ...(d.expected !== undefined ? { expected: d.expected } : {}), ...(d.found !== undefined ? { found: d.found } : {}) };
}

/** "400 days", "3 h", "12 min", "45 s": an age for a message. */
export function describeAge(seconds: number): string {
  if (seconds >= 2 * 86400) return `${Math.floor(seconds / 86400)} days`;
  if (seconds >= 2 * 3600) return `${Math.floor(seconds / 3600)} h`;
  if (seconds >= 120) return `${Math.floor(seconds / 60)} min`;
  return `${Math.max(0, Math.round(seconds))} s`;
}
