// Template validation (Part 1 §27, Part 3 §12.1 / §24.1, after the reference's CreateChecks,
// PublicAttributesValidation and SchemeChecks): attribute consistency of a public area by
// itself and with its parent, the schemes a key's attributes allow, and the rules that apply
// only at creation (who supplies the sensitive data). Each check answers with the base code
// the reference TPM returns; the caller names the parameter at fault.

import { TPM_ALG, TPM_RC } from '../wire/constants.js';
import { TPMA_OBJECT, type TPMT_PUBLIC } from '../wire/types/index.js';
import { digestSize } from '../crypto/hash.js';
import { fail } from './command.js';
import type { TpmObject } from './objects.js';

interface SchemeSel {
  scheme: number;
  details: unknown;
}
interface SymDef {
  algorithm: number;
  keyBits: unknown;
  mode: unknown;
}
interface AsymParms {
  symmetric: SymDef;
  scheme: SchemeSel;
}

export const has = (attrs: number, bit: number): boolean => (attrs & bit) !== 0;

export function isAsymmetric(type: number): boolean {
  return type === TPM_ALG.RSA || type === TPM_ALG.ECC;
}

/** The symmetric definition a storage parent protects its children with (Part 2 §12.2.3.5/6, §11.1.10). */
export function storageSymmetric(pub: TPMT_PUBLIC): SymDef | null {
  if (isAsymmetric(pub.type)) return (pub.parameters as AsymParms).symmetric;
  if (pub.type === TPM_ALG.SYMCIPHER) return (pub.parameters as { sym: SymDef }).sym;
  return null;
}

/** A storage parent (Part 1 §27.1): a restricted decryption key with its sensitive area and a symmetric definition. */
export function isStorageParent(obj: TpmObject): boolean {
  const a = obj.public.objectAttributes;
  if (!has(a, TPMA_OBJECT.restricted) || !has(a, TPMA_OBJECT.decrypt) || has(a, TPMA_OBJECT.sign)) return false;
  const sym = storageSymmetric(obj.public);
  return obj.sensitive !== null && !!sym && sym.algorithm !== TPM_ALG.NULL;
}

const SIGN_SCHEMES: Record<number, number[]> = {
  [TPM_ALG.RSA]: [TPM_ALG.RSASSA, TPM_ALG.RSAPSS],
  [TPM_ALG.ECC]: [TPM_ALG.ECDSA],
};
const DECRYPT_SCHEMES: Record<number, number[]> = {
  [TPM_ALG.RSA]: [TPM_ALG.RSAES, TPM_ALG.OAEP],
  [TPM_ALG.ECC]: [TPM_ALG.ECDH],
};
const BLOCK_MODES: readonly number[] = [TPM_ALG.CTR, TPM_ALG.OFB, TPM_ALG.CBC, TPM_ALG.CFB, TPM_ALG.ECB, TPM_ALG.NULL];

function sameSymDef(a: SymDef, b: SymDef): boolean {
  return a.algorithm === b.algorithm && a.keyBits === b.keyBits && a.mode === b.mode;
}

/** Reference SchemeChecks: the scheme and symmetric definition a key's attributes allow. */
export function schemeChecks(parent: TpmObject | null, pub: TPMT_PUBLIC): void {
  const a = pub.objectAttributes;
  const sign = has(a, TPMA_OBJECT.sign);
  const decrypt = has(a, TPMA_OBJECT.decrypt);
  const restricted = has(a, TPMA_OBJECT.restricted);
  let sym: SymDef | null = null;
  switch (pub.type) {
    case TPM_ALG.SYMCIPHER: {
      sym = (pub.parameters as { sym: SymDef }).sym;
      if (decrypt && !BLOCK_MODES.includes(sym.mode as number)) fail(TPM_RC.SCHEME);
      break;
    }
    case TPM_ALG.KEYEDHASH: {
      const s = (pub.parameters as { scheme: SchemeSel }).scheme;
      if (sign === decrypt) {
        if (s.scheme !== TPM_ALG.NULL) fail(TPM_RC.SCHEME);
      } else if (sign && s.scheme !== TPM_ALG.HMAC) {
        fail(TPM_RC.SCHEME);
      } else if (decrypt) {
        if (s.scheme !== TPM_ALG.XOR) fail(TPM_RC.SCHEME);
        if (restricted) {
          const xor = s.details as { hashAlg: number; kdf: number };
          if (xor.kdf !== TPM_ALG.KDF1_SP800_108) fail(TPM_RC.SCHEME);
          if (digestSize(xor.hashAlg) === 0) fail(TPM_RC.HASH);
        }
      }
      break;
    }
    default: {
      const p = pub.parameters as AsymParms;
      const scheme = p.scheme.scheme;
      sym = p.symmetric;
      if (sign === decrypt) {
        if (scheme !== TPM_ALG.NULL) fail(TPM_RC.SCHEME);
      } else if (sign) {
        const isSignScheme = SIGN_SCHEMES[pub.type]!.includes(scheme);
        if (!isSignScheme && (restricted || scheme !== TPM_ALG.NULL)) fail(TPM_RC.SCHEME);
      } else if (restricted) {
        if (scheme !== TPM_ALG.NULL) fail(TPM_RC.SCHEME);
      } else if (scheme !== TPM_ALG.NULL && !DECRYPT_SCHEMES[pub.type]!.includes(scheme)) {
        fail(TPM_RC.SCHEME);
      }
      // Only a parent carries a symmetric definition.
      if ((!restricted || !decrypt) && sym.algorithm !== TPM_ALG.NULL) fail(TPM_RC.SYMMETRIC);
      if (pub.type === TPM_ALG.ECC && (pub.parameters as { kdf: { scheme: number } }).kdf.scheme !== TPM_ALG.NULL) {
        fail(TPM_RC.KDF);
      }
    }
  }
  // A restricted decryption key with a symmetric definition is an ordinary storage parent.
  if (sym && restricted && decrypt) {
    if (sym.algorithm === TPM_ALG.NULL) fail(TPM_RC.SYMMETRIC);
    // A non-duplicable parent uses the same algorithms as its own parent.
    if (has(a, TPMA_OBJECT.fixedParent) && parent) {
      if (pub.nameAlg !== parent.public.nameAlg) fail(TPM_RC.HASH);
      const parentSym = storageSymmetric(parent.public);
      if (!parentSym || !sameSymDef(sym, parentSym)) fail(TPM_RC.SYMMETRIC);
    }
  }
}

