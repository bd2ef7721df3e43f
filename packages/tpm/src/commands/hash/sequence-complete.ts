// TPM2_SequenceComplete — Part 3 §17.5: finish a hash or HMAC sequence and flush it. A hash
// sequence whose data did not begin with TPM_GENERATED_VALUE earns a hashcheck ticket for
// `hierarchy`; an HMAC sequence, or TPM_RH_NULL, gets the NULL ticket.
import { TPM_CC } from '../../wire/command-codes.js';
import { TPM_RH, TPM_ST } from '../../wire/constants.js';
import { TPM2B_DIGEST, TPM2B_MAX_BUFFER, TPMI_DH_OBJECT, TPMI_RH_HIERARCHY, TPMT_TK_HASHCHECK } from '../../wire/types/index.js';
import { defineCommand } from '../../engine/command.js';
import { hashCheckTicket } from '../../engine/tickets.js';
import { sequenceAt, updateSequence } from './sequence-object.js';

export const SequenceComplete = defineCommand({
  name: 'SequenceComplete',
  code: TPM_CC.SequenceComplete,
  handles: { sequenceHandle: { codec: TPMI_DH_OBJECT, auth: 'USER' } },
  params: { buffer: TPM2B_MAX_BUFFER, hierarchy: TPMI_RH_HIERARCHY.plus },
  response: { result: TPM2B_DIGEST, validation: TPMT_TK_HASHCHECK },
  execute(tpm, { sequenceHandle }, { buffer, hierarchy }) {
    const seq = sequenceAt(tpm, sequenceHandle, 1, ['hash', 'hmac']);
    updateSequence(seq, buffer);
    const result = seq.digests[0]!.complete();
    tpm.objects.flush(sequenceHandle);
    const ticketed = seq.kind === 'hash' && seq.ticketSafe && hierarchy !== TPM_RH.NULL;
    const validation = ticketed
      ? hashCheckTicket(tpm, hierarchy, result)
      : { tag: TPM_ST.HASHCHECK, hierarchy: TPM_RH.NULL, digest: Buffer.alloc(0) };
    return { result, validation };
  },
});
