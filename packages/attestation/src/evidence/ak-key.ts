// The attestation key as the verifier sees it: its public key from a TPM2B_PUBLIC (with its
// Name and object attributes) or from a PEM, the Qualified Name a quote should carry for it
// (Part 1 §16), and the check of a TPMT_SIGNATURE (Part 2 §11.3.4) over the attest bytes:
// ECDSA (r, s as TPM2B_ECC_PARAMETERs), RSASSA-PKCS1-v1_5 and RSAPSS, with SHA-1/256/384/512.

import { createHash, createPublicKey, verify, constants, type KeyObject } from 'node:crypto';
import { publicKeyOfArea, unmarshal, wire, TPM_ALG, TPM_RH, TPMA_OBJECT } from '@sealkeep/tpm';
import type { AkPublicInput, HierarchyName } from './bundle.js';
import type { FindingCollector } from './findings.js';

export interface AkKey {
  key: KeyObject;
  /** Present when the AK came as a TPM2B_PUBLIC. */
  area?: wire.TPMT_PUBLIC;
  /** nameAlg || H_nameAlg(TPMT_PUBLIC), when the AK came as a TPM2B_PUBLIC. */
  name?: Buffer;
}

/** TPM_ALG hash ids and node's names for them. */
export const HASH_NAME: ReadonlyMap<number, string> = new Map([
  [TPM_ALG.SHA1, 'sha1'],
  [TPM_ALG.SHA256, 'sha256'],
  [TPM_ALG.SHA384, 'sha384'],
  [TPM_ALG.SHA512, 'sha512'],
]);

const HIERARCHY_HANDLE: Record<HierarchyName, number> = {
  endorsement: TPM_RH.ENDORSEMENT,
  owner: TPM_RH.OWNER,
  platform: TPM_RH.PLATFORM,
  null: TPM_RH.NULL,
};

/** What an AK must be: bound to its TPM, and restricted so it signs only what the TPM produced. */
const AK_REQUIRED = { fixedTPM: TPMA_OBJECT.fixedTPM, restricted: TPMA_OBJECT.restricted, sign: TPMA_OBJECT.sign } as const;

