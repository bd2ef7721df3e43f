// Findings of the evidence verifier: every check that fails adds one, and verification goes on
// (keylime's failure events are the model: structured, collected, never thrown at the first).
// Each finding id is stable kebab-case and has one fixed severity, listed once here; the README
// documents what each means. `error` fails the evidence, `warning` and `info` do not.

export type Severity = 'error' | 'warning' | 'info';

/** Every finding id, with its severity. */
export const FINDINGS = {
  // the bundle itself
  'bundle-malformed': 'error',
  'bundle-version-unsupported': 'error',
  'bundle-field-unknown': 'warning',
  // the quote (TPMS_ATTEST, TPMT_SIGNATURE)
  'quote-malformed': 'error',
  'quote-magic-invalid': 'error',
  'quote-type-invalid': 'error',
  'quote-signature-malformed': 'error',
  'quote-signature-unsupported': 'error',
  'quote-signature-invalid': 'error',
  'quote-nonce-mismatch': 'error',
  'quote-nonce-not-checked': 'warning',
  'quote-qualified-signer-mismatch': 'error',
  'quote-qualified-signer-not-checked': 'info',
  'quote-pcr-value-missing': 'error',
  'quote-pcr-digest-mismatch': 'error',
  'pcr-value-not-quoted': 'warning',
  'quote-clock-unsafe': 'warning',
  'quote-firmware-version-mismatch': 'warning',
  // the quote against an earlier one
  'quote-clock-regressed': 'error',
  'quote-clock-regressed-across-reset': 'warning',
  'quote-reset-count-regressed': 'error',
  'quote-restart-count-regressed': 'error',
  'quote-firmware-changed': 'info',
  'previous-quote-unusable': 'warning',
  // the attestation key and its certificate
  'ak-public-malformed': 'error',
  'ak-attributes-invalid': 'error',
  'ak-certificate-missing': 'error',
  'ak-certificate-key-mismatch': 'error',
  'ak-certificate-key-usage-invalid': 'error',
  'ak-certificate-eku-missing': 'error',
  'ak-ek-tpm-mismatch': 'error',
  'ak-ek-binding-mismatch': 'error',
  'ak-ek-binding-absent': 'info',
  // the endorsement key certificate (TCG EK Credential Profile)
  'ek-certificate-missing': 'error',
  'ek-certificate-tpm-identity-missing': 'error',
  'ek-certificate-eku-missing': 'error',
  'ek-certificate-key-usage-invalid': 'error',
  'ek-certificate-is-ca': 'error',
  'ek-certificate-specification-missing': 'warning',
  // certificate paths (AK and EK alike)
  'certificate-malformed': 'error',
  'certificate-signature-invalid': 'error',
  'certificate-expired': 'error',
  'certificate-not-yet-valid': 'error',
  'certificate-untrusted-root': 'error',
  'certificate-issuer-not-ca': 'error',
  'certificate-path-length-exceeded': 'error',
  'trusted-root-malformed': 'error',
  // event logs (TCG CEL JSON)
  'event-log-malformed': 'error',
  'event-log-reordered': 'error',
  'event-log-recnum-gap': 'error',
  'event-log-bank-missing': 'warning',
  'event-log-pcr-mismatch': 'error',
  'event-log-overlap': 'error',
  'event-log-not-quoted': 'warning',
  'event-digest-mismatch': 'error',
  'pcr-not-covered-by-log': 'info',
  // reference values
  'policy-malformed': 'error',
  'policy-pcr-mismatch': 'error',
  'policy-pcr-not-quoted': 'error',
  'policy-event-missing': 'error',
  'policy-event-digest-mismatch': 'error',
  'policy-from-bundle': 'warning',
  'policy-not-given': 'info',
} as const satisfies Record<string, Severity>;

export type FindingId = keyof typeof FINDINGS;
export const FINDING_IDS = Object.keys(FINDINGS) as FindingId[];

export interface Finding {
  /** Stable kebab-case id (FINDINGS). */
  id: FindingId;
  severity: Severity;
  message: string;
  expected?: string;
  found?: string;
}

/** Collects findings in the order they are found. */
export class FindingCollector {
  readonly findings: Finding[] = [];

  add(id: FindingId, message: string, detail: { expected?: string; found?: string } = {}): void {
    const f: Finding = { id, severity: FINDINGS[id], message };
    if (detail.expected !== undefined) f.expected = detail.expected;
    if (detail.found !== undefined) f.found = detail.found;
    this.findings.push(f);
  }

  has(id: FindingId): boolean {
    return this.findings.some((f) => f.id === id);
  }

  /** No finding of severity error. */
  get ok(): boolean {
    return !this.findings.some((f) => f.severity === 'error');
  }
}
