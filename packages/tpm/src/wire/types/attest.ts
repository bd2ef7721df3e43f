// Attestation structures (Part 2 §10.11, §10.12, §15): the clock and time the TPM reports, the
// TPMS_ATTEST body that TPM2_Quote, Certify, GetTime, NV_Certify and GetCommandAuditDigest sign,
// and the creation data bound to a new object. TPM2B_ATTEST stays opaque bytes because the
// signature covers exactly those bytes; unmarshal(TPMS_ATTEST, attest) reads them.

import { b2, oneOf, sized, struct, u16, u32, u64, union, type Infer } from '../codec.js';
import { TPM_GENERATED_VALUE, TPM_RC, TPM_ST } from '../constants.js';
import { ATTEST_SIZE } from '../limits.js';
import { TPMA_LOCALITY } from './attributes.js';
import { TPM2B_DATA, TPM2B_DIGEST, TPM2B_MAX_NV_BUFFER, TPM2B_NAME, TPM_ALG_ID, TPMI_ST_ATTEST, TPMI_YES_NO } from './base.js';
import { TPML_PCR_SELECTION } from './pcr.js';

/** Part 2 §6.7 TPM_GENERATED: only TPM_GENERATED_VALUE is accepted. */
export const TPM_GENERATED = oneOf('TPM_GENERATED', u32, [TPM_GENERATED_VALUE], TPM_RC.VALUE);

/** Part 2 §10.11.1 TPMS_CLOCK_INFO */
export const TPMS_CLOCK_INFO = struct('TPMS_CLOCK_INFO', {
  clock: u64,
  resetCount: u32,
  restartCount: u32,
  safe: TPMI_YES_NO,
});
/** Part 2 §10.11.6 TPMS_TIME_INFO */
export const TPMS_TIME_INFO = struct('TPMS_TIME_INFO', { time: u64, clockInfo: TPMS_CLOCK_INFO });
/** Part 2 §10.12.2 TPMS_TIME_ATTEST_INFO */
export const TPMS_TIME_ATTEST_INFO = struct('TPMS_TIME_ATTEST_INFO', { time: TPMS_TIME_INFO, firmwareVersion: u64 });
/** Part 2 §10.12.3 TPMS_CERTIFY_INFO */
export const TPMS_CERTIFY_INFO = struct('TPMS_CERTIFY_INFO', { name: TPM2B_NAME, qualifiedName: TPM2B_NAME });
/** Part 2 §10.12.4 TPMS_QUOTE_INFO */
export const TPMS_QUOTE_INFO = struct('TPMS_QUOTE_INFO', { pcrSelect: TPML_PCR_SELECTION, pcrDigest: TPM2B_DIGEST });
/** Part 2 §10.12.5 TPMS_COMMAND_AUDIT_INFO */
export const TPMS_COMMAND_AUDIT_INFO = struct('TPMS_COMMAND_AUDIT_INFO', {
  auditCounter: u64,
  digestAlg: TPM_ALG_ID,
  auditDigest: TPM2B_DIGEST,
  commandDigest: TPM2B_DIGEST,
});
/** Part 2 §10.12.6 TPMS_SESSION_AUDIT_INFO */
export const TPMS_SESSION_AUDIT_INFO = struct('TPMS_SESSION_AUDIT_INFO', {
  exclusiveSession: TPMI_YES_NO,
  sessionDigest: TPM2B_DIGEST,
});
/** Part 2 §10.12.7 TPMS_CREATION_INFO */
export const TPMS_CREATION_INFO = struct('TPMS_CREATION_INFO', { objectName: TPM2B_NAME, creationHash: TPM2B_DIGEST });
/** Part 2 §10.12.8 TPMS_NV_CERTIFY_INFO */
export const TPMS_NV_CERTIFY_INFO = struct('TPMS_NV_CERTIFY_INFO', {
  indexName: TPM2B_NAME,
  offset: u16,
  nvContents: TPM2B_MAX_NV_BUFFER,
});
/** Part 2 §10.12.9 TPMS_NV_DIGEST_CERTIFY_INFO */
export const TPMS_NV_DIGEST_CERTIFY_INFO = struct('TPMS_NV_DIGEST_CERTIFY_INFO', {
  indexName: TPM2B_NAME,
  nvDigest: TPM2B_DIGEST,
});

