// Objects and their keys (Part 1 §27–28; Part 3 §12, §24.1): creating an object from a template
// (random key material, or material derived from a hierarchy seed for primaries, with the derived
// RSA cache), checking that a sensitive area belongs to its public area, and loading an object.
// Names are in names.ts, key material in key-material.ts, the TPM2B_PRIVATE in private-area.ts.

import { createHash, randomBytes, type KeyObject } from 'node:crypto';
import { marshal, WireError } from '../wire/codec.js';
import { TPM_ALG, TPM_RC } from '../wire/constants.js';
import { isFormatOne, rcLocation, rcParam } from '../wire/rc.js';
import {
  TPMA_OBJECT,
  TPMT_PUBLIC,
  type TPMS_SENSITIVE_CREATE,
  type TPMT_SENSITIVE,
} from '../wire/types/index.js';
import { CryptoFailure } from '../crypto/errors.js';
import { blockSize, digest, digestSize } from '../crypto/hash.js';
import { kdfa } from '../crypto/kdf.js';
import { deriveRsaKeyPair, generateRsaKeyPair, rsaKeyPairFromPrime, type RsaKeyPair } from '../crypto/rsa-keygen.js';
import { curveSize, deriveEccKeyPair, eccKeyPairFromPrivate, generateEccKeyPair, isPointOnCurve, type EccPoint } from '../crypto/ecc.js';
import { fail, TpmFault } from './command.js';
import { createChecks, has, publicAttributesValidation, schemeChecks } from './object-checks.js';
import { hierarchyQN, objectName, qualifiedName } from './names.js';
import { rememberKeyPair } from './key-material.js';
import type { TpmObject } from './objects.js';
import type { Tpm } from './tpm.js';

export { isStorageParent, createChecks, publicAttributesValidation, schemeChecks } from './object-checks.js';
export { creationData, type CreationOutputs } from './creation-data.js';

interface RsaParms {
  keyBits: number;
  exponent: number;
}
interface EccParms {
  curveID: number;
}
interface SymParms {
  sym: { algorithm: number; keyBits: unknown; mode: unknown };
}
interface KeyedHashParms {
  scheme: { scheme: number; details: unknown };
}

// ---- response-code plumbing --------------------------------------------------------------------

/** Run `fn`; a format-one code that names nothing yet is charged to parameter `n` (reference RcSafeAddToResult). */
export function blameParam<T>(n: number, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    const rc = e instanceof TpmFault || e instanceof CryptoFailure || e instanceof WireError ? (e as { rc: number }).rc : undefined;
    if (rc === undefined) throw e;
    throw new TpmFault(isFormatOne(rc) && !rcLocation(rc) ? rcParam(rc, n) : rc);
  }
}

/** Where a command's template and sensitive area sit in its parameter list (1-based). */
export interface Blame {
  public: number;
  sensitive: number;
}

// ---- key material ------------------------------------------------------------------------------

const derivedRsa = new WeakMap<Tpm, Map<string, RsaKeyPair>>();
const DERIVED_RSA_CACHE = 32;
/** Cache entries restored from saved state, not yet rebuilt into key pairs. */
const savedRsa = new WeakMap<Tpm, Map<string, DerivedRsaEntry>>();

function trimTrailingZeros(b: Buffer): Buffer {
  let n = b.length;
  while (n > 0 && b[n - 1] === 0) n--;
  return b.subarray(0, n);
}

/** Where an object's secret values come from: the RNG, or KDFa over a hierarchy seed and the template. */
interface Source {
  bytes(label: string, n: number): Buffer;
  rsa(bits: number, exponent: number): RsaKeyPair;
  ecc(curveId: number): ReturnType<typeof generateEccKeyPair>;
}

const RANDOM: Source = {
  bytes: (_label, n) => randomBytes(n),
  rsa: (bits, exponent) => generateRsaKeyPair(bits, exponent),
  ecc: (curveId) => generateEccKeyPair(curveId),
};

