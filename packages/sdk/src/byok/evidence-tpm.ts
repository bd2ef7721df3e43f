// The TPM side of import evidence, read with @sealkeep/tpm's wire codecs (TPM 2.0 Part 2): public
// areas and their Names, the TPMS_ATTEST a TPM2_Certify signed, its TPMT_SIGNATURE checked with
// node:crypto, and the qualifying data that binds a certification to one import job and nonce.

import { createHash, verify, type KeyObject } from 'node:crypto';
import { TPM_ALG, TPM_GENERATED_VALUE, TPM_ST, publicKeyOfArea, unmarshal, wire } from '@sealkeep/tpm';
import { importJobQualifyingData as qualifyingDataFor } from '@sealkeep/crypto';
import { decodeBase64url, fail } from './evidence-input.js';

/** The certify qualifying data for a job and the nonce as sent (base64url); the format is @sealkeep/crypto's. */
export function importJobQualifyingData(importJobId: string, nonce: string): Buffer {
  return qualifyingDataFor(importJobId, decodeBase64url(nonce, 'the nonce'));
}

export interface PublicArea {
  /** The marshaled TPMT_PUBLIC, as the Name hashes it. */
  bytes: Buffer;
  area: wire.TPMT_PUBLIC;
}

export function decodePublicArea(bytes: Buffer, what: string): PublicArea {
  try {
    return { bytes, area: unmarshal(wire.TPMT_PUBLIC, bytes) };
  } catch (e) {
    return fail(`${what} is not a TPMT_PUBLIC (${(e as Error).message})`);
  }
}

/** The TPM Name of a public area: nameAlg (UINT16, big-endian) ‖ SHA-256(TPMT_PUBLIC). */
export function nameOf({ bytes, area }: PublicArea): Buffer {
  if (area.nameAlg !== TPM_ALG.SHA256) fail(`the key's nameAlg is 0x${area.nameAlg.toString(16)}, not SHA-256`);
  const alg = Buffer.alloc(2);
  alg.writeUInt16BE(area.nameAlg);
  return Buffer.concat([alg, createHash('sha256').update(bytes).digest()]);
}

export function publicKeyOf(area: wire.TPMT_PUBLIC, what: string): KeyObject {
  try {
    return publicKeyOfArea(area);
  } catch (e) {
    return fail(`${what} is not a usable public key (${(e as Error).message})`);
  }
}

/** The certified Name and qualifying data of a TPMS_ATTEST, once magic and type are checked. */
export function decodeCertifyAttest(attest: Buffer): { extraData: Buffer; certifiedName: Buffer } {
  if (attest.length < 6) fail(`certify.attest is ${attest.length} bytes: too short for a TPMS_ATTEST`);
  const magic = attest.readUInt32BE(0);
  const type = attest.readUInt16BE(4);
  if (magic !== TPM_GENERATED_VALUE) fail(`the attestation's magic is 0x${magic.toString(16)}, not TPM_GENERATED_VALUE: the TPM did not make it`);
  if (type !== TPM_ST.ATTEST_CERTIFY) fail(`the attestation's type is 0x${type.toString(16)}, not TPM_ST_ATTEST_CERTIFY`);
  let decoded: wire.TPMS_ATTEST;
  try {
    decoded = unmarshal(wire.TPMS_ATTEST, attest);
  } catch (e) {
    return fail(`certify.attest is not a TPMS_ATTEST (${(e as Error).message})`);
  }
  return { extraData: decoded.extraData, certifiedName: (decoded.attested as wire.TPMS_CERTIFY_INFO).name };
}

/** Field size of the curves an AK may be on, for the fixed-width (IEEE P1363) signature form. */
const CURVE_BYTES: Record<string, number> = { prime256v1: 32, secp384r1: 48 };

/** Throw unless `signature` (a TPMT_SIGNATURE) is the AK's ECDSA-SHA-256 signature over `attest`. */
export function checkAttestSignature(attest: Buffer, signatureBytes: Buffer, akPublicKey: KeyObject): void {
  let signature: wire.TPMT_SIGNATURE;
  try {
    signature = unmarshal(wire.TPMT_SIGNATURE, signatureBytes);
  } catch (e) {
    return fail(`certify.signature is not a TPMT_SIGNATURE (${(e as Error).message})`);
  }
  if (signature.sigAlg !== TPM_ALG.ECDSA) fail(`the signature is not ECDSA (sigAlg 0x${signature.sigAlg.toString(16)})`);
  const ecdsa = signature.signature as wire.TPMS_SIGNATURE_ECC;
  if (ecdsa.hash !== TPM_ALG.SHA256) fail(`the signature's hash is 0x${ecdsa.hash.toString(16)}, not SHA-256`);
  const size = CURVE_BYTES[akPublicKey.asymmetricKeyDetails?.namedCurve ?? ''];
  if (!size) fail('the attestation key is not an ECC P-256 or P-384 key');
  const fixed = (v: Buffer) => (v.length > size ? fail('the signature values are longer than the curve') : Buffer.concat([Buffer.alloc(size - v.length), v]));
  const p1363 = Buffer.concat([fixed(ecdsa.signatureR), fixed(ecdsa.signatureS)]);
  if (!verify('sha256', attest, { key: akPublicKey, dsaEncoding: 'ieee-p1363' }, p1363)) {
    fail('the certify signature does not verify with the attestation key');
  }
}
