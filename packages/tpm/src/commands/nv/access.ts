// The access checks NV commands share (reference NV_spt.c NvReadAccessChecks /
// NvWriteAccessChecks): a lock first, then whether the authorizing hierarchy may read or write
// the index. When the index authorized itself, authorization has already required
// TPMA_NV_AUTHREAD/AUTHWRITE or POLICYREAD/POLICYWRITE (engine/nv.ts nvAuthAvailable).

import { TPM_RC, TPM_RH, TPMA_NV } from '../../wire/constants.js';

const has = (attributes: number, bit: number) => (attributes & bit) !== 0;

/** TPM_RC_NV_LOCKED, TPM_RC_NV_AUTHORIZATION, or 0 when `authHandle` may write the index. */
export function writeAccessError(authHandle: number, nvIndex: number, attributes: number): number {
  if (has(attributes, TPMA_NV.WRITELOCKED)) return TPM_RC.NV_LOCKED;
  return authorizationError(authHandle, nvIndex, attributes, TPMA_NV.OWNERWRITE, TPMA_NV.PPWRITE);
}

/** TPM_RC_NV_LOCKED, _NV_AUTHORIZATION, _NV_UNINITIALIZED, or 0 when `authHandle` may read the index. */
export function readAccessError(authHandle: number, nvIndex: number, attributes: number): number {
  if (has(attributes, TPMA_NV.READLOCKED)) return TPM_RC.NV_LOCKED;
  const rc = authorizationError(authHandle, nvIndex, attributes, TPMA_NV.OWNERREAD, TPMA_NV.PPREAD);
  if (rc) return rc;
  // After the authorization checks, so NV_ReadLock of an unwritten index is still authorized.
  return has(attributes, TPMA_NV.WRITTEN) ? 0 : TPM_RC.NV_UNINITIALIZED;
}

function authorizationError(authHandle: number, nvIndex: number, attributes: number, ownerBit: number, platformBit: number): number {
  if (authHandle === TPM_RH.OWNER) return has(attributes, ownerBit) ? 0 : TPM_RC.NV_AUTHORIZATION;
  if (authHandle === TPM_RH.PLATFORM) return has(attributes, platformBit) ? 0 : TPM_RC.NV_AUTHORIZATION;
  return authHandle === nvIndex ? 0 : TPM_RC.NV_AUTHORIZATION;
}
