// Attestation (Part 3 §18 "Attestation Commands", Part 2 §10.12 TPMS_ATTEST): choosing the key
// and scheme that sign, the fields every TPMS_ATTEST carries (magic, the signer's Qualified
// Name, extraData, clock and firmware version — obfuscated when the signer is outside the
// endorsement and platform hierarchies, Part 1 §36.8 / reference FillInAttestInfo), and
// signing the marshaled structure (reference SignAttestInfo).

import { marshal } from '../wire/codec.js';
import { TPM_ALG, TPM_GENERATED_VALUE, TPM_RC, TPM_RH } from '../wire/constants.js';
import { rcHandle, rcParam } from '../wire/rc.js';
import {
  TPMS_ATTEST,
  pcrIndices,
  pcrBitmap,
  type TPML_PCR_SELECTION,
  type TPMS_CLOCK_INFO,
  type TPMT_SIG_SCHEME,
  type TPMT_SIGNATURE,
} from '../wire/types/index.js';
import { digest } from '../crypto/hash.js';
import { kdfa } from '../crypto/kdf.js';
import { fail } from './command.js';
import type { TpmObject } from './objects.js';
import { isSigningKey, selectSignScheme, signDigest } from './signatures.js';
import { proof } from './tickets.js';
import type { Tpm } from './tpm.js';

/** TPM_PT_FIRMWARE_VERSION_1 and _2 (Part 2 §6.13): the version this TPM reports and attests. */
export const FIRMWARE_VERSION_1 = 0x00010000;
export const FIRMWARE_VERSION_2 = 0;
export const FIRMWARE_VERSION = (BigInt(FIRMWARE_VERSION_1) << 32n) | BigInt(FIRMWARE_VERSION_2);

/** The key that signs an attestation (null for TPM_RH_NULL: an unsigned structure) and its scheme. */
export interface AttestationSigner {
  readonly key: TpmObject | null;
  readonly scheme: TPMT_SIG_SCHEME;
}

/** Where the command's signHandle and inScheme sit, so errors name them. */
export interface SignerPosition {
  readonly handle: number;
  readonly param: number;
}

/**
 * Resolve signHandle and inScheme (reference IsSigningObject, CryptSelectSignScheme): a key that
 * may not sign is TPM_RC_KEY on the handle; no usable scheme is TPM_RC_SCHEME on inScheme.
 * TPM_RH_NULL signs nothing, with the NULL scheme whatever inScheme says.
 */
export function attestationSigner(tpm: Tpm, signHandle: number, inScheme: TPMT_SIG_SCHEME, at: SignerPosition): AttestationSigner {
  if (signHandle === TPM_RH.NULL) return { key: null, scheme: { scheme: TPM_ALG.NULL, details: null } };
  const key = tpm.objects.get(signHandle);
  if (!isSigningKey(key)) fail(rcHandle(TPM_RC.KEY, at.handle));
  const scheme = selectSignScheme(key, inScheme) ?? fail(rcParam(TPM_RC.SCHEME, at.param));
  return { key, scheme };
}

/** The current clock as TPMS_CLOCK_INFO (reference TimeFillInfo). */
export function clockInfo(tpm: Tpm): TPMS_CLOCK_INFO {
  const c = tpm.clock;
  return { clock: c.clock(), resetCount: c.resetCount, restartCount: c.restartCount, safe: c.safe ? 1 : 0 };
}

function handleBytes(h: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(h >>> 0);
  return b;
}

/**
 * Keys outside the endorsement and platform hierarchies could otherwise be used to correlate a
 * TPM's resets and firmware across owners (Part 1 §36.8): add KDFa(SHA256, shProof, "OBFUSCATE",
 * qualifiedSigner, NULL, 128) — the first 64 bits to firmwareVersion, the next two 32-bit
 * halves to resetCount and restartCount. Stable for one owner; TPM2_Clear changes it.
 */
