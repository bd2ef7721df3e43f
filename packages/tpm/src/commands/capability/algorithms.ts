// The algorithms this TPM implements with their TPMA_ALGORITHM bits (Part 2 §6.3 "TPM_ALG_ID",
// whose Type column gives A asymmetric, S symmetric, H hash, O object, X signing, E encrypting,
// N/M method), reported by TPM2_GetCapability(TPM_CAP_ALGS); and the ECC curves it implements
// (TPM_CAP_ECC_CURVES). The set matches what the wire types accept (wire/types/base.ts).

import { TPM_ALG, TPM_ECC_CURVE, TPMA_ALGORITHM } from '../../wire/constants.js';

const { asymmetric: A, symmetric: S, hash: H, object: O, signing: X, encrypting: E, method: M } = TPMA_ALGORITHM;

/** TPM_ALG_ID → TPMA_ALGORITHM, ascending by id. */
export const IMPLEMENTED_ALGORITHMS: ReadonlyArray<{ alg: number; algProperties: number }> = [
  [TPM_ALG.RSA, A | O],
  [TPM_ALG.SHA1, H],
  [TPM_ALG.HMAC, H | X],
  [TPM_ALG.AES, S],
  [TPM_ALG.MGF1, H | M],
  [TPM_ALG.KEYEDHASH, H | O | X | E],
  [TPM_ALG.XOR, S | H],
  [TPM_ALG.SHA256, H],
  [TPM_ALG.SHA384, H],
  [TPM_ALG.RSASSA, A | X],
  [TPM_ALG.RSAES, A | E],
  [TPM_ALG.RSAPSS, A | X],
  [TPM_ALG.OAEP, A | E],
  [TPM_ALG.ECDSA, A | X],
  [TPM_ALG.ECDH, A | M],
  [TPM_ALG.KDF1_SP800_56A, H | M],
  [TPM_ALG.KDF1_SP800_108, H | M],
  [TPM_ALG.ECC, A | O],
  [TPM_ALG.SYMCIPHER, O],
  [TPM_ALG.CTR, S | E],
  [TPM_ALG.OFB, S | E],
  [TPM_ALG.CBC, S | E],
  [TPM_ALG.CFB, S | E],
  [TPM_ALG.ECB, S | E],
].map(([alg, algProperties]) => ({ alg: alg!, algProperties: algProperties! }));

/** TPM_ECC_CURVE values this TPM implements, ascending (the TPMI_ECC_CURVE set). */
export const IMPLEMENTED_CURVES: readonly number[] = [TPM_ECC_CURVE.NIST_P256, TPM_ECC_CURVE.NIST_P384];
