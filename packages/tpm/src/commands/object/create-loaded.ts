// TPM2_CreateLoaded — Part 3 §12.9: create an object and load it in one step. Under a
// hierarchy it is a primary object (as CreatePrimary, no private area returned); under a
// storage parent an ordinary object. Derived objects (under a derivation parent) are not
// implemented: such a parent is TPM_RC_TYPE.
import { TPM_CC } from '../../wire/command-codes.js';
import { unmarshal } from '../../wire/codec.js';
import { TPM_HT, TPM_RC } from '../../wire/constants.js';
import { rcHandle } from '../../wire/rc.js';
import {
  TPM2B_NAME,
  TPM2B_PRIVATE,
  TPM2B_PUBLIC,
  TPM2B_SENSITIVE_CREATE,
  TPM2B_TEMPLATE,
  TPM_HANDLE,
  TPMI_DH_PARENT,
  TPMT_PUBLIC,
} from '../../wire/types/index.js';
import { defineCommand, fail } from '../../engine/command.js';
import { blameParam, createObject, isStorageParent } from '../../engine/keys.js';
import { wrapPrivate } from '../../engine/private-area.js';

export const CreateLoaded = defineCommand({
  name: 'CreateLoaded',
  code: TPM_CC.CreateLoaded,
  handles: { parentHandle: { codec: TPMI_DH_PARENT.plus, auth: 'USER' } },
  params: { inSensitive: TPM2B_SENSITIVE_CREATE, inPublic: TPM2B_TEMPLATE },
  responseHandles: { objectHandle: { codec: TPM_HANDLE } },
  response: { outPrivate: TPM2B_PRIVATE, outPublic: TPM2B_PUBLIC, name: TPM2B_NAME },
  execute(tpm, { parentHandle }, { inSensitive, inPublic }) {
    const template = blameParam(2, () => unmarshal(TPMT_PUBLIC, inPublic));
    if (parentHandle >>> 24 === TPM_HT.PERMANENT) {
      if (!tpm.hierarchy.isEnabled(parentHandle)) fail(rcHandle(TPM_RC.HIERARCHY, 1));
      const obj = createObject(tpm, {
        template,
        sensitive: inSensitive,
        parent: null,
        hierarchy: parentHandle,
        derivation: { seed: tpm.hierarchy.seed(parentHandle) },
      });
      return { objectHandle: tpm.objects.load(obj), outPrivate: Buffer.alloc(0), outPublic: obj.public, name: obj.name };
    }
    const parent = tpm.objects.get(parentHandle);
    if (!isStorageParent(parent)) fail(rcHandle(TPM_RC.TYPE, 1));
    const obj = createObject(tpm, { template, sensitive: inSensitive, parent, hierarchy: parent.hierarchy });
    const outPrivate = wrapPrivate(tpm, parent, obj);
    return { objectHandle: tpm.objects.load(obj), outPrivate, outPublic: obj.public, name: obj.name };
  },
});
