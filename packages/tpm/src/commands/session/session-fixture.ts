// Test support for sessions and policies: start a session through TPM2_StartAuthSession and
// track it client-side, run trial policies, and make sealed objects bound to a policy.

import { TPM_ALG, TPM_RH, TPM_SE } from '../../wire/constants.js';
import type { TPMT_PUBLIC } from '../../wire/types/index.js';
import { ClientSession, password } from '../../client/auth.js';
import type { TpmClient } from '../../client/client.js';
import { StartAuthSession } from './index.js';
import { Create, Load } from '../object/index.js';
import { EMPTY, keyedHash, NO_PCRS, NULL_SYM, PW } from '../object/object-fixture.js';
import { TPMA_OBJECT as A } from '../../wire/attribute-bits.js';

export interface StartOptions {
  hashAlg?: number;
  symmetric?: { algorithm: number; keyBits: number | null; mode: number | null };
  bind?: { handle: number; name: Buffer; authValue: Buffer };
  tpmKey?: number;
  salt?: Buffer;
  encryptedSalt?: Buffer;
  nonceCaller?: Buffer;
}

export async function startSession(client: TpmClient, type: number, opts: StartOptions = {}): Promise<ClientSession> {
  const hashAlg = opts.hashAlg ?? TPM_ALG.SHA256;
  const nonceCaller = opts.nonceCaller ?? ClientSession.newNonce(hashAlg);
  const r = await client.call(
    StartAuthSession,
    { tpmKey: opts.tpmKey ?? TPM_RH.NULL, bind: opts.bind?.handle ?? TPM_RH.NULL },
    { nonceCaller, encryptedSalt: opts.encryptedSalt ?? EMPTY, sessionType: type, symmetric: (opts.symmetric ?? NULL_SYM) as never, authHash: hashAlg },
  );
  return ClientSession.started({ handle: r.sessionHandle, type, hashAlg, nonceCaller, nonceTPM: r.nonceTPM }, { bind: opts.bind, salt: opts.salt, symmetric: opts.symmetric });
}

export const trialSession = (client: TpmClient) => startSession(client, TPM_SE.TRIAL);
export const policySessionFor = (client: TpmClient) => startSession(client, TPM_SE.POLICY);

/** A sealed data object under `parent` whose authPolicy is `policy` (userWithAuth clear: policy only). */
export async function sealTo(client: TpmClient, parent: number, data: Buffer, policy: Buffer, opts: { userAuth?: Buffer; attrs?: number } = {}) {
  const template: TPMT_PUBLIC = { ...keyedHash(opts.attrs ?? A.fixedTPM | A.fixedParent), authPolicy: policy };
  const created = await client.call(
    Create,
    { parentHandle: parent },
    { inSensitive: { userAuth: opts.userAuth ?? EMPTY, data }, inPublic: template, outsideInfo: EMPTY, creationPCR: NO_PCRS },
    PW,
  );
  const loaded = await client.call(Load, { parentHandle: parent }, { inPrivate: created.outPrivate, inPublic: created.outPublic }, { auth: [password()] });
  return { handle: loaded.objectHandle, name: loaded.name };
}
