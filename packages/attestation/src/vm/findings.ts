// The VM evidence verifier's findings (README.md documents each). The AK certificate's and the
// event log's ids are the evidence verifier's; the embedded host evidence's findings keep their
// evidence ids under the prefix "host:" (host:quote-signature-invalid), with their severities.

import { FINDINGS as EVIDENCE_FINDINGS, type FindingId as EvidenceFindingId } from '../evidence/findings.js';
import { SIGNER_FINDINGS, type Severity } from '../statement/findings.js';

const LOG_IDS = ['event-log-malformed', 'event-log-reordered', 'event-log-recnum-gap', 'event-log-pcr-mismatch', 'event-digest-mismatch'] as const;
type LogId = (typeof LOG_IDS)[number];

export const VM_FINDINGS = {
  // the bundle
  'bundle-malformed': 'error',
  'bundle-version-unsupported': 'error',
  'bundle-field-unknown': 'warning',
  // the signed boot statement
  'statement-malformed': 'error',
  'statement-magic-invalid': 'error',
  'statement-version-unsupported': 'error',
  'statement-field-mismatch': 'error',
  // the signer: its certificate and the signature
  ...SIGNER_FINDINGS,
  // the boot log against the signed vPCRs
  ...(Object.fromEntries(LOG_IDS.map((id) => [id, EVIDENCE_FINDINGS[id]])) as { [K in LogId]: (typeof EVIDENCE_FINDINGS)[K] }),
  'event-log-layout-invalid': 'error',
  // the release policy's reference values
  'reference-values-malformed': 'error',
  'reference-values-from-bundle': 'warning',
  'reference-values-absent': 'warning',
  'vpcr-mismatch': 'error',
  'expected-vpcrs-mismatch': 'error',
  'policy-result-differs': 'info',
  // the host the VM booted on
  'host-evidence-missing': 'error',
  'host-evidence-mismatch': 'error',
} as const satisfies Record<string, Severity>;

/** A host evidence finding, by its evidence id. */
export type HostFindingId = `host:${EvidenceFindingId}`;
export type VmFindingId = keyof typeof VM_FINDINGS | HostFindingId;
export const VM_FINDING_IDS = Object.keys(VM_FINDINGS) as Array<keyof typeof VM_FINDINGS>;
