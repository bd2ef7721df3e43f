// Saved contexts and credential blobs (Part 2 §12.4, §14): TPMS_CONTEXT as returned by
// TPM2_ContextSave and taken by TPM2_ContextLoad, with its integrity-protected, encrypted body,
// and the TPM2B_ID_OBJECT credential of TPM2_MakeCredential / TPM2_ActivateCredential.

import { b2, struct, u64, type Infer } from '../codec.js';
import { CONTEXT_DATA_SIZE, ID_OBJECT_SIZE, MAX_CONTEXT_SIZE } from '../limits.js';
import { TPM2B_DIGEST, TPMI_DH_SAVED, TPMI_RH_HIERARCHY } from './base.js';

/** Part 2 §14.2 TPM2B_CONTEXT_SENSITIVE */
export const TPM2B_CONTEXT_SENSITIVE = b2('TPM2B_CONTEXT_SENSITIVE', MAX_CONTEXT_SIZE);
/** Part 2 §14.3 TPMS_CONTEXT_DATA */
export const TPMS_CONTEXT_DATA = struct('TPMS_CONTEXT_DATA', {
  integrity: TPM2B_DIGEST,
  encrypted: TPM2B_CONTEXT_SENSITIVE,
});
/** Part 2 §14.4 TPM2B_CONTEXT_DATA: a marshaled TPMS_CONTEXT_DATA, opaque to the caller */
export const TPM2B_CONTEXT_DATA = b2('TPM2B_CONTEXT_DATA', CONTEXT_DATA_SIZE);
/** Part 2 §14.5 TPMS_CONTEXT */
export const TPMS_CONTEXT = struct('TPMS_CONTEXT', {
  sequence: u64,
  savedHandle: TPMI_DH_SAVED,
  hierarchy: TPMI_RH_HIERARCHY.plus,
  contextBlob: TPM2B_CONTEXT_DATA,
});

/** Part 2 §12.4.2 TPMS_ID_OBJECT */
export const TPMS_ID_OBJECT = struct('TPMS_ID_OBJECT', { integrityHMAC: TPM2B_DIGEST, encIdentity: TPM2B_DIGEST });
/** Part 2 §12.4.3 TPM2B_ID_OBJECT: a marshaled TPMS_ID_OBJECT */
export const TPM2B_ID_OBJECT = b2('TPM2B_ID_OBJECT', ID_OBJECT_SIZE);

export type TPM2B_CONTEXT_SENSITIVE = Infer<typeof TPM2B_CONTEXT_SENSITIVE>;
export type TPMS_CONTEXT_DATA = Infer<typeof TPMS_CONTEXT_DATA>;
export type TPM2B_CONTEXT_DATA = Infer<typeof TPM2B_CONTEXT_DATA>;
export type TPMS_CONTEXT = Infer<typeof TPMS_CONTEXT>;
export type TPMS_ID_OBJECT = Infer<typeof TPMS_ID_OBJECT>;
export type TPM2B_ID_OBJECT = Infer<typeof TPM2B_ID_OBJECT>;
