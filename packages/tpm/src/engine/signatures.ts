// Signing with loaded keys (Part 1 §11.4 "Signing", after the reference CryptUtil.c
// CryptSelectSignScheme / CryptSign / CryptValidateSignature): which scheme a key signs with,
// signing a digest, and checking a signature. Shared by TPM2_Sign, TPM2_VerifySignature and the
// attestation commands. Failures are base response codes; the command names the parameter.

import { timingSafeEqual } from 'node:crypto';
import { TPM_ALG, TPM_RC, TPMA_OBJECT } from '../wire/constants.js';
import type { TPMS_ECC_PARMS, TPMS_SIGNATURE_ECC, TPMS_SIGNATURE_RSA, TPMT_HA, TPMT_PUBLIC, TPMT_SIG_SCHEME, TPMT_SIGNATURE } from '../wire/types/index.js';
import { CryptoFailure } from '../crypto/errors.js';
import { hmac } from '../crypto/hash.js';
import { rsaSign, rsaVerify } from '../crypto/rsa.js';
import { ecdsaSign, ecdsaVerify } from '../crypto/ecc.js';
import { fail } from './command.js';
import { privateKeyOf, publicKeyOf, symmetricKeyOf } from './key-material.js';
import type { TpmObject } from './objects.js';

const NULL_SCHEME: TPMT_SIG_SCHEME = { scheme: TPM_ALG.NULL, details: null };

/** Reference IsSigningObject: a key with the sign attribute that is not a symmetric cipher. */
export function isSigningKey(obj: TpmObject): boolean {
  return (obj.public.objectAttributes & TPMA_OBJECT.sign) !== 0 && obj.public.type !== TPM_ALG.SYMCIPHER;
}

/** The key's own scheme seen as a TPMT_SIG_SCHEME (scheme selector and its hashAlg). */
export function keySignScheme(pub: TPMT_PUBLIC): TPMT_SIG_SCHEME {
  const params = pub.parameters as { scheme?: { scheme: number; details: unknown } } | null;
  const s = params?.scheme;
  if (!s || s.scheme === TPM_ALG.NULL) return NULL_SCHEME;
  const hashAlg = (s.details as { hashAlg?: number } | null)?.hashAlg ?? TPM_ALG.NULL;
  return { scheme: s.scheme, details: { hashAlg } };
}

/**
 * The scheme to sign with (reference CryptSelectSignScheme): the key's scheme when inScheme is
 * NULL, inScheme when the key has none, and both only when they agree in scheme and hash.
 * Null when no scheme can be chosen (the command answers TPM_RC_SCHEME on inScheme).
 */
export function selectSignScheme(obj: TpmObject, inScheme: TPMT_SIG_SCHEME): TPMT_SIG_SCHEME | null {
  if (obj.public.type === TPM_ALG.SYMCIPHER) return null;
  const own = keySignScheme(obj.public);
  if (own.scheme === TPM_ALG.NULL) return inScheme.scheme === TPM_ALG.NULL ? null : inScheme;
  if (inScheme.scheme === TPM_ALG.NULL) return own;
  return own.scheme === inScheme.scheme && own.details?.hashAlg === inScheme.details?.hashAlg ? inScheme : null;
}

/** The private scalar d of an ECC key, as ecdsaSign takes it. */
function eccScalar(obj: TpmObject): Buffer {
  return Buffer.from(privateKeyOf(obj).export({ format: 'jwk' }).d ?? '', 'base64url');
}

/** Run a crypto operation, turning its CryptoFailure into the TPM response it stands for. */
function crypto<T>(op: () => T): T {
  try {
    return op();
  } catch (e) {
    if (e instanceof CryptoFailure) fail(e.rc, e.message);
    throw e;
  }
}

/**
 * Sign `digest` with `obj` under `scheme` (reference CryptSign). A scheme the key type cannot
 * use is TPM_RC_SCHEME; a digest the key cannot sign (wrong size, modulus too small) is the
 * crypto layer's code. The caller has checked restrictions and chosen the scheme.
 */
