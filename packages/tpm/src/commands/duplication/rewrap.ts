// TPM2_Rewrap — Part 3 §13.2: the TPM as a migration authority. The outer wrapper of a
// duplication blob made for oldParent is removed and one for newParent put on, with a fresh
// "DUPLICATE" seed; the inner wrapper and the sensitive area are never opened. Either parent
// may be TPM_RH_NULL (no outer wrapper on that side), and inSymSeed must agree with oldParent.
import { TPM_CC } from '../../wire/command-codes.js';
import { TPM_RC, TPM_RH } from '../../wire/constants.js';
import { rcHandle, rcParam } from '../../wire/rc.js';
import { TPM2B_ENCRYPTED_SECRET, TPM2B_NAME, TPM2B_PRIVATE, TPMI_DH_OBJECT } from '../../wire/types/index.js';
import { PRIVATE_SIZE } from '../../wire/limits.js';
import { CryptoFailure } from '../../crypto/errors.js';
import { digestSize } from '../../crypto/hash.js';
import { unwrapOuter, wrapOuter } from '../../crypto/protection.js';
import { createSeed, recoverSeed } from '../../crypto/secret-sharing.js';
import { defineCommand, fail, TpmFault } from '../../engine/command.js';
import { crypto } from '../asymmetric/crypto-rc.js';
import { sharingKeyOf, sharingRecipientOf } from '../asymmetric/key-material.js';
import { isStorageKey, outerProtection } from './duplication-blob.js';

export const Rewrap = defineCommand({
  name: 'Rewrap',
  code: TPM_CC.Rewrap,
  handles: { oldParent: { codec: TPMI_DH_OBJECT.plus, auth: 'USER' }, newParent: { codec: TPMI_DH_OBJECT.plus } },
  params: { inDuplicate: TPM2B_PRIVATE, name: TPM2B_NAME, inSymSeed: TPM2B_ENCRYPTED_SECRET },
  response: { outDuplicate: TPM2B_PRIVATE, outSymSeed: TPM2B_ENCRYPTED_SECRET },
  execute(tpm, { oldParent, newParent }, { inDuplicate, name, inSymSeed }) {
    if ((inSymSeed.length === 0) !== (oldParent === TPM_RH.NULL)) fail(rcHandle(TPM_RC.HANDLE, 1));
    let inner = inDuplicate;
    if (oldParent !== TPM_RH.NULL) {
      const old = tpm.objects.get(oldParent);
      if (!isStorageKey(old.public)) fail(rcHandle(TPM_RC.TYPE, 1));
      let seed: Buffer;
      try {
        seed = recoverSeed(sharingKeyOf(old), 'DUPLICATE', inSymSeed);
      } catch (e) {
        // The reference reports any failure to recover the seed as TPM_RC_VALUE on inSymSeed.
        if (e instanceof CryptoFailure || e instanceof TpmFault) fail(rcParam(TPM_RC.VALUE, 3));
        throw e;
      }
      inner = crypto({ param: 1 }, () => unwrapOuter(outerProtection(old, seed, name), inDuplicate));
    }
    if (newParent === TPM_RH.NULL) return { outDuplicate: inner, outSymSeed: Buffer.alloc(0) };
    const target = tpm.objects.get(newParent);
    if (!isStorageKey(target.public)) fail(rcHandle(TPM_RC.TYPE, 2));
    // An outer wrapper adds a sized digest; the result must still fit a TPM2B_PRIVATE.
    if (inner.length + 2 + digestSize(target.public.nameAlg) > PRIVATE_SIZE) fail(rcParam(TPM_RC.VALUE, 1));
    const shared = crypto('bare', () => createSeed(sharingRecipientOf(target), 'DUPLICATE'));
    const outDuplicate = wrapOuter(outerProtection(target, shared.seed, name), inner);
    return { outDuplicate, outSymSeed: shared.encryptedSecret };
  },
});
