// The one error type the crypto layer throws for conditions a TPM command reports to its
// caller (bad padding, a point off the curve, a failed integrity check). It carries the
// TPM 2.0 Part 2 §6.6 base response code; the command layer adds the parameter index.
// Programming errors (unsupported algorithm ids passed by our own code) stay plain Errors.

import { TPM_RC } from '../wire/constants.js';

type ResponseCode = (typeof TPM_RC)[keyof typeof TPM_RC];

/** A cryptographic failure the TPM reports as `rc` (Part 2 §6.6). The message is for logs only. */
export class CryptoFailure extends Error {
  constructor(
    readonly rc: ResponseCode,
    message: string,
  ) {
    super(message);
    this.name = 'CryptoFailure';
  }
}

export const failIntegrity = (why: string): never => {
  throw new CryptoFailure(TPM_RC.INTEGRITY, why);
};

export const failValue = (why: string): never => {
  throw new CryptoFailure(TPM_RC.VALUE, why);
};
