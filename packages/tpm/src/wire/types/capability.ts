// TPM2_GetCapability data (Part 2 §10.8 - §10.10): the tagged property records, the TPML_ lists
// each capability returns, and TPMS_CAPABILITY_DATA whose union is selected by the TPM_CAP.

import { list, struct, u32, union, type Infer } from '../codec.js';
import {
  MAX_ALG_LIST_SIZE,
  MAX_CAP_ALGS,
  MAX_CAP_CC,
  MAX_CAP_HANDLES,
  MAX_ECC_CURVES,
  MAX_PCR_PROPERTIES,
  MAX_TAGGED_POLICIES,
  MAX_TPM_PROPERTIES,
} from '../limits.js';
import { TPMT_HA } from './algorithms.js';
import { TPMA_ALGORITHM, TPMA_CC } from './attributes.js';
import { TPM_ALG_ID, TPM_ECC_CURVE_ID, TPM_HANDLE } from './base.js';
import { TPM_CAP, TPM_CC, TPM_PT, TPM_PT_PCR } from './enums.js';
import { PCR_SELECT_BITMAP, TPML_PCR_SELECTION } from './pcr.js';


/** Part 2 §10.8.1 TPMS_ALG_PROPERTY */
export const TPMS_ALG_PROPERTY = struct('TPMS_ALG_PROPERTY', { alg: TPM_ALG_ID, algProperties: TPMA_ALGORITHM });
/** Part 2 §10.8.2 TPMS_TAGGED_PROPERTY */
export const TPMS_TAGGED_PROPERTY = struct('TPMS_TAGGED_PROPERTY', { property: TPM_PT, value: u32 });
/** Part 2 §10.8.3 TPMS_TAGGED_PCR_SELECT */
export const TPMS_TAGGED_PCR_SELECT = struct('TPMS_TAGGED_PCR_SELECT', { tag: TPM_PT_PCR, pcrSelect: PCR_SELECT_BITMAP });
/** Part 2 §10.8.4 TPMS_TAGGED_POLICY */
export const TPMS_TAGGED_POLICY = struct('TPMS_TAGGED_POLICY', { handle: TPM_HANDLE, policyHash: TPMT_HA });

/** Part 2 §10.9.1 TPML_CC */
export const TPML_CC = list('TPML_CC', TPM_CC, MAX_CAP_CC);
/** Part 2 §10.9.2 TPML_CCA */
export const TPML_CCA = list('TPML_CCA', TPMA_CC, MAX_CAP_CC);
/** Part 2 §10.9.3 TPML_ALG */
export const TPML_ALG = list('TPML_ALG', TPM_ALG_ID, MAX_ALG_LIST_SIZE);
/** Part 2 §10.9.4 TPML_HANDLE */
export const TPML_HANDLE = list('TPML_HANDLE', TPM_HANDLE, MAX_CAP_HANDLES);
/** Part 2 §10.9.8 TPML_ALG_PROPERTY */
export const TPML_ALG_PROPERTY = list('TPML_ALG_PROPERTY', TPMS_ALG_PROPERTY, MAX_CAP_ALGS);
/** Part 2 §10.9.9 TPML_TAGGED_TPM_PROPERTY */
export const TPML_TAGGED_TPM_PROPERTY = list('TPML_TAGGED_TPM_PROPERTY', TPMS_TAGGED_PROPERTY, MAX_TPM_PROPERTIES);
/** Part 2 §10.9.10 TPML_TAGGED_PCR_PROPERTY */
export const TPML_TAGGED_PCR_PROPERTY = list('TPML_TAGGED_PCR_PROPERTY', TPMS_TAGGED_PCR_SELECT, MAX_PCR_PROPERTIES);
/** Part 2 §10.9.11 TPML_ECC_CURVE */
export const TPML_ECC_CURVE = list('TPML_ECC_CURVE', TPM_ECC_CURVE_ID, MAX_ECC_CURVES);
/** Part 2 §10.9.12 TPML_TAGGED_POLICY */
export const TPML_TAGGED_POLICY = list('TPML_TAGGED_POLICY', TPMS_TAGGED_POLICY, MAX_TAGGED_POLICIES);

/** Part 2 §10.10.1 TPMU_CAPABILITIES */
export const TPMU_CAPABILITIES = union('TPMU_CAPABILITIES', {
  [TPM_CAP.ALGS]: TPML_ALG_PROPERTY,
  [TPM_CAP.HANDLES]: TPML_HANDLE,
  [TPM_CAP.COMMANDS]: TPML_CCA,
  [TPM_CAP.PP_COMMANDS]: TPML_CC,
  [TPM_CAP.AUDIT_COMMANDS]: TPML_CC,
  [TPM_CAP.PCRS]: TPML_PCR_SELECTION,
  [TPM_CAP.TPM_PROPERTIES]: TPML_TAGGED_TPM_PROPERTY,
  [TPM_CAP.PCR_PROPERTIES]: TPML_TAGGED_PCR_PROPERTY,
  [TPM_CAP.ECC_CURVES]: TPML_ECC_CURVE,
  [TPM_CAP.AUTH_POLICIES]: TPML_TAGGED_POLICY,
});

/** Part 2 §10.10.2 TPMS_CAPABILITY_DATA */
export const TPMS_CAPABILITY_DATA = struct('TPMS_CAPABILITY_DATA', {
  capability: TPM_CAP,
  data: TPMU_CAPABILITIES('capability'),
});

export type TPMS_ALG_PROPERTY = Infer<typeof TPMS_ALG_PROPERTY>;
export type TPMS_TAGGED_PROPERTY = Infer<typeof TPMS_TAGGED_PROPERTY>;
export type TPMS_TAGGED_PCR_SELECT = Infer<typeof TPMS_TAGGED_PCR_SELECT>;
export type TPMS_TAGGED_POLICY = Infer<typeof TPMS_TAGGED_POLICY>;
export type TPML_CC = Infer<typeof TPML_CC>;
export type TPML_CCA = Infer<typeof TPML_CCA>;
export type TPML_ALG = Infer<typeof TPML_ALG>;
export type TPML_HANDLE = Infer<typeof TPML_HANDLE>;
export type TPML_ALG_PROPERTY = Infer<typeof TPML_ALG_PROPERTY>;
export type TPML_TAGGED_TPM_PROPERTY = Infer<typeof TPML_TAGGED_TPM_PROPERTY>;
export type TPML_TAGGED_PCR_PROPERTY = Infer<typeof TPML_TAGGED_PCR_PROPERTY>;
export type TPML_ECC_CURVE = Infer<typeof TPML_ECC_CURVE>;
export type TPML_TAGGED_POLICY = Infer<typeof TPML_TAGGED_POLICY>;
export type TPMS_CAPABILITY_DATA = Infer<typeof TPMS_CAPABILITY_DATA>;
