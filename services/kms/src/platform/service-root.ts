// The service root: 32 secret bytes the TPM releases only to a service whose measured launch
// (PCRs 17–19) is the one the root was created under, or one the configuration approver signed.
// Sealed under the SRK as a policy-only sealed-data object (no authValue path):
//
//   authPolicy = PolicyOR( PolicyPCR(first start), PolicyAuthorize(approver) )
//
// Unsealing runs one policy session: PolicyPCR over the current PCRs, then either PolicyOR
// directly (first-start measurements), or TPM2_VerifySignature of the approval with the
// approver's public key (TPM2_LoadExternal, owner hierarchy, so the ticket is real), then
// PolicyAuthorize and PolicyOR. Everything is checked by the TPM: a forged approval or PCRs that
// differ from the approved ones leave the session unsatisfied and the root sealed.

import { ClientSession, commands, marshal, password, TPM_ALG, TPM_RH, TPM_SE, TpmError, unmarshal, wire, sealedDataTemplate, type TpmClient } from '@sealkeep/tpm';
import type { JsonWebKey } from 'node:crypto';
import {
  approvalMessage,
  approvedPolicyFor,
  approverPublicArea,
  expectedServicePcrs,
  rootPolicy,
  rootPolicyBranches,
  SERVICE_PCR_SELECTION,
  type ServiceDigests,
} from '@sealkeep/attestation';
import { createHash } from 'node:crypto';
import { flush, type LoadedKey } from './host-tpm.js';

export const ROOT_SECRET_BYTES = 32;
const EMPTY = Buffer.alloc(0);

/** The sealed root as the store keeps it: public area and private blob, and what it is bound to. */
export interface SealedRoot {
  publicArea: Buffer;
  privateBlob: Buffer;
  approver: JsonWebKey;
  firstStart: ServiceDigests;
}

/** An approver's ES256 signature over approvalMessage(approvedPolicyFor(digests)), r||s. */
export interface Approval {
  digests: ServiceDigests;
  signature: Buffer;
}

export class RootSealedError extends Error {
  override name = 'RootSealedError';
}

const sameDigests = (a: ServiceDigests, b: ServiceDigests) => a.codeDigest === b.codeDigest && a.configurationDigest === b.configurationDigest;

/** Create a new root under the SRK; the secret comes from the TPM's RNG. */
export async function createRoot(client: TpmClient, srk: LoadedKey, firstStart: ServiceDigests, approver: JsonWebKey): Promise<{ sealed: SealedRoot; secret: Buffer }> {
  const { randomBytes: secret } = await client.call(commands.GetRandom, {}, { bytesRequested: ROOT_SECRET_BYTES });
  if (secret.length !== ROOT_SECRET_BYTES) throw new Error('the TPM returned too few random bytes');
  const created = await client.call(
    commands.Create,
    { parentHandle: srk.handle },
    { inSensitive: { userAuth: EMPTY, data: secret }, inPublic: sealedDataTemplate(rootPolicy(firstStart, approver)), outsideInfo: EMPTY, creationPCR: [] },
    { auth: [password()] },
  );
  return {
    sealed: { publicArea: marshal(wire.TPMT_PUBLIC, created.outPublic), privateBlob: created.outPrivate, approver, firstStart },
    secret,
  };
}

async function policySession(client: TpmClient): Promise<ClientSession> {
  const nonceCaller = ClientSession.newNonce(TPM_ALG.SHA256);
  const r = await client.call(
    commands.StartAuthSession,
    { tpmKey: TPM_RH.NULL, bind: TPM_RH.NULL },
    { nonceCaller, encryptedSalt: EMPTY, sessionType: TPM_SE.POLICY, symmetric: { algorithm: TPM_ALG.NULL, keyBits: null, mode: null } as never, authHash: TPM_ALG.SHA256 },
  );
  return ClientSession.started({ handle: r.sessionHandle, type: TPM_SE.POLICY, hashAlg: TPM_ALG.SHA256, nonceCaller, nonceTPM: r.nonceTPM });
}

/** Satisfy PolicyAuthorize with the approver's signature over the current configuration. */
async function authorize(client: TpmClient, session: number, sealed: SealedRoot, approval: Approval): Promise<void> {
  const approvedPolicy = approvedPolicyFor(approval.digests);
  const aHash = createHash('sha256').update(approvalMessage(approvedPolicy)).digest();
  const key = await client.call(commands.LoadExternal, {}, { inPrivate: null as never, inPublic: approverPublicArea(sealed.approver), hierarchy: TPM_RH.OWNER });
  try {
    const signature = { sigAlg: TPM_ALG.ECDSA, signature: { hash: TPM_ALG.SHA256, signatureR: approval.signature.subarray(0, 32), signatureS: approval.signature.subarray(32) } };
    const { validation } = await client.call(commands.VerifySignature, { keyHandle: key.objectHandle }, { digest: aHash, signature: signature as never });
    await client.call(commands.PolicyAuthorize, { policySession: session }, { approvedPolicy, policyRef: EMPTY, keySign: key.name, checkTicket: validation });
  } finally {
    await flush(client, key.objectHandle);
  }
}

/**
 * Unseal the root for a service measured as `current` (its PCRs already extended by the
 * launch). `approval` is needed unless `current` is the first start's configuration.
 */
export async function unsealRoot(client: TpmClient, srk: LoadedKey, sealed: SealedRoot, current: ServiceDigests, approval: Approval | null): Promise<Buffer> {
  const firstStart = sameDigests(current, sealed.firstStart);
  if (!firstStart && !(approval && sameDigests(approval.digests, current))) throw new RootSealedError('the current configuration is not approved');
  const loaded = await client.call(
    commands.Load,
    { parentHandle: srk.handle },
    { inPrivate: sealed.privateBlob, inPublic: unmarshal(wire.TPMT_PUBLIC, sealed.publicArea) },
    { auth: [password()] },
  );
  const session = await policySession(client);
  try {
    const pcrDigest = createHash('sha256').update(Buffer.concat(expectedServicePcrs(current))).digest();
    await client.call(commands.PolicyPCR, { policySession: session.handle }, { pcrDigest, pcrs: SERVICE_PCR_SELECTION });
    if (!firstStart) await authorize(client, session.handle, sealed, approval!);
    await client.call(commands.PolicyOR, { policySession: session.handle }, { pHashList: rootPolicyBranches(sealed.firstStart, sealed.approver) });
    const { outData } = await client.call(commands.Unseal, { itemHandle: loaded.objectHandle }, {}, { auth: [session] });
    return outData;
  } catch (e) {
    if (e instanceof TpmError) throw new RootSealedError(`the TPM refused to unseal the service root (${e.message})`);
    throw e;
  } finally {
    await flush(client, session.handle).catch(() => {});
    await flush(client, loaded.objectHandle).catch(() => {});
  }
}
