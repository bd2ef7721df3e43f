// The volume attestation verifier's findings (README.md documents each). The AK certificate's
// ids are the evidence verifier's (../statement/findings.ts).

import { SIGNER_FINDINGS, type Severity } from '../statement/findings.js';

export const VOLUME_FINDINGS = {
  // the JSON
  'attestation-malformed': 'error',
  'attestation-format-unsupported': 'error',
  'attestation-field-unknown': 'warning',
  // the signed statement
  'statement-malformed': 'error',
  'statement-magic-invalid': 'error',
  'statement-version-unsupported': 'error',
  'statement-field-mismatch': 'error',
  'statement-issued-in-future': 'warning',
  // the signer: its certificate and the signature
  ...SIGNER_FINDINGS,
  // the sector tags
  'tags-count-mismatch': 'error',
  'tags-merkle-root-mismatch': 'error',
  'tags-not-checked': 'info',
} as const satisfies Record<string, Severity>;

export type VolumeFindingId = keyof typeof VOLUME_FINDINGS;
export const VOLUME_FINDING_IDS = Object.keys(VOLUME_FINDINGS) as VolumeFindingId[];