/** Part 1 §28.3: primary objects from the hierarchy seed, bound to the template by its digest. */
function derivedSource(tpm: Tpm, seed: Buffer, template: TPMT_PUBLIC): Source {
  const hashAlg = template.nameAlg;
  const context = digest(hashAlg, marshal(TPMT_PUBLIC, template));
  return {
    bytes: (label, n) => kdfa(hashAlg, seed, label, context, null, n * 8),
    rsa(bits, exponent) {
      let cache = derivedRsa.get(tpm);
      if (!cache) derivedRsa.set(tpm, (cache = new Map()));
      const key = createHash('sha256').update(seed).update(context).update(Buffer.from([hashAlg >> 8, hashAlg & 0xff])).digest('hex');
      let pair = cache.get(key);
      const saved = pair ? undefined : savedRsa.get(tpm)?.get(key);
      if (saved) {
        savedRsa.get(tpm)!.delete(key);
        pair = rsaKeyPairFromPrime(saved.modulus, saved.exponent, saved.prime);
      }
      pair ??= deriveRsaKeyPair({ hashAlg, seed, context, bits, exponent });
      if (!cache.has(key) && cache.size >= DERIVED_RSA_CACHE) cache.delete(cache.keys().next().value!);
      cache.delete(key);
      cache.set(key, pair);
      return pair;
    },
    ecc: (curveId) => deriveEccKeyPair({ hashAlg, seed, context, curveId }),
  };
}

/** A derived primary RSA key as its state entry holds it: enough to rebuild it without a prime search. */
export interface DerivedRsaEntry {
  key: string;
  exponent: number;
  modulus: Buffer;
  prime: Buffer;
}

/** The derived-primary RSA cache (engine/state.ts saves it so CreatePrimary stays fast after a restart). */
export function exportDerivedRsa(tpm: Tpm): DerivedRsaEntry[] {
  const built = [...(derivedRsa.get(tpm) ?? new Map<string, RsaKeyPair>())].map(([key, p]) => ({ key, exponent: p.exponent, modulus: p.modulus, prime: p.prime }));
  const saved = [...(savedRsa.get(tpm)?.values() ?? [])].filter((e) => !derivedRsa.get(tpm)?.has(e.key));
  return [...saved, ...built].slice(-DERIVED_RSA_CACHE);
}
/** Restored entries stay raw (a few hundred bytes each) until CreatePrimary asks for one. */
export function importDerivedRsa(tpm: Tpm, entries: readonly DerivedRsaEntry[]): void {
  savedRsa.set(tpm, new Map(entries.slice(-DERIVED_RSA_CACHE).map((e) => [e.key, e])));
  derivedRsa.delete(tpm);
}

/** Size of a TPM-generated KEYEDHASH key: the scheme's digest size, else the nameAlg's. */
function keyedHashKeySize(pub: TPMT_PUBLIC): number {
  const s = (pub.parameters as KeyedHashParms).scheme;
  const hashAlg = s.scheme === TPM_ALG.NULL ? pub.nameAlg : (s.details as { hashAlg: number }).hashAlg;
  return digestSize(hashAlg);
}

/** unique of a SYMCIPHER or KEYEDHASH object (Part 1 §27.7.3): H_nameAlg(seedValue || key). */
function symmetricUnique(nameAlg: number, seedValue: Buffer, bits: Buffer): Buffer {
  return digest(nameAlg, seedValue, bits);
}

export interface CreateObjectOptions {
  template: TPMT_PUBLIC;
  sensitive: TPMS_SENSITIVE_CREATE;
  /** The parent, or null for a primary object (created from the hierarchy seed). */
  parent: TpmObject | null;
  hierarchy: number;
  /** Set for primary objects: derive everything from this seed and the template. */
  derivation?: { seed: Buffer };
  /** Parameter numbers of the template and of the sensitive area (default: 2 and 1). */
  blame?: Blame;
}

/**
 * Part 3 §12.1 / §24.1: validate a template (CreateChecks), generate or derive the key
 * material, and return the new object (not yet in a slot).
 */
