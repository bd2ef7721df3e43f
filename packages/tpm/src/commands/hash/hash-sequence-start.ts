// TPM2_HashSequenceStart — Part 3 §17.3: start a hash sequence, or with TPM_ALG_NULL an event
// sequence that hashes in every PCR bank.
import { TPM_CC } from '../../wire/command-codes.js';
import { TPM_ALG } from '../../wire/constants.js';
import { TPM2B_AUTH, TPMI_ALG_HASH, TPMI_DH_OBJECT } from '../../wire/types/index.js';
import { HashSequence } from '../../crypto/hash.js';
import { defineCommand } from '../../engine/command.js';
import { startSequence } from './sequence-object.js';

export const HashSequenceStart = defineCommand({
  name: 'HashSequenceStart',
  code: TPM_CC.HashSequenceStart,
  params: { auth: TPM2B_AUTH, hashAlg: TPMI_ALG_HASH.plus },
  responseHandles: { sequenceHandle: { codec: TPMI_DH_OBJECT } },
  execute(tpm, _h, { auth, hashAlg }) {
    const event = hashAlg === TPM_ALG.NULL;
    const algs = event ? tpm.pcr.algorithms() : [hashAlg];
    const sequenceHandle = startSequence(tpm, auth, { kind: event ? 'event' : 'hash', digests: algs.map((a) => HashSequence.start(a)) });
    return { sequenceHandle };
  },
});
