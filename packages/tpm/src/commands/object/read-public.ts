// TPM2_ReadPublic — Part 3 §12.4: the public area, Name and Qualified Name of a loaded object
// (no authorization).
import { TPM_CC } from '../../wire/command-codes.js';
import { TPM2B_NAME, TPM2B_PUBLIC, TPMI_DH_OBJECT } from '../../wire/types/index.js';
import { defineCommand } from '../../engine/command.js';

export const ReadPublic = defineCommand({
  name: 'ReadPublic',
  code: TPM_CC.ReadPublic,
  handles: { objectHandle: { codec: TPMI_DH_OBJECT } },
  response: { outPublic: TPM2B_PUBLIC.plus, name: TPM2B_NAME, qualifiedName: TPM2B_NAME },
  execute(tpm, { objectHandle }) {
    const obj = tpm.objects.get(objectHandle);
    return { outPublic: obj.public, name: obj.name, qualifiedName: obj.qualifiedName };
  },
});
