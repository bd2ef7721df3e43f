// NV index public area (Part 2 §13.5, §13.6). The index's attributes are a TPMA_NV (attributes.ts,
// with the TPM_NT type in bits 4-7); its data area may not exceed MAX_NV_INDEX_SIZE (TPM_RC_SIZE).
// TPM2B_MAX_NV_BUFFER, the chunk NV_Read/NV_Write move, is defined with the other buffers.

import { inRange, sized, struct, u16, type Infer } from '../codec.js';
import { TPM_RC } from '../constants.js';
import { MAX_NV_INDEX_SIZE } from '../limits.js';
import { TPMA_NV } from './attributes.js';
import { TPM2B_DIGEST, TPM2B_MAX_NV_BUFFER, TPMI_ALG_HASH, TPMI_RH_NV_INDEX } from './base.js';

/** Part 2 §13.5 TPMS_NV_PUBLIC */
export const TPMS_NV_PUBLIC = struct('TPMS_NV_PUBLIC', {
  nvIndex: TPMI_RH_NV_INDEX,
  nameAlg: TPMI_ALG_HASH,
  attributes: TPMA_NV,
  authPolicy: TPM2B_DIGEST,
  dataSize: inRange('TPMS_NV_PUBLIC.dataSize', u16, [[0, MAX_NV_INDEX_SIZE]], TPM_RC.SIZE),
});
/** Part 2 §13.6 TPM2B_NV_PUBLIC (an empty one is TPM_RC_SIZE) */
export const TPM2B_NV_PUBLIC = sized('TPM2B_NV_PUBLIC', TPMS_NV_PUBLIC);

export { TPM2B_MAX_NV_BUFFER };

export type TPMS_NV_PUBLIC = Infer<typeof TPMS_NV_PUBLIC>;
export type TPM2B_NV_PUBLIC = Infer<typeof TPM2B_NV_PUBLIC>;
