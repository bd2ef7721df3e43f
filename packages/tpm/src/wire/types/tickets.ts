// Tickets (Part 2 §10.7): the TPM's HMAC-protected proofs that it created an object, verified a
// signature, satisfied an authorization, or hashed data that did not start with
// TPM_GENERATED_VALUE. A tag other than the ticket's own is TPM_RC_TAG.

import { oneOf, struct, u16, type Infer } from '../codec.js';
import { TPM_RC, TPM_ST } from '../constants.js';
import { TPM2B_DIGEST, TPMI_RH_HIERARCHY } from './base.js';

function ticket(name: string, tags: number[]) {
  return struct(name, {
    tag: oneOf(`${name}.tag`, u16, tags, TPM_RC.TAG),
    hierarchy: TPMI_RH_HIERARCHY.plus,
    digest: TPM2B_DIGEST,
  });
}

/** Part 2 §10.7.3 TPMT_TK_CREATION */
export const TPMT_TK_CREATION = ticket('TPMT_TK_CREATION', [TPM_ST.CREATION]);
/** Part 2 §10.7.4 TPMT_TK_VERIFIED */
export const TPMT_TK_VERIFIED = ticket('TPMT_TK_VERIFIED', [TPM_ST.VERIFIED]);
/** Part 2 §10.7.5 TPMT_TK_AUTH */
export const TPMT_TK_AUTH = ticket('TPMT_TK_AUTH', [TPM_ST.AUTH_SIGNED, TPM_ST.AUTH_SECRET]);
/** Part 2 §10.7.6 TPMT_TK_HASHCHECK */
export const TPMT_TK_HASHCHECK = ticket('TPMT_TK_HASHCHECK', [TPM_ST.HASHCHECK]);

export type TPMT_TK_CREATION = Infer<typeof TPMT_TK_CREATION>;
export type TPMT_TK_VERIFIED = Infer<typeof TPMT_TK_VERIFIED>;
export type TPMT_TK_AUTH = Infer<typeof TPMT_TK_AUTH>;
export type TPMT_TK_HASHCHECK = Infer<typeof TPMT_TK_HASHCHECK>;
