// TPM2_NV_Certify — Part 3 §31.16 (kept with the attestation commands): sign the contents of
// an NV index (size/offset give a slice, TPM_ST_ATTEST_NV) or, when both are zero, a digest of
// all of it with the scheme's hash (TPM_ST_ATTEST_NV_DIGEST). Reading needs the same access as
// TPM2_NV_Read.
import { TPM_CC } from '../../wire/command-codes.js';
import { u16 } from '../../wire/codec.js';
import { TPM_ALG, TPM_RC, TPM_ST } from '../../wire/constants.js';
import { MAX_NV_BUFFER_SIZE } from '../../wire/limits.js';
import { rcParam } from '../../wire/rc.js';
import { TPM2B_ATTEST, TPM2B_DATA, TPMI_DH_OBJECT, TPMI_RH_NV_AUTH, TPMI_RH_NV_INDEX, TPMT_SIG_SCHEME, TPMT_SIGNATURE } from '../../wire/types/index.js';
import { digest } from '../../crypto/hash.js';
import { defineCommand, fail } from '../../engine/command.js';
import { attestAndSign, attestationSigner } from '../../engine/attest.js';
import { readAccessError } from '../nv/access.js';

export const NV_Certify = defineCommand({
  name: 'NV_Certify',
  code: TPM_CC.NV_Certify,
  handles: {
    signHandle: { codec: TPMI_DH_OBJECT.plus, auth: 'USER' },
    authHandle: { codec: TPMI_RH_NV_AUTH, auth: 'USER' },
    nvIndex: { codec: TPMI_RH_NV_INDEX },
  },
  params: { qualifyingData: TPM2B_DATA, inScheme: TPMT_SIG_SCHEME.plus, size: u16, offset: u16 },
  response: { certifyInfo: TPM2B_ATTEST, signature: TPMT_SIGNATURE.plus },
  execute(tpm, { signHandle, authHandle, nvIndex }, { qualifyingData, inScheme, size, offset }) {
    const signer = attestationSigner(tpm, signHandle, inScheme, { handle: 1, param: 2 });
    const index = tpm.nv.get(nvIndex);
    const rc = readAccessError(authHandle, nvIndex, index.public.attributes);
    if (rc) fail(rc);
    if (size + offset > index.public.dataSize) fail(TPM_RC.NV_RANGE);
    if (size > MAX_NV_BUFFER_SIZE) fail(rcParam(TPM_RC.VALUE, 3));
    const hashAlg = signer.scheme.details?.hashAlg ?? TPM_ALG.NULL;
    const body =
      size !== 0 || offset !== 0
        ? {
            type: TPM_ST.ATTEST_NV,
            attested: { indexName: index.name, offset, nvContents: Buffer.from(index.data.subarray(offset, offset + size)) },
          }
        : {
            type: TPM_ST.ATTEST_NV_DIGEST,
            attested: { indexName: index.name, nvDigest: hashAlg === TPM_ALG.NULL ? Buffer.alloc(0) : digest(hashAlg, index.data) },
          };
    const { attest, signature } = attestAndSign(tpm, signer, qualifyingData, body);
    return { certifyInfo: attest, signature };
  },
});
