// TPM2_Create — Part 3 §12.1: an ordinary object under a loaded storage parent, returned as its
// public area and its private area protected by the parent (not loaded).
import { TPM_CC } from '../../wire/command-codes.js';
import { TPM_RC } from '../../wire/constants.js';
import { rcHandle } from '../../wire/rc.js';
import {
  TPM2B_CREATION_DATA,
  TPM2B_DATA,
  TPM2B_DIGEST,
  TPM2B_PRIVATE,
  TPM2B_PUBLIC,
  TPM2B_SENSITIVE_CREATE,
  TPMI_DH_OBJECT,
  TPML_PCR_SELECTION,
  TPMT_TK_CREATION,
} from '../../wire/types/index.js';
import { defineCommand, fail } from '../../engine/command.js';
import { createObject, creationData, isStorageParent } from '../../engine/keys.js';
import { wrapPrivate } from '../../engine/private-area.js';

export const Create = defineCommand({
  name: 'Create',
  code: TPM_CC.Create,
  handles: { parentHandle: { codec: TPMI_DH_OBJECT, auth: 'USER' } },
  params: {
    inSensitive: TPM2B_SENSITIVE_CREATE,
    inPublic: TPM2B_PUBLIC,
    outsideInfo: TPM2B_DATA,
    creationPCR: TPML_PCR_SELECTION,
  },
  response: {
    outPrivate: TPM2B_PRIVATE,
    outPublic: TPM2B_PUBLIC,
    creationData: TPM2B_CREATION_DATA,
    creationHash: TPM2B_DIGEST,
    creationTicket: TPMT_TK_CREATION,
  },
  execute(tpm, { parentHandle }, { inSensitive, inPublic, outsideInfo, creationPCR }, { locality }) {
    const parent = tpm.objects.get(parentHandle);
    if (!isStorageParent(parent)) fail(rcHandle(TPM_RC.TYPE, 1));
    const obj = createObject(tpm, { template: inPublic, sensitive: inSensitive, parent, hierarchy: parent.hierarchy });
    const creation = creationData(tpm, { parentHandle, obj, creationPCR, outsideInfo, locality });
    return { outPrivate: wrapPrivate(tpm, parent, obj), outPublic: obj.public, ...creation };
  },
});
