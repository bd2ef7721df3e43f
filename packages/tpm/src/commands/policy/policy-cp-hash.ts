// TPM2_PolicyCpHash — Part 3 §23.13: the session authorizes only the command with this cpHash.
// policyDigest' = H(policyDigest || TPM_CC_PolicyCpHash || cpHashA).
import { TPM_CC } from '../../wire/command-codes.js';
import { TPM_RC } from '../../wire/constants.js';
import { rcParam } from '../../wire/rc.js';
import { TPM2B_DIGEST, TPMI_SH_POLICY } from '../../wire/types/index.js';
import { defineCommand, fail } from '../../engine/command.js';
import { extendPolicy, policySession } from '../../engine/policy.js';

export const PolicyCpHash = defineCommand({
  name: 'PolicyCpHash',
  code: TPM_CC.PolicyCpHash,
  handles: { policySession: { codec: TPMI_SH_POLICY } },
  params: { cpHashA: TPM2B_DIGEST },
  execute(tpm, { policySession: handle }, { cpHashA }) {
    const s = policySession(tpm, handle);
    const c = s.policy.constraint;
    if (c && (c.kind !== 'cpHash' || !c.value.equals(cpHashA))) fail(TPM_RC.CPHASH);
    if (cpHashA.length !== s.policy.digest.length) fail(rcParam(TPM_RC.SIZE, 1));
    extendPolicy(s, TPM_CC.PolicyCpHash, cpHashA);
    s.policy.constraint = { kind: 'cpHash', value: Buffer.from(cpHashA) };
    return {};
  },
});