export function createObject(tpm: Tpm, opts: CreateObjectOptions): TpmObject {
  const { template, sensitive, parent } = opts;
  const blame = opts.blame ?? { public: 2, sensitive: 1 };
  blameParam(blame.public, () => createChecks(parent, template, sensitive.data.length));
  const authValue = trimTrailingZeros(sensitive.userAuth);
  if (authValue.length > digestSize(template.nameAlg)) fail(rcParam(TPM_RC.SIZE, blame.sensitive));

  const source = opts.derivation ? derivedSource(tpm, opts.derivation.seed, template) : RANDOM;
  const a = template.objectAttributes;
  const nameAlg = template.nameAlg;
  const storageParent = has(a, TPMA_OBJECT.restricted) && has(a, TPMA_OBJECT.decrypt);
  const tpmGenerates = has(a, TPMA_OBJECT.sensitiveDataOrigin);
  let unique: TPMT_PUBLIC['unique'];
  let secret: Buffer;
  let seedValue: Buffer = Buffer.alloc(0);
  let pair: { privateKey: KeyObject; publicKey: KeyObject } | undefined;

  switch (template.type) {
    case TPM_ALG.RSA: {
      const p = template.parameters as RsaParms;
      const rsa = blameParam(blame.public, () => source.rsa(p.keyBits, p.exponent));
      unique = rsa.modulus;
      secret = rsa.prime;
      pair = rsa;
      if (storageParent) seedValue = source.bytes('SEED VALUE', digestSize(nameAlg));
      break;
    }
    case TPM_ALG.ECC: {
      const ecc = source.ecc((template.parameters as EccParms).curveID);
      unique = ecc.publicPoint;
      secret = ecc.privateScalar;
      pair = ecc;
      if (storageParent) seedValue = source.bytes('SEED VALUE', digestSize(nameAlg));
      break;
    }
    case TPM_ALG.SYMCIPHER: {
      const keyBytes = ((template.parameters as SymParms).sym.keyBits as number) / 8;
      if (!tpmGenerates && sensitive.data.length !== keyBytes) fail(rcParam(TPM_RC.KEY_SIZE, blame.sensitive));
      secret = tpmGenerates ? source.bytes('SYMCIPHER', keyBytes) : Buffer.from(sensitive.data);
      seedValue = source.bytes('SEED VALUE', digestSize(nameAlg));
      unique = symmetricUnique(nameAlg, seedValue, secret);
      break;
    }
    default: {
      secret = tpmGenerates ? source.bytes('KEYEDHASH', keyedHashKeySize(template)) : Buffer.from(sensitive.data);
      seedValue = source.bytes('SEED VALUE', digestSize(nameAlg));
      unique = symmetricUnique(nameAlg, seedValue, secret);
    }
  }
  const pub: TPMT_PUBLIC = { ...template, unique };
  const sens: TPMT_SENSITIVE = { sensitiveType: template.type, authValue, seedValue, sensitive: secret };
  const obj = buildObject(pub, sens, opts.hierarchy, parent ? parent.qualifiedName : hierarchyQN(opts.hierarchy));
  obj.isPrimary = parent === null;
  if (pair) rememberKeyPair(obj, pair);
  return obj;
}

function buildObject(pub: TPMT_PUBLIC, sensitive: TPMT_SENSITIVE | null, hierarchy: number, parentQN: Buffer): TpmObject {
  const name = objectName(pub);
  return {
    public: pub,
    publicArea: marshal(TPMT_PUBLIC.plus, pub),
    name,
    sensitive,
    authValue: sensitive ? Buffer.from(sensitive.authValue) : Buffer.alloc(0),
    hierarchy,
    qualifiedName: qualifiedName(parentQN, pub, name),
    isPrimary: false,
    isExternal: false,
  };
}

/**
 * Reference CryptValidateKeys: the public area's key is well-formed and, with a sensitive area,
 * bound to it. Size faults name the public or sensitive parameter; a key pair that does not
 * match is TPM_RC_BINDING.
 */
