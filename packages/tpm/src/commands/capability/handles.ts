// TPM_CAP_HANDLES (Part 3 §30.2): the handles of one type that exist and are visible to the
// caller's connection. Transient objects and sessions belong to the connection that made them
// (tpm.isVisible); the other types are shared.

import { PCR_FIRST, TPM_HT, TPM_RH, TPM_RS_PW } from '../../wire/constants.js';
import type { Tpm } from '../../engine/tpm.js';

/** The permanent handles this TPM answers to, ascending. */
const PERMANENT_HANDLES: readonly number[] = [
  TPM_RH.OWNER, TPM_RH.NULL, TPM_RS_PW, TPM_RH.LOCKOUT, TPM_RH.ENDORSEMENT, TPM_RH.PLATFORM, TPM_RH.PLATFORM_NV,
];

/**
 * Handles of context-saved sessions (TPM_HT_SAVED_SESSION), once the session table tracks them
 * (a `savedHandles()` beside detach/attach); none until then.
 */
export function savedSessionHandles(tpm: Tpm): number[] {
  const sessions = tpm.sessions as Tpm['sessions'] & { savedHandles?: () => number[] };
  return (sessions.savedHandles?.() ?? []).filter((h) => tpm.isVisible(h));
}

/** Every handle of the type named by the top octet of `property`, ascending; null for a type with no list. */
export function handlesOfType(tpm: Tpm, property: number): number[] | null {
  const visible = (hs: number[]) => hs.filter((h) => tpm.isVisible(h));
  switch (property >>> 24) {
    case TPM_HT.PCR:
      return Array.from({ length: tpm.pcr.count }, (_, i) => PCR_FIRST + i);
    case TPM_HT.NV_INDEX:
      return tpm.nv.handles();
    case TPM_HT.LOADED_SESSION:
      return visible(tpm.sessions.handles());
    case TPM_HT.SAVED_SESSION:
      return savedSessionHandles(tpm);
    case TPM_HT.PERMANENT:
      return [...PERMANENT_HANDLES];
    case TPM_HT.TRANSIENT:
      return visible(tpm.objects.transientHandles());
    case TPM_HT.PERSISTENT:
      return tpm.objects.persistentHandles();
    default:
      return null;
  }
}
