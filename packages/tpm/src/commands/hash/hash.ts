// TPM2_Hash — Part 3 §17.3 (Hash/HMAC/Event sequences chapter). The ticket says the data did
// not begin with TPM_GENERATED_VALUE, so a restricted key may later sign the digest.
import { TPM_CC } from '../../wire/command-codes.js';
import { TPM_GENERATED_VALUE, TPM_RH, TPM_ST } from '../../wire/constants.js';
import { TPM2B_MAX_BUFFER, TPMI_ALG_HASH, TPMI_RH_HIERARCHY, TPM2B_DIGEST, TPMT_TK_HASHCHECK } from '../../wire/types/index.js';
import { digest } from '../../crypto/hash.js';
import { defineCommand } from '../../engine/command.js';
import { hashCheckTicket } from '../../engine/tickets.js';

export const Hash = defineCommand({
  name: 'Hash',
  code: TPM_CC.Hash,
  params: { data: TPM2B_MAX_BUFFER, hashAlg: TPMI_ALG_HASH, hierarchy: TPMI_RH_HIERARCHY.plus },
  response: { outHash: TPM2B_DIGEST, validation: TPMT_TK_HASHCHECK },
  execute(tpm, _h, { data, hashAlg, hierarchy }) {
    const outHash = digest(hashAlg, data);
    const generated = data.length >= 4 && data.readUInt32BE(0) === TPM_GENERATED_VALUE;
    const validation =
      generated || hierarchy === TPM_RH.NULL
        ? { tag: TPM_ST.HASHCHECK, hierarchy: TPM_RH.NULL, digest: Buffer.alloc(0) }
        : hashCheckTicket(tpm, hierarchy, outHash);
    return { outHash, validation };
  },
});
