// TPM2_Load — Part 3 §12.2: load an object from its public area and the private area its
// parent protects (integrity and binding checked), into a transient slot.
import { TPM_CC } from '../../wire/command-codes.js';
import { TPM_RC } from '../../wire/constants.js';
import { rcHandle, rcParam } from '../../wire/rc.js';
import { TPM2B_NAME, TPM2B_PRIVATE, TPM2B_PUBLIC, TPM_HANDLE, TPMI_DH_OBJECT } from '../../wire/types/index.js';
import { defineCommand, fail } from '../../engine/command.js';
import { isStorageParent, loadObject } from '../../engine/keys.js';
import { unwrapPrivate } from '../../engine/private-area.js';

const BLAME = { sensitive: 1, public: 2 };

export const Load = defineCommand({
  name: 'Load',
  code: TPM_CC.Load,
  handles: { parentHandle: { codec: TPMI_DH_OBJECT, auth: 'USER' } },
  params: { inPrivate: TPM2B_PRIVATE, inPublic: TPM2B_PUBLIC },
  responseHandles: { objectHandle: { codec: TPM_HANDLE } },
  response: { name: TPM2B_NAME },
  execute(tpm, { parentHandle }, { inPrivate, inPublic }) {
    if (inPrivate.length === 0) fail(rcParam(TPM_RC.SIZE, 1));
    const parent = tpm.objects.get(parentHandle);
    if (!isStorageParent(parent)) fail(rcHandle(TPM_RC.TYPE, 1));
    const sensitive = unwrapPrivate(tpm, parent, inPublic, inPrivate, BLAME);
    const obj = loadObject(inPublic, sensitive, { parent, hierarchy: parent.hierarchy, blame: BLAME });
    const objectHandle = tpm.objects.load(obj);
    return { objectHandle, name: obj.name };
  },
});
