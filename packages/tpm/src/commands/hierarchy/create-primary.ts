// TPM2_CreatePrimary — Part 3 §24.1: a primary object derived from the seed of a hierarchy, so
// the same template always gives the same key; loaded at once, with its creation data.
import { TPM_CC } from '../../wire/command-codes.js';
import { TPM_RC } from '../../wire/constants.js';
import { rcHandle } from '../../wire/rc.js';
import {
  TPM2B_CREATION_DATA,
  TPM2B_DATA,
  TPM2B_DIGEST,
  TPM2B_NAME,
  TPM2B_PUBLIC,
  TPM2B_SENSITIVE_CREATE,
  TPM_HANDLE,
  TPMI_RH_HIERARCHY,
  TPML_PCR_SELECTION,
  TPMT_TK_CREATION,
} from '../../wire/types/index.js';
import { defineCommand, fail } from '../../engine/command.js';
import { createObject, creationData } from '../../engine/keys.js';

export const CreatePrimary = defineCommand({
  name: 'CreatePrimary',
  code: TPM_CC.CreatePrimary,
  handles: { primaryHandle: { codec: TPMI_RH_HIERARCHY.plus, auth: 'USER' } },
  params: {
    inSensitive: TPM2B_SENSITIVE_CREATE,
    inPublic: TPM2B_PUBLIC,
    outsideInfo: TPM2B_DATA,
    creationPCR: TPML_PCR_SELECTION,
  },
  responseHandles: { objectHandle: { codec: TPM_HANDLE } },
  response: {
    outPublic: TPM2B_PUBLIC,
    creationData: TPM2B_CREATION_DATA,
    creationHash: TPM2B_DIGEST,
    creationTicket: TPMT_TK_CREATION,
    name: TPM2B_NAME,
  },
  execute(tpm, { primaryHandle }, { inSensitive, inPublic, outsideInfo, creationPCR }, { locality }) {
    if (!tpm.hierarchy.isEnabled(primaryHandle)) fail(rcHandle(TPM_RC.HIERARCHY, 1));
    const obj = createObject(tpm, {
      template: inPublic,
      sensitive: inSensitive,
      parent: null,
      hierarchy: primaryHandle,
      derivation: { seed: tpm.hierarchy.seed(primaryHandle) },
    });
    const creation = creationData(tpm, { parentHandle: primaryHandle, obj, creationPCR, outsideInfo, locality });
    const objectHandle = tpm.objects.load(obj);
    return { objectHandle, outPublic: obj.public, ...creation, name: obj.name };
  },
});
