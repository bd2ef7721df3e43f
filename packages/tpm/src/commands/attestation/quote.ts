// TPM2_Quote — Part 3 §18.4: sign the digest of selected PCRs. The PCR digest uses the hash of
// the signing scheme, so a NULL scheme (or signHandle TPM_RH_NULL) is TPM_RC_SCHEME.
import { TPM_CC } from '../../wire/command-codes.js';
import { TPM_ALG, TPM_RC, TPM_ST } from '../../wire/constants.js';
import { rcParam } from '../../wire/rc.js';
import { TPM2B_ATTEST, TPM2B_DATA, TPMI_DH_OBJECT, TPML_PCR_SELECTION, TPMT_SIG_SCHEME, TPMT_SIGNATURE } from '../../wire/types/index.js';
import { defineCommand, fail } from '../../engine/command.js';
import { attestAndSign, attestationSigner, quotePcrs } from '../../engine/attest.js';

export const Quote = defineCommand({
  name: 'Quote',
  code: TPM_CC.Quote,
  handles: { signHandle: { codec: TPMI_DH_OBJECT.plus, auth: 'USER' } },
  params: { qualifyingData: TPM2B_DATA, inScheme: TPMT_SIG_SCHEME.plus, PCRselect: TPML_PCR_SELECTION },
  response: { quoted: TPM2B_ATTEST, signature: TPMT_SIGNATURE.plus },
  execute(tpm, { signHandle }, { qualifyingData, inScheme, PCRselect }) {
    const signer = attestationSigner(tpm, signHandle, inScheme, { handle: 1, param: 2 });
    const hashAlg = signer.scheme.details?.hashAlg ?? TPM_ALG.NULL;
    if (hashAlg === TPM_ALG.NULL) fail(rcParam(TPM_RC.SCHEME, 2));
    const { attest, signature } = attestAndSign(tpm, signer, qualifyingData, {
      type: TPM_ST.ATTEST_QUOTE,
      attested: quotePcrs(tpm, hashAlg, PCRselect),
    });
    return { quoted: attest, signature };
  },
});
