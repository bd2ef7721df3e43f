// TPM2_CertifyCreation — Part 3 §18.3: prove that the TPM created an object with the given
// creation data; the creation ticket (from Create/CreatePrimary) must match Name and creationHash.
import { TPM_CC } from '../../wire/command-codes.js';
import { TPM_RC, TPM_ST } from '../../wire/constants.js';
import { rcParam } from '../../wire/rc.js';
import {
  TPM2B_ATTEST,
  TPM2B_DATA,
  TPM2B_DIGEST,
  TPMI_DH_OBJECT,
  TPMT_SIG_SCHEME,
  TPMT_SIGNATURE,
  TPMT_TK_CREATION,
} from '../../wire/types/index.js';
import { defineCommand, fail } from '../../engine/command.js';
import { attestAndSign, attestationSigner } from '../../engine/attest.js';
import { ticketMatches } from '../../engine/tickets.js';

export const CertifyCreation = defineCommand({
  name: 'CertifyCreation',
  code: TPM_CC.CertifyCreation,
  handles: {
    signHandle: { codec: TPMI_DH_OBJECT.plus, auth: 'USER' },
    objectHandle: { codec: TPMI_DH_OBJECT },
  },
  params: { qualifyingData: TPM2B_DATA, creationHash: TPM2B_DIGEST, inScheme: TPMT_SIG_SCHEME.plus, creationTicket: TPMT_TK_CREATION },
  response: { certifyInfo: TPM2B_ATTEST, signature: TPMT_SIGNATURE.plus },
  execute(tpm, { signHandle, objectHandle }, { qualifyingData, creationHash, inScheme, creationTicket }) {
    const signer = attestationSigner(tpm, signHandle, inScheme, { handle: 1, param: 3 });
    const certified = tpm.objects.get(objectHandle);
    if (!ticketMatches(tpm, creationTicket, certified.name, creationHash)) fail(rcParam(TPM_RC.TICKET, 4));
    const { attest, signature } = attestAndSign(tpm, signer, qualifyingData, {
      type: TPM_ST.ATTEST_CREATION,
      attested: { objectName: certified.name, creationHash },
    });
    return { certifyInfo: attest, signature };
  },
});
