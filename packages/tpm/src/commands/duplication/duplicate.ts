// TPM2_Duplicate — Part 3 §13.1, Part 1 §23.3: a loaded object's sensitive area as a
// duplication blob for a new parent. Authorization is the DUP role (a policy session with
// PolicyCommandCode(TPM_CC_Duplicate) or PolicyDuplicationSelect). The outer wrapper's seed is
// secret-shared to newParent with the "DUPLICATE" label; with symmetricAlg an inner wrapper is
// added under encryptionKeyIn, or a key the TPM chooses and returns in encryptionKeyOut.
import { randomBytes } from 'node:crypto';
import { TPM_CC } from '../../wire/command-codes.js';
import { TPM_ALG, TPM_RC, TPM_RH, TPMA_OBJECT } from '../../wire/constants.js';
import { rcHandle, rcParam } from '../../wire/rc.js';
import { TPM2B_DATA, TPM2B_ENCRYPTED_SECRET, TPM2B_PRIVATE, TPMI_DH_OBJECT, TPMT_SYM_DEF_OBJECT } from '../../wire/types/index.js';
import { createSeed } from '../../crypto/secret-sharing.js';
import { defineCommand, fail } from '../../engine/command.js';
import { crypto } from '../asymmetric/crypto-rc.js';
import { sharingRecipientOf } from '../asymmetric/key-material.js';
import { isStorageKey, sensitiveToDuplicate } from './duplication-blob.js';

export const Duplicate = defineCommand({
  name: 'Duplicate',
  code: TPM_CC.Duplicate,
  handles: { objectHandle: { codec: TPMI_DH_OBJECT, auth: 'DUP' }, newParentHandle: { codec: TPMI_DH_OBJECT.plus } },
  params: { encryptionKeyIn: TPM2B_DATA, symmetricAlg: TPMT_SYM_DEF_OBJECT.plus },
  response: { encryptionKeyOut: TPM2B_DATA, duplicate: TPM2B_PRIVATE, outSymSeed: TPM2B_ENCRYPTED_SECRET },
  execute(tpm, { objectHandle, newParentHandle }, { encryptionKeyIn, symmetricAlg }) {
    const object = tpm.objects.get(objectHandle);
    const attrs = object.public.objectAttributes;
    if ((attrs & TPMA_OBJECT.fixedParent) !== 0) fail(rcHandle(TPM_RC.ATTRIBUTES, 1));
    if (object.public.nameAlg === TPM_ALG.NULL || !object.sensitive) fail(rcHandle(TPM_RC.TYPE, 1));
    const newParent = newParentHandle === TPM_RH.NULL ? null : tpm.objects.get(newParentHandle);
    if (newParent && !isStorageKey(newParent.public)) fail(rcHandle(TPM_RC.TYPE, 2));

    const inner = symmetricAlg.algorithm !== TPM_ALG.NULL;
    if ((attrs & TPMA_OBJECT.encryptedDuplication) !== 0) {
      if (!inner) fail(rcParam(TPM_RC.SYMMETRIC, 2));
      if (!newParent) fail(rcHandle(TPM_RC.HIERARCHY, 2));
    }
    const innerKeySize = inner ? (symmetricAlg.keyBits as number) / 8 : 0;
    if (encryptionKeyIn.length !== 0 && encryptionKeyIn.length !== innerKeySize) fail(rcParam(TPM_RC.SIZE, 1));

    const shared = newParent ? crypto('bare', () => createSeed(sharingRecipientOf(newParent), 'DUPLICATE')) : null;
    const tpmChoosesKey = inner && encryptionKeyIn.length === 0;
    const innerKey = !inner ? null : tpmChoosesKey ? randomBytes(innerKeySize) : encryptionKeyIn;
    const duplicate = sensitiveToDuplicate(object.sensitive, {
      name: object.name,
      nameAlg: object.public.nameAlg,
      outer: newParent && shared ? { parent: newParent, seed: shared.seed } : null,
      innerKey,
    });
    return {
      encryptionKeyOut: tpmChoosesKey ? innerKey! : Buffer.alloc(0),
      duplicate,
      outSymSeed: shared?.encryptedSecret ?? Buffer.alloc(0),
    };
  },
});
