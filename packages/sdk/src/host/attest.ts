// The host side of attestation, as a hypervisor adapter runs it against its own TPM:
//   1. ask the service for a challenge, naming the AK and the adapter's public key;
//   2. open the credential with TPM2_ActivateCredential (the EK authorised by the TCG default
//      policy, PolicySecret(TPM_RH_ENDORSEMENT), in a policy session);
//   3. quote with the challenge's nonce and send the secret and the evidence bundle under a
//      request proof signed by the adapter key.
// The answer names the adapter's data-plane principal and how long its attestation holds.

import type { KeyObject } from 'node:crypto';
import { ClientSession, commands, endorsementKeyTemplate, password, TPM_ALG, TPM_RH, TPM_SE, type TpmClient } from '@sealkeep/tpm';
import { publicJwk } from '@sealkeep/crypto';
import { selfSignedRequest } from '../client.js';

const EMPTY = Buffer.alloc(0);

export interface HostChallenge {
  challengeId: string;
  credentialBlob: string;
  encryptedSecret: string;
  /** Hex: the quote must carry it in extraData. */
  nonce: string;
  expiresAt: string;
}

export interface HostAttestation {
  hostId: string;
  principalId: string;
  attestedUntil: string;
}

/** TPM2_ActivateCredential with the TCG default ECC EK (its policy satisfied in a fresh session). */
export async function activateCredential(client: TpmClient, akHandle: number, challenge: Pick<HostChallenge, 'credentialBlob' | 'encryptedSecret'>, endorsementAuth: Buffer = EMPTY): Promise<Buffer> {
  const ek = await client.call(
    commands.CreatePrimary,
    { primaryHandle: TPM_RH.ENDORSEMENT },
    { inSensitive: { userAuth: EMPTY, data: EMPTY }, inPublic: endorsementKeyTemplate('eccP256'), outsideInfo: EMPTY, creationPCR: [] },
    { auth: [password(endorsementAuth)] },
  );
  const nonceCaller = ClientSession.newNonce(TPM_ALG.SHA256);
  const started = await client.call(
    commands.StartAuthSession,
    { tpmKey: TPM_RH.NULL, bind: TPM_RH.NULL },
    { nonceCaller, encryptedSalt: EMPTY, sessionType: TPM_SE.POLICY, symmetric: { algorithm: TPM_ALG.NULL, keyBits: null, mode: null } as never, authHash: TPM_ALG.SHA256 },
  );
  const session = ClientSession.started({ handle: started.sessionHandle, type: TPM_SE.POLICY, hashAlg: TPM_ALG.SHA256, nonceCaller, nonceTPM: started.nonceTPM });
  try {
    await client.call(commands.PolicySecret, { authHandle: TPM_RH.ENDORSEMENT, policySession: session.handle }, { nonceTPM: EMPTY, cpHashA: EMPTY, policyRef: EMPTY, expiration: 0 }, { auth: [password(endorsementAuth)] });
    const { certInfo } = await client.call(
      commands.ActivateCredential,
      { activateHandle: akHandle, keyHandle: ek.objectHandle },
      { credentialBlob: Buffer.from(challenge.credentialBlob, 'base64') as never, secret: Buffer.from(challenge.encryptedSecret, 'base64') },
      { auth: [password(), session] },
    );
    return certInfo;
  } finally {
    await client.call(commands.FlushContext, {}, { flushHandle: session.handle }).catch(() => {});
    await client.call(commands.FlushContext, {}, { flushHandle: ek.objectHandle }).catch(() => {});
  }
}

export interface AttestOptions {
  /** The service's data-plane URL. */
  dataUrl: string;
  hostId: string;
  /** The adapter's private key: its data-plane identity once attested. */
  adapterKey: KeyObject;
  /** The AK's TPM2B_PUBLIC. */
  akPublic: Buffer;
  /** Opens the challenge's credential in the host TPM (activateCredential above, usually). */
  activate(challenge: HostChallenge): Promise<Buffer>;
  /** A fresh evidence bundle whose quote carries `nonce` (PCRs 17/18 at least, with the DRTM log). */
  evidence(nonce: Buffer): Promise<unknown>;
}

export async function attestToService(o: AttestOptions): Promise<HostAttestation> {
  const challenge = (await selfSignedRequest(o.dataUrl, o.adapterKey, 'POST', `/v1/hosts/${o.hostId}/attestation/challenge`, {
    akPublic: o.akPublic.toString('base64'),
    adapterJwk: publicJwk(o.adapterKey),
  })) as HostChallenge;
  const secret = await o.activate(challenge);
  const evidence = await o.evidence(Buffer.from(challenge.nonce, 'hex'));
  try {
    return (await selfSignedRequest(o.dataUrl, o.adapterKey, 'POST', `/v1/hosts/${o.hostId}/attestation`, {
      challengeId: challenge.challengeId,
      credential: secret.toString('base64'),
      evidence,
    })) as HostAttestation;
  } finally {
    secret.fill(0);
  }
}
