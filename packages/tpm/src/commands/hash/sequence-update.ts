// TPM2_SequenceUpdate — Part 3 §17.4: add data to a hash, HMAC or event sequence.
import { TPM_CC } from '../../wire/command-codes.js';
import { TPM2B_MAX_BUFFER, TPMI_DH_OBJECT } from '../../wire/types/index.js';
import { defineCommand } from '../../engine/command.js';
import { sequenceAt, updateSequence } from './sequence-object.js';

export const SequenceUpdate = defineCommand({
  name: 'SequenceUpdate',
  code: TPM_CC.SequenceUpdate,
  handles: { sequenceHandle: { codec: TPMI_DH_OBJECT, auth: 'USER' } },
  params: { buffer: TPM2B_MAX_BUFFER },
  execute(tpm, { sequenceHandle }, { buffer }) {
    updateSequence(sequenceAt(tpm, sequenceHandle, 1, ['hash', 'hmac', 'event']), buffer);
    return {};
  },
});