export function validateKeys(pub: TPMT_PUBLIC, sensitive: TPMT_SENSITIVE | null, blame: Blame): void {
  const dSize = digestSize(pub.nameAlg);
  const bad = (rc: number, n: number): never => fail(rcParam(rc, n));
  if (sensitive) {
    if (sensitive.sensitiveType !== pub.type) bad(TPM_RC.TYPE, blame.sensitive);
    if (dSize > 0 && sensitive.authValue.length > dSize) bad(TPM_RC.SIZE, blame.sensitive);
  }
  switch (pub.type) {
    case TPM_ALG.RSA: {
      const p = pub.parameters as RsaParms;
      const modulus = pub.unique as Buffer;
      const keyBytes = p.keyBits / 8;
      if (modulus.length !== keyBytes || modulus[0]! < 0x80) bad(TPM_RC.KEY, blame.public);
      if (p.exponent !== 0 && p.exponent < 7) bad(TPM_RC.VALUE, blame.public);
      if (sensitive) {
        const prime = sensitive.sensitive as Buffer;
        if (prime.length * 2 !== keyBytes || prime[0]! < 0x80) bad(TPM_RC.KEY_SIZE, blame.sensitive);
        try {
          rsaKeyPairFromPrime(modulus, p.exponent, prime);
        } catch (e) {
          if (e instanceof CryptoFailure && e.rc === TPM_RC.RANGE) bad(TPM_RC.VALUE, blame.public);
          fail(TPM_RC.BINDING);
        }
      }
      break;
    }
    case TPM_ALG.ECC: {
      const curveId = (pub.parameters as EccParms).curveID;
      const point = pub.unique as EccPoint;
      const size = curveSize(curveId);
      if (!sensitive) {
        if (point.x.length !== size || point.y.length !== size) bad(TPM_RC.KEY, blame.public);
        if (pub.nameAlg !== TPM_ALG.NULL && !isPointOnCurve(curveId, point)) bad(TPM_RC.ECC_POINT, blame.public);
      } else {
        const scalar = sensitive.sensitive as Buffer;
        try {
          eccKeyPairFromPrivate(curveId, scalar);
        } catch {
          fail(TPM_RC.KEY_SIZE);
        }
        if (pub.nameAlg !== TPM_ALG.NULL) {
          try {
            eccKeyPairFromPrivate(curveId, scalar, point);
          } catch {
            fail(TPM_RC.BINDING);
          }
        }
      }
      break;
    }
    default: {
      const unique = pub.unique as Buffer;
      if (!sensitive) {
        if (unique.length !== dSize) bad(TPM_RC.KEY, blame.public);
        break;
      }
      const bits = sensitive.sensitive as Buffer;
      if (pub.type === TPM_ALG.SYMCIPHER) {
        if (bits.length * 8 !== ((pub.parameters as SymParms).sym.keyBits as number)) bad(TPM_RC.KEY_SIZE, blame.sensitive);
      } else {
        const s = (pub.parameters as KeyedHashParms).scheme;
        const max = s.scheme === TPM_ALG.NULL ? 128 : blockSize((s.details as { hashAlg: number }).hashAlg);
        if (bits.length > max) bad(TPM_RC.KEY_SIZE, blame.sensitive);
      }
      if (pub.nameAlg !== TPM_ALG.NULL) {
        if (sensitive.seedValue.length !== dSize) bad(TPM_RC.KEY_SIZE, blame.sensitive);
        if (!symmetricUnique(pub.nameAlg, sensitive.seedValue, bits).equals(unique)) fail(TPM_RC.BINDING);
      }
    }
  }
  // A parent's seed must be strong enough to protect its children.
  const a = pub.objectAttributes;
  if (sensitive && has(a, TPMA_OBJECT.restricted) && has(a, TPMA_OBJECT.decrypt) && pub.nameAlg !== TPM_ALG.NULL) {
    if (sensitive.seedValue.length < dSize / 2 || sensitive.seedValue.length > dSize) bad(TPM_RC.SIZE, blame.sensitive);
  }
}

/**
 * Reference ObjectLoad: build an object from a public area and (optionally) a sensitive area
 * already recovered, checking the attributes against the parent. `parent` null with a
 * hierarchy is LoadExternal.
 */
export function loadObject(
  pub: TPMT_PUBLIC,
  sensitive: TPMT_SENSITIVE | null,
  opts: { parent: TpmObject | null; hierarchy: number; blame: Blame; external?: boolean },
): TpmObject {
  const { parent, blame } = opts;
  if (sensitive && sensitive.seedValue.length > digestSize(pub.nameAlg) && pub.nameAlg !== TPM_ALG.NULL) {
    fail(rcParam(TPM_RC.KEY_SIZE, blame.sensitive));
  }
  blameParam(blame.public, () => {
    if (!sensitive || pub.nameAlg === TPM_ALG.NULL) schemeChecks(null, pub);
    else publicAttributesValidation(parent, pub);
  });
  if (opts.external) validateKeys(pub, sensitive, blame);
  const obj = buildObject(pub, sensitive, opts.hierarchy, parent ? parent.qualifiedName : hierarchyQN(opts.hierarchy));
  obj.isExternal = !!opts.external;
  return obj;
}
