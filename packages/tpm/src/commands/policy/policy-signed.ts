// TPM2_PolicySigned — Part 3 §23.3: include in the policy an authorization signed by a key:
// the signature is over aHash = H(nonceTPM || expiration || cpHashA || policyRef); the policy
// becomes PolicyUpdate(TPM_CC_PolicySigned, keyName, policyRef). A trial session skips the checks.
import { TPM_CC } from '../../wire/command-codes.js';
import { TPM_RC, TPM_ST } from '../../wire/constants.js';
import { rcParam } from '../../wire/rc.js';
import { i32 } from '../../wire/codec.js';
import { TPM2B_DIGEST, TPM2B_NONCE, TPM2B_TIMEOUT, TPMI_DH_OBJECT, TPMI_SH_POLICY, TPMT_SIGNATURE, TPMT_TK_AUTH } from '../../wire/types/index.js';
import { digest, digestSize } from '../../crypto/hash.js';
import { defineCommand, fail, TpmFault } from '../../engine/command.js';
import { checkSignature, isSigningKey } from '../../engine/signatures.js';
import { authTimeout, policyAuthOutputs, policyContextUpdate, policyParameterChecks, policySession, u32be } from '../../engine/policy.js';

export const PolicySigned = defineCommand({
  name: 'PolicySigned',
  code: TPM_CC.PolicySigned,
  handles: { authObject: { codec: TPMI_DH_OBJECT }, policySession: { codec: TPMI_SH_POLICY } },
  params: { nonceTPM: TPM2B_NONCE, cpHashA: TPM2B_DIGEST, policyRef: TPM2B_NONCE, expiration: i32, auth: TPMT_SIGNATURE },
  response: { timeout: TPM2B_TIMEOUT, policyTicket: TPMT_TK_AUTH },
  execute(tpm, { authObject, policySession: handle }, { nonceTPM, cpHashA, policyRef, expiration, auth }) {
    const s = policySession(tpm, handle);
    const key = tpm.objects.get(authObject);
    let timeout = 0n;
    if (!s.isTrial) {
      timeout = authTimeout(tpm, s, expiration, nonceTPM);
      policyParameterChecks(tpm, s, timeout, cpHashA, nonceTPM, { nonce: 1, cpHash: 2, expiration: 4 });
      const signHash = (auth.signature as { hash?: number; hashAlg?: number } | null)?.hash ?? (auth.signature as { hashAlg?: number } | null)?.hashAlg ?? 0;
      if (digestSize(signHash) === 0) fail(rcParam(TPM_RC.SCHEME, 5));
      const aHash = digest(signHash, nonceTPM, u32be(expiration), cpHashA, policyRef);
      if (!isSigningKey(key)) fail(rcParam(TPM_RC.ATTRIBUTES, 5));
      try {
        checkSignature(key, aHash, auth);
      } catch (e) {
        if (e instanceof TpmFault) fail(rcParam(e.rc, 5));
        throw e;
      }
    }
    policyContextUpdate(s, TPM_CC.PolicySigned, key.name, policyRef, cpHashA, timeout);
    return policyAuthOutputs(tpm, s, TPM_ST.AUTH_SIGNED, key.hierarchy, expiration, nonceTPM, timeout, cpHashA, policyRef, key.name);
  },
});
