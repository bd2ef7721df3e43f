// TPM2_LoadExternal — Part 3 §12.3: load a public area alone (any hierarchy), or a public and
// sensitive area that did not come from this TPM (null hierarchy only, and never looking like a
// TPM-protected key: fixedTPM, fixedParent and restricted clear).
import { TPM_CC } from '../../wire/command-codes.js';
import { TPM_RC, TPM_RH } from '../../wire/constants.js';
import { rcParam } from '../../wire/rc.js';
import { TPM2B_NAME, TPM2B_PUBLIC, TPM2B_SENSITIVE, TPM_HANDLE, TPMA_OBJECT, TPMI_RH_HIERARCHY } from '../../wire/types/index.js';
import { defineCommand, fail } from '../../engine/command.js';
import { loadObject } from '../../engine/keys.js';

const FOREIGN_FORBIDDEN = TPMA_OBJECT.fixedTPM | TPMA_OBJECT.fixedParent | TPMA_OBJECT.restricted;

export const LoadExternal = defineCommand({
  name: 'LoadExternal',
  code: TPM_CC.LoadExternal,
  params: { inPrivate: TPM2B_SENSITIVE, inPublic: TPM2B_PUBLIC.plus, hierarchy: TPMI_RH_HIERARCHY.plus },
  responseHandles: { objectHandle: { codec: TPM_HANDLE } },
  response: { name: TPM2B_NAME },
  execute(tpm, _h, { inPrivate, inPublic, hierarchy }) {
    if (!tpm.hierarchy.isEnabled(hierarchy)) fail(rcParam(TPM_RC.HIERARCHY, 3));
    if (inPrivate) {
      if (hierarchy !== TPM_RH.NULL) fail(rcParam(TPM_RC.HIERARCHY, 3));
      if ((inPublic.objectAttributes & FOREIGN_FORBIDDEN) !== 0) fail(rcParam(TPM_RC.ATTRIBUTES, 2));
    }
    const obj = loadObject(inPublic, inPrivate, { parent: null, hierarchy, blame: { sensitive: 1, public: 2 }, external: true });
    const objectHandle = tpm.objects.load(obj);
    return { objectHandle, name: obj.name };
  },
});
