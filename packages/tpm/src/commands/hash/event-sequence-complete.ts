// TPM2_EventSequenceComplete — Part 3 §17.6: finish an event sequence, returning its digest in
// every PCR bank and extending them into pcrHandle (unless TPM_RH_NULL); the sequence is flushed.
import { TPM_CC } from '../../wire/command-codes.js';
import { TPM_RC, TPM_RH } from '../../wire/constants.js';
import { TPM2B_MAX_BUFFER, TPMI_DH_OBJECT, TPMI_DH_PCR, TPML_DIGEST_VALUES } from '../../wire/types/index.js';
import { defineCommand, fail } from '../../engine/command.js';
import { sequenceAt, updateSequence } from './sequence-object.js';

export const EventSequenceComplete = defineCommand({
  name: 'EventSequenceComplete',
  code: TPM_CC.EventSequenceComplete,
  handles: {
    pcrHandle: { codec: TPMI_DH_PCR.plus, auth: 'USER' },
    sequenceHandle: { codec: TPMI_DH_OBJECT, auth: 'USER' },
  },
  params: { buffer: TPM2B_MAX_BUFFER },
  response: { results: TPML_DIGEST_VALUES },
  execute(tpm, { pcrHandle, sequenceHandle }, { buffer }, { locality }) {
    const seq = sequenceAt(tpm, sequenceHandle, 2, ['event']);
    if (pcrHandle !== TPM_RH.NULL && !tpm.pcr.canExtend(pcrHandle, locality)) fail(TPM_RC.LOCALITY);
    updateSequence(seq, buffer);
    const results = seq.digests.map((d) => ({ hashAlg: d.alg, digest: d.complete() }));
    tpm.objects.flush(sequenceHandle);
    if (pcrHandle !== TPM_RH.NULL) for (const r of results) tpm.pcr.extend(pcrHandle, r.hashAlg, r.digest);
    return { results };
  },
});