/** Reference PublicAttributesValidation: the public area's attributes by themselves and against the parent's. */
export function publicAttributesValidation(parent: TpmObject | null, pub: TPMT_PUBLIC): void {
  const a = pub.objectAttributes;
  const pa = parent?.public.objectAttributes ?? 0;
  if (pub.nameAlg === TPM_ALG.NULL) fail(TPM_RC.HASH);
  if (pub.authPolicy.length !== 0 && pub.authPolicy.length !== digestSize(pub.nameAlg)) fail(TPM_RC.SIZE);
  // Under a fixedTPM parent (or a seed), fixedTPM and fixedParent agree; otherwise fixedTPM is impossible.
  if (!parent || has(pa, TPMA_OBJECT.fixedTPM)) {
    if (has(a, TPMA_OBJECT.fixedParent) !== has(a, TPMA_OBJECT.fixedTPM)) fail(TPM_RC.ATTRIBUTES);
  } else if (has(a, TPMA_OBJECT.fixedTPM)) {
    fail(TPM_RC.ATTRIBUTES);
  }
  if (has(a, TPMA_OBJECT.sign) === has(a, TPMA_OBJECT.decrypt)) {
    if (has(a, TPMA_OBJECT.restricted)) fail(TPM_RC.ATTRIBUTES);
    // Only a data object (KEYEDHASH) may have both clear.
    if (pub.type !== TPM_ALG.KEYEDHASH && !has(a, TPMA_OBJECT.sign)) fail(TPM_RC.ATTRIBUTES);
  }
  if (has(a, TPMA_OBJECT.fixedTPM) && has(a, TPMA_OBJECT.encryptedDuplication)) fail(TPM_RC.ATTRIBUTES);
  if (parent && !has(pa, TPMA_OBJECT.fixedTPM)) {
    if (has(a, TPMA_OBJECT.encryptedDuplication) !== has(pa, TPMA_OBJECT.encryptedDuplication)) fail(TPM_RC.ATTRIBUTES);
  }
  schemeChecks(parent, pub);
}

/**
 * Reference CreateChecks: who supplies the sensitive data (sensitiveDataOrigin), then
 * publicAttributesValidation. `dataSize` is the size of TPMS_SENSITIVE_CREATE.data.
 */
export function createChecks(parent: TpmObject | null, pub: TPMT_PUBLIC, dataSize: number): void {
  const a = pub.objectAttributes;
  const tpmGenerates = has(a, TPMA_OBJECT.sensitiveDataOrigin);
  if (!tpmGenerates && dataSize === 0) fail(TPM_RC.ATTRIBUTES);
  if (parent && tpmGenerates && dataSize !== 0) fail(TPM_RC.ATTRIBUTES);
  switch (pub.type) {
    case TPM_ALG.KEYEDHASH:
    case TPM_ALG.SYMCIPHER:
      // A data object's data always comes from the caller.
      if (pub.type === TPM_ALG.KEYEDHASH && !has(a, TPMA_OBJECT.sign) && !has(a, TPMA_OBJECT.decrypt) && tpmGenerates) {
        fail(TPM_RC.ATTRIBUTES);
      }
      // A restricted symmetric key with caller-supplied data may not look like a TPM-made key.
      if (has(a, TPMA_OBJECT.restricted) && !tpmGenerates && (has(a, TPMA_OBJECT.fixedParent) || has(a, TPMA_OBJECT.fixedTPM))) {
        fail(TPM_RC.ATTRIBUTES);
      }
      break;
    default:
      // Asymmetric keys are always generated by the TPM.
      if (!tpmGenerates) fail(TPM_RC.ATTRIBUTES);
  }
  publicAttributesValidation(parent, pub);
}
