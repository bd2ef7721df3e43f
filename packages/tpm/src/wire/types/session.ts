// Authorization sessions on the wire (Part 2 §8.4, §10.13, §11.4): the per-session entries of a
// command's and a response's authorization area, the session attribute byte, and the encrypted
// salt a caller sends to TPM2_StartAuthSession. TPM2B_NONCE is the TPM2B_DIGEST alias in base.ts.

import { attributes, b2, struct, u8, type Infer } from '../codec.js';
import * as bits from '../attribute-bits.js';
import { ENCRYPTED_SECRET_SIZE } from '../limits.js';
import { TPM2B_AUTH, TPM2B_NONCE, TPMI_SH_AUTH_SESSION } from './base.js';

/** Part 2 §8.4 TPMA_SESSION (bits 3-4 reserved: TPM_RC_RESERVED_BITS); carries its bit masks. */
export const TPMA_SESSION = Object.assign(attributes('TPMA_SESSION', u8, bits.TPMA_SESSION_RESERVED), bits.TPMA_SESSION);

/** Part 2 §10.13.2 TPMS_AUTH_COMMAND (sessionHandle may be TPM_RS_PW) */
export const TPMS_AUTH_COMMAND = struct('TPMS_AUTH_COMMAND', {
  sessionHandle: TPMI_SH_AUTH_SESSION.plus,
  nonce: TPM2B_NONCE,
  sessionAttributes: TPMA_SESSION,
  hmac: TPM2B_AUTH,
});

/** Part 2 §10.13.3 TPMS_AUTH_RESPONSE */
export const TPMS_AUTH_RESPONSE = struct('TPMS_AUTH_RESPONSE', {
  nonce: TPM2B_NONCE,
  sessionAttributes: TPMA_SESSION,
  hmac: TPM2B_AUTH,
});

/** Part 2 §11.4.3 TPM2B_ENCRYPTED_SECRET */
export const TPM2B_ENCRYPTED_SECRET = b2('TPM2B_ENCRYPTED_SECRET', ENCRYPTED_SECRET_SIZE);

export { TPM2B_NONCE };

export type TPMA_SESSION = Infer<typeof TPMA_SESSION>;
export type TPMS_AUTH_COMMAND = Infer<typeof TPMS_AUTH_COMMAND>;
export type TPMS_AUTH_RESPONSE = Infer<typeof TPMS_AUTH_RESPONSE>;
export type TPM2B_ENCRYPTED_SECRET = Infer<typeof TPM2B_ENCRYPTED_SECRET>;