function obfuscate(tpm: Tpm, qualifiedSigner: Buffer, clock: TPMS_CLOCK_INFO, firmware: bigint) {
  const mask = kdfa(TPM_ALG.SHA256, proof(tpm, TPM_RH.OWNER), 'OBFUSCATE', qualifiedSigner, null, 128);
  return {
    clockInfo: {
      ...clock,
      resetCount: (clock.resetCount + mask.readUInt32BE(8)) >>> 0,
      restartCount: (clock.restartCount + mask.readUInt32BE(12)) >>> 0,
    },
    firmwareVersion: BigInt.asUintN(64, firmware + mask.readBigUInt64BE(0)),
  };
}

/** What a command attests: the TPMS_ATTEST type and its attested member. */
export type AttestedBody = Pick<TPMS_ATTEST, 'type' | 'attested'>;

/** A TPMS_ATTEST with the common fields filled in (reference FillInAttestInfo). */
export function buildAttest(tpm: Tpm, signer: AttestationSigner, qualifyingData: Buffer, body: AttestedBody): TPMS_ATTEST {
  const qualifiedSigner = signer.key ? signer.key.qualifiedName : handleBytes(TPM_RH.NULL);
  const hierarchy = signer.key?.hierarchy ?? TPM_RH.NULL;
  const plain = hierarchy === TPM_RH.ENDORSEMENT || hierarchy === TPM_RH.PLATFORM;
  const { clockInfo: clock, firmwareVersion } = plain
    ? { clockInfo: clockInfo(tpm), firmwareVersion: FIRMWARE_VERSION }
    : obfuscate(tpm, qualifiedSigner, clockInfo(tpm), FIRMWARE_VERSION);
  return {
    magic: TPM_GENERATED_VALUE,
    type: body.type,
    qualifiedSigner,
    extraData: qualifyingData,
    clockInfo: clock,
    firmwareVersion,
    attested: body.attested,
  };
}

/**
 * Marshal and sign (reference SignAttestInfo): the signature covers H_scheme(marshaled
 * TPMS_ATTEST). The qualifying data is inside the structure, so nothing else is hashed.
 */
export function signAttest(signer: AttestationSigner, attest: TPMS_ATTEST): { attest: Buffer; signature: TPMT_SIGNATURE } {
  const bytes = marshal(TPMS_ATTEST, attest);
  if (!signer.key) return { attest: bytes, signature: { sigAlg: TPM_ALG.NULL, signature: null } };
  const hashAlg = signer.scheme.details?.hashAlg ?? TPM_ALG.NULL;
  return { attest: bytes, signature: signDigest(signer.key, signer.scheme, digest(hashAlg, bytes)) };
}

/** buildAttest then signAttest: what each attestation command returns. */
export function attestAndSign(tpm: Tpm, signer: AttestationSigner, qualifyingData: Buffer, body: AttestedBody) {
  return signAttest(signer, buildAttest(tpm, signer, qualifyingData, body));
}

/**
 * The PCRs a quote covers and their digest (reference PCRComputeCurrentDigest): banks this TPM
 * does not keep and PCRs beyond its count are dropped from the selection; the digest is
 * H_hashAlg over the selected values, bank by bank in the caller's order, PCRs ascending.
 */
export function quotePcrs(tpm: Tpm, hashAlg: number, selection: TPML_PCR_SELECTION) {
  const values: Buffer[] = [];
  const pcrSelect = selection.map((sel) => {
    const taken = tpm.pcr.supports(sel.hash) ? pcrIndices(sel.pcrSelect).filter((i) => i < tpm.pcr.count) : [];
    for (const i of taken) values.push(tpm.pcr.read(sel.hash, i));
    return { hash: sel.hash, pcrSelect: pcrBitmap(taken, sel.pcrSelect.length) };
  });
  return { pcrSelect, pcrDigest: digest(hashAlg, ...values) };
}
