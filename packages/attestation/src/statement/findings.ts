// Findings of the verifiers of AK-signed statements — volume attestations (../volume/) and VM
// evidence bundles (../vm/): the evidence verifier's shape and severities (../evidence/findings.ts),
// each verifier with its own table of ids. The checks they share with the evidence verifier —
// certificate paths and the AK certificate's profile — run with an evidence FindingCollector and
// are taken over with their own ids (absorb), or, for a host bundle embedded in VM evidence,
// under a prefix ("host:quote-signature-invalid").

import { FINDINGS as EVIDENCE_FINDINGS, type Finding as EvidenceFinding, type Severity } from '../evidence/findings.js';

export type { Severity };

export interface Finding<Id extends string = string> {
  /** Stable kebab-case id (the verifier's table). */
  id: Id;
  severity: Severity;
  message: string;
  expected?: string;
  found?: string;
}

/**
 * Ids of the evidence verifier that the AK-certificate checks raise here, with the same meaning
 * and severity. (Its ak-certificate-key-mismatch and ak-ek-* mismatches need a separate AK key
 * or an EK certificate, which a signed statement does not carry.)
 */
const CERTIFICATE_IDS = [
  'ak-certificate-missing',
  'ak-certificate-key-usage-invalid',
  'ak-certificate-eku-missing',
  'ak-ek-binding-absent',
  'certificate-malformed',
  'certificate-signature-invalid',
  'certificate-expired',
  'certificate-not-yet-valid',
  'certificate-untrusted-root',
  'certificate-issuer-not-ca',
  'certificate-path-length-exceeded',
  'trusted-root-malformed',
] as const;
type CertificateId = (typeof CERTIFICATE_IDS)[number];

/** The signer's findings: the AK certificate (shared ids) and the statement's signature. */
export const SIGNER_FINDINGS = {
  ...(Object.fromEntries(CERTIFICATE_IDS.map((id) => [id, EVIDENCE_FINDINGS[id]])) as { [K in CertificateId]: (typeof EVIDENCE_FINDINGS)[K] }),
  'ak-certificate-key-unsupported': 'error',
  'signature-malformed': 'error',
  'signature-invalid': 'error',
} as const satisfies Record<string, Severity>;

export type SignerFindingId = keyof typeof SIGNER_FINDINGS;

/** What the shared checks need of a collector (method syntax: a collector of a wider table fits). */
export interface FindingSink<Id extends string> {
  add(id: Id, message: string, detail?: { expected?: string; found?: string }): void;
  absorb(found: readonly EvidenceFinding[], prefix?: string): void;
}

/** Collects findings in the order they are found; the severity of each id comes from the table. */
export class Findings<Id extends string> implements FindingSink<Id> {
  readonly findings: Finding<Id>[] = [];

  /** `table`: the severity of every id add() takes (absorbed findings bring their own). */
  constructor(private readonly table: Readonly<Partial<Record<Id, Severity>>>) {}

  add(id: Id, message: string, detail: { expected?: string; found?: string } = {}): void {
    const f: Finding<Id> = { id, severity: this.table[id] ?? 'error', message };
    if (detail.expected !== undefined) f.expected = detail.expected;
    if (detail.found !== undefined) f.found = detail.found;
    this.findings.push(f);
  }

  /** Take over the evidence verifier's findings with their severities, their ids prefixed by `prefix`. */
  absorb(found: readonly EvidenceFinding[], prefix = ''): void {
    for (const f of found) this.findings.push({ ...f, id: `${prefix}${f.id}` as Id });
  }

  has(id: Id): boolean {
    return this.findings.some((f) => f.id === id);
  }

  /** No finding of severity error. */
  get ok(): boolean {
    return !this.findings.some((f) => f.severity === 'error');
  }
}