/** Part 2 §10.12.11 TPMU_ATTEST */
export const TPMU_ATTEST = union('TPMU_ATTEST', {
  [TPM_ST.ATTEST_CERTIFY]: TPMS_CERTIFY_INFO,
  [TPM_ST.ATTEST_CREATION]: TPMS_CREATION_INFO,
  [TPM_ST.ATTEST_QUOTE]: TPMS_QUOTE_INFO,
  [TPM_ST.ATTEST_COMMAND_AUDIT]: TPMS_COMMAND_AUDIT_INFO,
  [TPM_ST.ATTEST_SESSION_AUDIT]: TPMS_SESSION_AUDIT_INFO,
  [TPM_ST.ATTEST_TIME]: TPMS_TIME_ATTEST_INFO,
  [TPM_ST.ATTEST_NV]: TPMS_NV_CERTIFY_INFO,
  [TPM_ST.ATTEST_NV_DIGEST]: TPMS_NV_DIGEST_CERTIFY_INFO,
});

/** Part 2 §10.12.12 TPMS_ATTEST */
export const TPMS_ATTEST = struct('TPMS_ATTEST', {
  magic: TPM_GENERATED,
  type: TPMI_ST_ATTEST,
  qualifiedSigner: TPM2B_NAME,
  extraData: TPM2B_DATA,
  clockInfo: TPMS_CLOCK_INFO,
  firmwareVersion: u64,
  attested: TPMU_ATTEST('type'),
});
/** Part 2 §10.12.13 TPM2B_ATTEST: the marshaled TPMS_ATTEST, as signed */
export const TPM2B_ATTEST = b2('TPM2B_ATTEST', ATTEST_SIZE);

/** Part 2 §15.1 TPMS_CREATION_DATA */
export const TPMS_CREATION_DATA = struct('TPMS_CREATION_DATA', {
  pcrSelect: TPML_PCR_SELECTION,
  pcrDigest: TPM2B_DIGEST,
  locality: TPMA_LOCALITY,
  parentNameAlg: TPM_ALG_ID,
  parentName: TPM2B_NAME,
  parentQualifiedName: TPM2B_NAME,
  outsideInfo: TPM2B_DATA,
});
/** Part 2 §15.2 TPM2B_CREATION_DATA */
export const TPM2B_CREATION_DATA = sized('TPM2B_CREATION_DATA', TPMS_CREATION_DATA);

export type TPMS_CLOCK_INFO = Infer<typeof TPMS_CLOCK_INFO>;
export type TPMS_TIME_INFO = Infer<typeof TPMS_TIME_INFO>;
export type TPMS_TIME_ATTEST_INFO = Infer<typeof TPMS_TIME_ATTEST_INFO>;
export type TPMS_CERTIFY_INFO = Infer<typeof TPMS_CERTIFY_INFO>;
export type TPMS_QUOTE_INFO = Infer<typeof TPMS_QUOTE_INFO>;
export type TPMS_COMMAND_AUDIT_INFO = Infer<typeof TPMS_COMMAND_AUDIT_INFO>;
export type TPMS_SESSION_AUDIT_INFO = Infer<typeof TPMS_SESSION_AUDIT_INFO>;
export type TPMS_CREATION_INFO = Infer<typeof TPMS_CREATION_INFO>;
export type TPMS_NV_CERTIFY_INFO = Infer<typeof TPMS_NV_CERTIFY_INFO>;
export type TPMS_NV_DIGEST_CERTIFY_INFO = Infer<typeof TPMS_NV_DIGEST_CERTIFY_INFO>;
export type TPMS_ATTEST = Infer<typeof TPMS_ATTEST>;
export type TPM2B_ATTEST = Infer<typeof TPM2B_ATTEST>;
export type TPMS_CREATION_DATA = Infer<typeof TPMS_CREATION_DATA>;
export type TPM2B_CREATION_DATA = Infer<typeof TPM2B_CREATION_DATA>;