export function signDigest(obj: TpmObject, scheme: TPMT_SIG_SCHEME, digest: Buffer): TPMT_SIGNATURE {
  const hashAlg = scheme.details?.hashAlg ?? TPM_ALG.NULL;
  if (scheme.scheme === TPM_ALG.NULL) return { sigAlg: TPM_ALG.NULL, signature: null };
  switch (obj.public.type) {
    case TPM_ALG.RSA: {
      if (scheme.scheme !== TPM_ALG.RSASSA && scheme.scheme !== TPM_ALG.RSAPSS) fail(TPM_RC.SCHEME);
      const sig = crypto(() => rsaSign(privateKeyOf(obj), { scheme: scheme.scheme as typeof TPM_ALG.RSASSA, hashAlg }, digest));
      return { sigAlg: scheme.scheme, signature: { hash: hashAlg, sig } };
    }
    case TPM_ALG.ECC: {
      if (scheme.scheme !== TPM_ALG.ECDSA) fail(TPM_RC.SCHEME);
      const curveId = (obj.public.parameters as TPMS_ECC_PARMS).curveID;
      const { r, s } = crypto(() => ecdsaSign(curveId, eccScalar(obj), digest));
      return { sigAlg: TPM_ALG.ECDSA, signature: { hash: hashAlg, signatureR: r, signatureS: s } };
    }
    case TPM_ALG.KEYEDHASH: {
      if (scheme.scheme !== TPM_ALG.HMAC) fail(TPM_RC.SCHEME);
      return { sigAlg: TPM_ALG.HMAC, signature: { hashAlg, digest: hmac(hashAlg, symmetricKeyOf(obj), digest) } };
    }
    default:
      return fail(TPM_RC.SCHEME);
  }
}

/**
 * Check `signature` over `digest` with `obj` (reference CryptValidateSignature). Fails with
 * TPM_RC_SCHEME when the signature's algorithm does not fit the key, TPM_RC_SIGNATURE when it
 * is not genuine, TPM_RC_HANDLE for an HMAC key whose private part is not loaded.
 */
export function checkSignature(obj: TpmObject, digest: Buffer, signature: TPMT_SIGNATURE): void {
  let ok: boolean;
  switch (obj.public.type) {
    case TPM_ALG.RSA: {
      if (signature.sigAlg !== TPM_ALG.RSASSA && signature.sigAlg !== TPM_ALG.RSAPSS) fail(TPM_RC.SCHEME);
      const s = signature.signature as TPMS_SIGNATURE_RSA;
      ok = rsaVerify(publicKeyOf(obj), { scheme: signature.sigAlg as typeof TPM_ALG.RSASSA, hashAlg: s.hash }, digest, s.sig);
      break;
    }
    case TPM_ALG.ECC: {
      if (signature.sigAlg !== TPM_ALG.ECDSA) fail(TPM_RC.SCHEME);
      const s = signature.signature as TPMS_SIGNATURE_ECC;
      const curveId = (obj.public.parameters as TPMS_ECC_PARMS).curveID;
      const point = obj.public.unique as { x: Buffer; y: Buffer };
      ok = ecdsaVerify(curveId, point, digest, { r: s.signatureR, s: s.signatureS });
      break;
    }
    case TPM_ALG.KEYEDHASH: {
      if (signature.sigAlg !== TPM_ALG.HMAC) fail(TPM_RC.SCHEME);
      if (!obj.sensitive) fail(TPM_RC.HANDLE);
      const s = signature.signature as TPMT_HA;
      const got = s.digest ?? Buffer.alloc(0);
      const expected = hmac(s.hashAlg, symmetricKeyOf(obj), digest);
      ok = expected.length === got.length && timingSafeEqual(expected, got);
      break;
    }
    default:
      return fail(TPM_RC.SCHEME);
  }
  if (!ok) fail(TPM_RC.SIGNATURE);
}