const u16 = (n: number) => Buffer.from([n >> 8, n & 0xff]);
const u32 = (n: number) => Buffer.from([n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);

/** The AK's public key (and, from a TPM2B_PUBLIC, its area and Name); null after a finding. */
export function loadAkKey(input: AkPublicInput, f: FindingCollector): AkKey | null {
  if (input.kind === 'pem') {
    try {
      return { key: createPublicKey(input.pem) };
    } catch (e) {
      f.add('ak-public-malformed', `ak.public: the PEM public key does not parse: ${(e as Error).message}`);
      return null;
    }
  }
  let area: wire.TPMT_PUBLIC;
  let key: KeyObject;
  try {
    area = unmarshal(wire.TPM2B_PUBLIC, input.bytes);
    key = publicKeyOfArea(area);
  } catch (e) {
    f.add('ak-public-malformed', `ak.public: not a TPM2B_PUBLIC of an RSA or ECC key: ${(e as Error).message}`);
    return null;
  }
  const hash = HASH_NAME.get(area.nameAlg)!;
  // The Name digests the TPMT_PUBLIC exactly as sent: the bytes after the TPM2B size.
  const name = Buffer.concat([u16(area.nameAlg), createHash(hash).update(input.bytes.subarray(2)).digest()]);
  const attrs = area.objectAttributes >>> 0;
  const missing = Object.entries(AK_REQUIRED).filter(([, bit]) => (attrs & bit) === 0).map(([n]) => n);
  if (missing.length > 0 || attrs & TPMA_OBJECT.decrypt) {
    f.add('ak-attributes-invalid', 'the AK must be a fixedTPM, restricted signing key (not a decryption key): a key without these could sign data that only looks like a quote', {
      expected: 'fixedTPM|restricted|sign',
      found: `0x${attrs.toString(16).padStart(8, '0')}${missing.length ? ` (missing ${missing.join(', ')})` : ' (decrypt set)'}`,
    });
  }
  return { key, area, name };
}

/** The Qualified Name of a key with this Name under `parent` (a hierarchy, or the parent's QN). */
export function qualifiedNameOf(name: Buffer, parent: HierarchyName | Buffer): Buffer {
  const nameAlg = name.readUInt16BE(0);
  const parentQN = Buffer.isBuffer(parent) ? parent : u32(HIERARCHY_HANDLE[parent]);
  return Buffer.concat([u16(nameAlg), createHash(HASH_NAME.get(nameAlg)!).update(parentQN).update(name).digest()]);
}

/** Which hierarchy a primary key with this Name would have as its QN `qn`, if any. */
export function primaryHierarchyOf(name: Buffer, qn: Buffer): HierarchyName | null {
  return (Object.keys(HIERARCHY_HANDLE) as HierarchyName[]).find((h) => qualifiedNameOf(name, h).equals(qn)) ?? null;
}

export type SignatureCheck = { ok: true; hashAlg: number } | { ok: false; id: 'quote-signature-malformed' | 'quote-signature-unsupported' | 'quote-signature-invalid'; reason: string; hashAlg?: number };

/** r||s, each left-padded (or stripped of leading zeros) to `size`; null when a value is too long. */
function p1363(r: Buffer, s: Buffer, size: number): Buffer | null {
  const fit = (v: Buffer) => {
    let i = 0;
    while (i < v.length - size && v[i] === 0) i++;
    const t = v.subarray(i);
    return t.length > size ? null : Buffer.concat([Buffer.alloc(size - t.length), t]);
  };
  const [a, b] = [fit(r), fit(s)];
  return a && b ? Buffer.concat([a, b]) : null;
}

const CURVE_SIZE: Record<string, number> = { prime256v1: 32, secp384r1: 48, secp521r1: 66 };

/** Check a marshaled TPMT_SIGNATURE over `message` with the AK's public key. */
export function checkSignature(sigBytes: Buffer, message: Buffer, key: KeyObject): SignatureCheck {
  let sig: wire.TPMT_SIGNATURE;
  try {
    sig = unmarshal(wire.TPMT_SIGNATURE, sigBytes);
  } catch (e) {
    return { ok: false, id: 'quote-signature-malformed', reason: `quote.signature is not a TPMT_SIGNATURE: ${(e as Error).message}` };
  }
  const body = sig.signature as { hash?: number; sig?: Buffer; signatureR?: Buffer; signatureS?: Buffer };
  const scheme = sig.sigAlg === TPM_ALG.ECDSA ? 'ECDSA' : sig.sigAlg === TPM_ALG.RSASSA ? 'RSASSA' : sig.sigAlg === TPM_ALG.RSAPSS ? 'RSAPSS' : null;
  const hash = body.hash === undefined ? undefined : HASH_NAME.get(body.hash);
  if (!scheme || !hash) {
    return { ok: false, id: 'quote-signature-unsupported', reason: `signature scheme 0x${sig.sigAlg.toString(16)} with hash 0x${(body.hash ?? 0).toString(16)}: only ECDSA, RSASSA and RSAPSS with SHA-1/256/384/512 are checked` };
  }
  const hashAlg = body.hash!;
  const keyType = key.asymmetricKeyType;
  if ((scheme === 'ECDSA') !== (keyType === 'ec') || (scheme !== 'ECDSA' && keyType !== 'rsa')) {
    return { ok: false, id: 'quote-signature-invalid', reason: `a ${scheme} signature cannot come from the AK, a ${keyType} key`, hashAlg };
  }
  let good = false;
  try {
    if (scheme === 'ECDSA') {
      const size = CURVE_SIZE[key.asymmetricKeyDetails?.namedCurve ?? ''] ?? 32;
      const rs = p1363(body.signatureR!, body.signatureS!, size);
      good = rs !== null && verify(hash, message, { key, dsaEncoding: 'ieee-p1363' }, rs);
    } else if (scheme === 'RSASSA') {
      good = verify(hash, message, { key, padding: constants.RSA_PKCS1_PADDING }, body.sig!);
    } else {
      good = verify(hash, message, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_AUTO }, body.sig!);
    }
  } catch {
    good = false;
  }
  return good ? { ok: true, hashAlg } : { ok: false, id: 'quote-signature-invalid', reason: `the ${scheme}-${hash} signature does not verify with the AK over the attest bytes`, hashAlg };
}
