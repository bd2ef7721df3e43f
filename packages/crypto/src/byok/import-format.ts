// The bring-your-own-key formats both sides must agree on byte for byte (docs/byok.md): the
// service that makes import evidence and opens wrapped keys, and the tenant's SDK that checks
// the evidence and wraps. Declared once here.

import { createHash } from 'node:crypto';

/** The `format` of import evidence. */
export const IMPORT_EVIDENCE_FORMAT = 'sealkeep.import-evidence.v1';

/** RFC 5649 §3: the alternative initial value of AES key wrap with padding (node's `id-aes256-wrap-pad`). */
export const KWP_ALTERNATIVE_IV = Buffer.from('a65959a6', 'hex');

const IMPORT_JOB_LABEL = 'sealkeep/v1/import-job';

/** TPM2_Certify's qualifyingData for an import job: SHA-256("sealkeep/v1/import-job" ‖ 0 ‖ job id ‖ 0 ‖ nonce). */
export function importJobQualifyingData(importJobId: string, nonce: Buffer): Buffer {
  return createHash('sha256').update(IMPORT_JOB_LABEL).update(Buffer.of(0)).update(importJobId, 'ascii').update(Buffer.of(0)).update(nonce).digest();
}
