// TPM2_StartAuthSession — Part 3 §11.1: start an HMAC, policy or trial session, optionally
// salted (a seed encrypted to tpmKey with the "SECRET" label, Part 1 §24) and bound to an entity
// whose authValue then joins the session key.
import { TPM_CC } from '../../wire/command-codes.js';
import { TPM_ALG, TPM_HT, TPM_RC, TPM_RH, TPMA_OBJECT } from '../../wire/constants.js';
import { TPM_NT } from '../../wire/attribute-bits.js';
import { rcHandle, rcParam } from '../../wire/rc.js';
import {
  TPM2B_ENCRYPTED_SECRET,
  TPM2B_NONCE,
  TPM_HANDLE,
  TPM_SE,
  TPMI_ALG_HASH,
  TPMI_DH_ENTITY,
  TPMI_DH_OBJECT,
  TPMT_SYM_DEF,
} from '../../wire/types/index.js';
import { digestSize } from '../../crypto/hash.js';
import { recoverSeed } from '../../crypto/secret-sharing.js';
import { CryptoFailure } from '../../crypto/errors.js';
import { defineCommand, fail, TpmFault } from '../../engine/command.js';
import { isDaExempt } from '../../engine/authorize.js';
import { handleType } from '../../engine/entities.js';
import type { BindEntity } from '../../engine/sessions.js';
import type { Tpm } from '../../engine/tpm.js';
import { sharingKeyOf } from '../asymmetric/key-material.js';

/** Reference CryptSecretDecrypt() for an asymmetric tpmKey; any failure is TPM_RC_VALUE on encryptedSalt. */
function recoverSalt(tpm: Tpm, tpmKey: number, encryptedSalt: Buffer): Buffer {
  const key = tpm.objects.get(tpmKey);
  const type = key.public.type;
  if (type !== TPM_ALG.RSA && type !== TPM_ALG.ECC) fail(rcHandle(TPM_RC.KEY, 1));
  if (encryptedSalt.length === 0) fail(rcParam(TPM_RC.VALUE, 2));
  if (!key.sensitive) fail(rcHandle(TPM_RC.HANDLE, 1));
  if ((key.public.objectAttributes & TPMA_OBJECT.decrypt) === 0) fail(rcHandle(TPM_RC.ATTRIBUTES, 1));
  let salt: Buffer;
  try {
    salt = recoverSeed(sharingKeyOf(key), 'SECRET', encryptedSalt);
  } catch (e) {
    if (e instanceof CryptoFailure || e instanceof TpmFault) fail(rcParam(TPM_RC.VALUE, 2));
    throw e;
  }
  if (salt.length > digestSize(key.public.nameAlg)) fail(rcParam(TPM_RC.VALUE, 2));
  return salt;
}

function bindEntity(tpm: Tpm, bind: number): BindEntity | null {
  if (bind === TPM_RH.NULL) return null;
  const ht = handleType(bind);
  if ((ht === TPM_HT.TRANSIENT || ht === TPM_HT.PERSISTENT) && !tpm.objects.get(bind).sensitive) fail(rcHandle(TPM_RC.HANDLE, 2));
  if (ht === TPM_HT.NV_INDEX) {
    const nt = (tpm.nv.get(bind).public.attributes >>> 4) & 0xf;
    if (nt === TPM_NT.PIN_PASS || nt === TPM_NT.PIN_FAIL) fail(rcHandle(TPM_RC.HANDLE, 2));
  }
  const entity = tpm.entities.resolve(bind);
  return { name: entity.name, authValue: entity.authValue, daProtected: !isDaExempt(entity), isLockout: bind === TPM_RH.LOCKOUT };
}

export const StartAuthSession = defineCommand({
  name: 'StartAuthSession',
  code: TPM_CC.StartAuthSession,
  handles: { tpmKey: { codec: TPMI_DH_OBJECT.plus }, bind: { codec: TPMI_DH_ENTITY.plus } },
  params: {
    nonceCaller: TPM2B_NONCE,
    encryptedSalt: TPM2B_ENCRYPTED_SECRET,
    sessionType: TPM_SE,
    symmetric: TPMT_SYM_DEF.plus,
    authHash: TPMI_ALG_HASH,
  },
  responseHandles: { sessionHandle: { codec: TPM_HANDLE } },
  response: { nonceTPM: TPM2B_NONCE },
  execute(tpm, { tpmKey, bind }, { nonceCaller, encryptedSalt, sessionType, symmetric, authHash }) {
    if (nonceCaller.length < 16 || nonceCaller.length > digestSize(authHash)) fail(rcParam(TPM_RC.SIZE, 1));
    let salt: Buffer = Buffer.alloc(0);
    if (tpmKey !== TPM_RH.NULL) salt = recoverSalt(tpm, tpmKey, encryptedSalt);
    else if (encryptedSalt.length !== 0) fail(rcParam(TPM_RC.VALUE, 2));
    const bound = bindEntity(tpm, bind);
    const { algorithm } = symmetric;
    if (algorithm !== TPM_ALG.NULL && algorithm !== TPM_ALG.XOR && symmetric.mode !== TPM_ALG.CFB) fail(rcParam(TPM_RC.MODE, 4));
    const session = tpm.sessions.start({
      type: sessionType,
      hashAlg: authHash,
      symmetric: { algorithm, keyBits: (symmetric.keyBits as number | null) ?? 0, mode: (symmetric.mode as number | null) ?? TPM_ALG.NULL },
      nonceCaller,
      salt,
      bind: bound,
      now: tpm.clock.time(),
    });
    return { sessionHandle: session.handle, nonceTPM: session.nonceTPM };
  },
});
