// TPM2_GetTime — Part 3 §18.7: a signed time stamp. The privacy administrator (endorsement
// hierarchy) authorizes; the attested time and firmware version are never obfuscated.
import { TPM_CC } from '../../wire/command-codes.js';
import { TPM_ST } from '../../wire/constants.js';
import { TPM2B_ATTEST, TPM2B_DATA, TPMI_DH_OBJECT, TPMI_RH_ENDORSEMENT, TPMT_SIG_SCHEME, TPMT_SIGNATURE } from '../../wire/types/index.js';
import { defineCommand } from '../../engine/command.js';
import { FIRMWARE_VERSION, attestAndSign, attestationSigner, clockInfo } from '../../engine/attest.js';

export const GetTime = defineCommand({
  name: 'GetTime',
  code: TPM_CC.GetTime,
  handles: {
    privacyAdminHandle: { codec: TPMI_RH_ENDORSEMENT, auth: 'USER' },
    signHandle: { codec: TPMI_DH_OBJECT.plus, auth: 'USER' },
  },
  params: { qualifyingData: TPM2B_DATA, inScheme: TPMT_SIG_SCHEME.plus },
  response: { timeInfo: TPM2B_ATTEST, signature: TPMT_SIGNATURE.plus },
  execute(tpm, { signHandle }, { qualifyingData, inScheme }) {
    const signer = attestationSigner(tpm, signHandle, inScheme, { handle: 2, param: 2 });
    const { attest, signature } = attestAndSign(tpm, signer, qualifyingData, {
      type: TPM_ST.ATTEST_TIME,
      attested: { time: { time: tpm.clock.time(), clockInfo: clockInfo(tpm) }, firmwareVersion: FIRMWARE_VERSION },
    });
    return { timeInfo: attest, signature };
  },
});
