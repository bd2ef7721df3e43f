// The arithmetic of the service's measured start, shared by the service (which seals and
// unseals its root), the operator's approval command, and reviewers checking measurements offline.
//
// The service's launch leaves, in the SHA-256 bank (each PCR extended once from zero):
//   PCR 17 = H(0³² || H(SERVICE_SINIT))   PCR 18 = H(0³² || codeDigest)   PCR 19 = H(0³² || configurationDigest)
// The root key is sealed with the policy
//   PolicyOR( PolicyPCR(17,18,19 at first start),  PolicyAuthorize(approver key, policyRef "") )
// so it unseals under the measurements it was created with, or under any PolicyPCR digest the
// approver signed: approval = ES256 over (approvedPolicy || policyRef), which TPM2_VerifySignature
// checks as a SHA-256 digest and TPM2_PolicyAuthorize accepts through the ticket.

import { createHash, sign, verify, type JsonWebKey, type KeyObject } from 'node:crypto';
import { marshal, TPM_ALG, TPM_CC, TPM_ECC_CURVE, TPMA_OBJECT, wire } from '@sealkeep/tpm';

/** The launch environment the service's PCR 17 records (stands for a SINIT ACM). */
export const SERVICE_SINIT = Buffer.from('sealkeep service launch environment v1', 'utf8');
export const SERVICE_PCRS = [17, 18, 19] as const;
export const SERVICE_PCR_SELECTION: wire.TPML_PCR_SELECTION = [wire.pcrSelection(TPM_ALG.SHA256, SERVICE_PCRS)];
/** The approvals' policyRef: empty (one approver, one meaning). */
export const APPROVAL_POLICY_REF = Buffer.alloc(0);

const ZERO = Buffer.alloc(32);
const sha256 = (...parts: Buffer[]) => parts.reduce((h, p) => h.update(p), createHash('sha256')).digest();
const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
};

export interface ServiceDigests {
  /** SHA-256 of the code manifest (hex). */
  codeDigest: string;
  /** SHA-256 of the canonical configuration document (hex). */
  configurationDigest: string;
}

/** PCR 17, 18, 19 (SHA-256 bank) after a good launch of a service with these digests. */
export function expectedServicePcrs(d: ServiceDigests): Buffer[] {
  return [sha256(SERVICE_SINIT), Buffer.from(d.codeDigest, 'hex'), Buffer.from(d.configurationDigest, 'hex')].map((m) => sha256(ZERO, m));
}

/** TPM2_PolicyPCR's digest from a fresh session over PCRs 17–19 holding `values`. */
export function pcrPolicyDigest(values: Buffer[]): Buffer {
  return sha256(ZERO, u32(TPM_CC.PolicyPCR), marshal(wire.TPML_PCR_SELECTION, SERVICE_PCR_SELECTION), sha256(...values));
}

/** The policy an approver signs for a configuration: PolicyPCR over its expected PCRs. */
export const approvedPolicyFor = (d: ServiceDigests): Buffer => pcrPolicyDigest(expectedServicePcrs(d));

/** The bytes an approval signs (ES256 hashes them to aHash = H(approvedPolicy || policyRef)). */
export const approvalMessage = (approvedPolicy: Buffer): Buffer => Buffer.concat([approvedPolicy, APPROVAL_POLICY_REF]);

/** The approver's P-256 public key as the TPM loads it (TPM2_LoadExternal): ECDSA-SHA256 signing. */
export function approverPublicArea(jwk: JsonWebKey): wire.TPMT_PUBLIC {
  if (jwk.kty !== 'EC' || jwk.crv !== 'P-256' || !jwk.x || !jwk.y) throw new TypeError('the configuration approver needs an EC P-256 key (ES256)');
  return {
    type: TPM_ALG.ECC,
    nameAlg: TPM_ALG.SHA256,
    objectAttributes: (TPMA_OBJECT.sign | TPMA_OBJECT.userWithAuth) >>> 0,
    authPolicy: Buffer.alloc(0),
    parameters: {
      symmetric: { algorithm: TPM_ALG.NULL, keyBits: null, mode: null },
      scheme: { scheme: TPM_ALG.ECDSA, details: { hashAlg: TPM_ALG.SHA256 } },
      curveID: TPM_ECC_CURVE.NIST_P256,
      kdf: { scheme: TPM_ALG.NULL, details: null },
    },
    unique: { x: Buffer.from(jwk.x, 'base64url'), y: Buffer.from(jwk.y, 'base64url') },
  } as wire.TPMT_PUBLIC;
}

/** The TPM Name of the approver's key: nameAlg || H(TPMT_PUBLIC). */
export function approverName(jwk: JsonWebKey): Buffer {
  const alg = Buffer.alloc(2);
  alg.writeUInt16BE(TPM_ALG.SHA256);
  return Buffer.concat([alg, sha256(marshal(wire.TPMT_PUBLIC, approverPublicArea(jwk)))]);
}

/** PolicyAuthorize's digest: what a session holds after an approved policy was accepted. */
export const authorizeBranch = (name: Buffer): Buffer => sha256(sha256(ZERO, u32(TPM_CC.PolicyAuthorize), name), APPROVAL_POLICY_REF);

/** The branches of the root key's PolicyOR, in order: [first-start PolicyPCR, PolicyAuthorize]. */
export function rootPolicyBranches(firstStart: ServiceDigests, approver: JsonWebKey): [Buffer, Buffer] {
  return [approvedPolicyFor(firstStart), authorizeBranch(approverName(approver))];
}

/** The root key's authPolicy. */
export function rootPolicy(firstStart: ServiceDigests, approver: JsonWebKey): Buffer {
  return sha256(ZERO, u32(TPM_CC.PolicyOR), ...rootPolicyBranches(firstStart, approver));
}

/** The approver's signature of a configuration: ES256 over approvalMessage, r||s (64 bytes). */
export function signConfigurationApproval(approverKey: KeyObject, d: ServiceDigests): Buffer {
  return sign('sha256', approvalMessage(approvedPolicyFor(d)), { key: approverKey, dsaEncoding: 'ieee-p1363' });
}

/** Check an approval offline, as the TPM will (reviewers, and the approval command before it stores one). */
export function verifyConfigurationApproval(approver: KeyObject, d: ServiceDigests, signature: Buffer): boolean {
  return signature.length === 64 && verify('sha256', approvalMessage(approvedPolicyFor(d)), { key: approver, dsaEncoding: 'ieee-p1363' }, signature);
}
