// TPM2_Certify — Part 3 §18.2: prove that an object with a given Name and Qualified Name is
// loaded. The certified object's ADMIN role authorizes; the signer's USER role signs.
import { TPM_CC } from '../../wire/command-codes.js';
import { TPM_ST } from '../../wire/constants.js';
import { TPM2B_ATTEST, TPM2B_DATA, TPMI_DH_OBJECT, TPMT_SIG_SCHEME, TPMT_SIGNATURE } from '../../wire/types/index.js';
import { defineCommand } from '../../engine/command.js';
import { attestAndSign, attestationSigner } from '../../engine/attest.js';

export const Certify = defineCommand({
  name: 'Certify',
  code: TPM_CC.Certify,
  handles: {
    objectHandle: { codec: TPMI_DH_OBJECT, auth: 'ADMIN' },
    signHandle: { codec: TPMI_DH_OBJECT.plus, auth: 'USER' },
  },
  params: { qualifyingData: TPM2B_DATA, inScheme: TPMT_SIG_SCHEME.plus },
  response: { certifyInfo: TPM2B_ATTEST, signature: TPMT_SIGNATURE.plus },
  execute(tpm, { objectHandle, signHandle }, { qualifyingData, inScheme }) {
    const signer = attestationSigner(tpm, signHandle, inScheme, { handle: 2, param: 2 });
    const certified = tpm.objects.get(objectHandle);
    const { attest, signature } = attestAndSign(tpm, signer, qualifyingData, {
      type: TPM_ST.ATTEST_CERTIFY,
      attested: { name: certified.name, qualifiedName: certified.qualifiedName },
    });
    return { certifyInfo: attest, signature };
  },
});
