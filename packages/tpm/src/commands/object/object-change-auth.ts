// TPM2_ObjectChangeAuth — Part 3 §12.8: a new private area for a loaded object carrying a new
// authValue (the loaded copy keeps the old one). parentHandle must be the object's parent,
// checked through the Qualified Name.
import { TPM_CC } from '../../wire/command-codes.js';
import { TPM_RC } from '../../wire/constants.js';
import { rcHandle, rcParam } from '../../wire/rc.js';
import { TPM2B_AUTH, TPM2B_PRIVATE, TPMI_DH_OBJECT } from '../../wire/types/index.js';
import { digestSize } from '../../crypto/hash.js';
import { defineCommand, fail } from '../../engine/command.js';
import { qualifiedName } from '../../engine/names.js';
import { wrapPrivate } from '../../engine/private-area.js';
import { trimTrailingZeros } from '../../engine/sessions.js';

export const ObjectChangeAuth = defineCommand({
  name: 'ObjectChangeAuth',
  code: TPM_CC.ObjectChangeAuth,
  handles: {
    objectHandle: { codec: TPMI_DH_OBJECT, auth: 'ADMIN' },
    parentHandle: { codec: TPMI_DH_OBJECT },
  },
  params: { newAuth: TPM2B_AUTH },
  response: { outPrivate: TPM2B_PRIVATE },
  execute(tpm, { objectHandle, parentHandle }, { newAuth }) {
    const obj = tpm.objects.get(objectHandle);
    const authValue = trimTrailingZeros(newAuth);
    if (authValue.length > digestSize(obj.public.nameAlg)) fail(rcParam(TPM_RC.SIZE, 1));
    const parent = tpm.objects.get(parentHandle);
    if (!qualifiedName(parent.qualifiedName, obj.public, obj.name).equals(obj.qualifiedName)) fail(rcHandle(TPM_RC.TYPE, 2));
    if (!obj.sensitive) fail(rcHandle(TPM_RC.TYPE, 1));
    const changed = { ...obj, sensitive: { ...obj.sensitive, authValue } };
    return { outPrivate: wrapPrivate(tpm, parent, changed) };
  },
});
