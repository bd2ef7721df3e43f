// TPM2_Import — Part 3 §13.3, Part 1 §23.3: bring a duplication blob under a loaded storage
// parent. The outer wrapper's seed is recovered from inSymSeed with the parent's private key
// ("DUPLICATE"), the inner wrapper opens with encryptionKey; any tampering is TPM_RC_INTEGRITY
// on duplicate. The result is an ordinary TPM2B_PRIVATE under the parent, ready for TPM2_Load.
import { TPM_CC } from '../../wire/command-codes.js';
import { TPM_ALG, TPM_RC, TPMA_OBJECT } from '../../wire/constants.js';
import { rcHandle, rcParam } from '../../wire/rc.js';
import {
  TPM2B_DATA,
  TPM2B_ENCRYPTED_SECRET,
  TPM2B_PRIVATE,
  TPM2B_PUBLIC,
  TPMI_DH_OBJECT,
  TPMT_SYM_DEF_OBJECT,
} from '../../wire/types/index.js';
import { recoverSeed } from '../../crypto/secret-sharing.js';
import { defineCommand, fail } from '../../engine/command.js';
import { isStorageParent, loadObject, validateKeys } from '../../engine/keys.js';
import { objectName } from '../../engine/names.js';
import { wrapPrivate } from '../../engine/private-area.js';
import { crypto } from '../asymmetric/crypto-rc.js';
import { sharingKeyOf } from '../asymmetric/key-material.js';
import { duplicateToSensitive } from './duplication-blob.js';

/** Parameter numbers of objectPublic and duplicate, for load-time checks. */
const BLAME = { public: 2, sensitive: 3 };

export const Import = defineCommand({
  name: 'Import',
  code: TPM_CC.Import,
  handles: { parentHandle: { codec: TPMI_DH_OBJECT, auth: 'USER' } },
  params: {
    encryptionKey: TPM2B_DATA,
    objectPublic: TPM2B_PUBLIC,
    duplicate: TPM2B_PRIVATE,
    inSymSeed: TPM2B_ENCRYPTED_SECRET,
    symmetricAlg: TPMT_SYM_DEF_OBJECT.plus,
  },
  response: { outPrivate: TPM2B_PRIVATE },
  execute(tpm, { parentHandle }, { encryptionKey, objectPublic, duplicate, inSymSeed, symmetricAlg }) {
    const attrs = objectPublic.objectAttributes;
    if ((attrs & (TPMA_OBJECT.fixedTPM | TPMA_OBJECT.fixedParent)) !== 0) fail(rcParam(TPM_RC.ATTRIBUTES, 2));
    const parent = tpm.objects.get(parentHandle);
    if (!isStorageParent(parent)) fail(rcHandle(TPM_RC.TYPE, 1));

    const encryptedDuplication = (attrs & TPMA_OBJECT.encryptedDuplication) !== 0;
    const inner = symmetricAlg.algorithm !== TPM_ALG.NULL;
    if (inner) {
      if (encryptionKey.length !== (symmetricAlg.keyBits as number) / 8) fail(rcParam(TPM_RC.SIZE, 1));
    } else {
      if (encryptionKey.length !== 0) fail(rcParam(TPM_RC.SIZE, 1));
      if (encryptedDuplication) fail(rcParam(TPM_RC.ATTRIBUTES, 1));
    }

    let seed: Buffer | null = null;
    if (inSymSeed.length !== 0) {
      // Recovering a seed takes an asymmetric parent.
      if (parent.public.type === TPM_ALG.SYMCIPHER) fail(rcHandle(TPM_RC.TYPE, 1));
      seed = crypto({ param: 4 }, () => recoverSeed(sharingKeyOf(parent), 'DUPLICATE', inSymSeed));
    } else if (encryptedDuplication) {
      fail(rcParam(TPM_RC.ATTRIBUTES, 4));
    }

    const name = objectName(objectPublic);
    const sensitive = crypto({ param: 3 }, () =>
      duplicateToSensitive(duplicate, {
        name,
        nameAlg: objectPublic.nameAlg,
        outer: seed ? { parent, seed } : null,
        innerKey: inner ? encryptionKey : null,
      }),
    );
    // Checked now as TPM2_Load will check it (the reference does so under a fixedTPM parent; we always
    // do), so a blob that imports also loads.
    validateKeys(objectPublic, sensitive, BLAME);
    const object = loadObject(objectPublic, sensitive, { parent, hierarchy: parent.hierarchy, blame: BLAME });
    return { outPrivate: wrapPrivate(tpm, parent, object) };
  },
});
