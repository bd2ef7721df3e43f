// The configuration scope: the service's own measured start. The code and configuration digests
// it runs under, PCRs 17–19 as its TPM reported them against what those digests must produce
// (@sealkeep/attestation's measured-start arithmetic), and the approval of this configuration
// as the store records it. A service running without a host TPM has nothing measured.

import { asProvider } from '@sealkeep/store';
import { expectedServicePcrs, SERVICE_PCRS } from '@sealkeep/attestation';
import type { ScopeCheck } from './scope-check.js';

const SUBJECT = 'service:kms';
const short = (hex: string) => `${hex.slice(0, 16)}…`;

export const configurationCheck: ScopeCheck = {
  scope: 'configuration',

  count: async () => 1,

  async run(db, ctx, out, progress) {
    const service = ctx.service;
    if (!service) {
      out.add('configuration.unmeasured', SUBJECT, 'this instance runs without a host TPM: its code and configuration are not measured, and no approval protects them', { expected: 'a measured start', found: 'none' });
      await progress.advance();
      return { measurements: 0 };
    }
    const { codeDigest, configurationDigest } = service.measurements;
    const approval = service.approval ? `${service.approval.kind}${service.approval.approvedBy ? ` by ${service.approval.approvedBy}` : ''}` : 'none';
    out.add('configuration.measured', SUBJECT, `the service runs measured on ${service.tpm} (service root ${service.root}; approval: ${approval})`, {
      found: `code sha256:${codeDigest}, configuration sha256:${configurationDigest}`,
    });
    if (service.root === 'uninitialised') out.add('configuration.root.uninitialised', SUBJECT, 'the service has no root yet (no operator when it started): tenant keys cannot be used', { expected: 'unsealed', found: 'uninitialised' });

    const expected = expectedServicePcrs({ codeDigest, configurationDigest });
    SERVICE_PCRS.forEach((pcr, i) => {
      const want = expected[i]!.toString('hex');
      const got = service.pcrs[String(pcr)];
      if (got !== want) out.add('configuration.pcrs.mismatch', SUBJECT, `PCR ${pcr} is not what the measured launch of these digests produces`, { expected: short(want), found: got ? short(got) : 'absent' });
    });

    if (service.root === 'unsealed') {
      const recorded = await asProvider(db, (trx) => trx('service_configurations').where({ code_digest: codeDigest, configuration_digest: configurationDigest }).first('approval', 'approved_at'));
      if (!recorded?.approval) {
        out.add('configuration.approval.unrecorded', SUBJECT, 'the running configuration has no approval recorded in the store', { expected: 'first-start or signed', found: recorded ? 'not approved' : 'not recorded' });
      }
    }
    await progress.advance();
    return { measurements: 1 };
  },
};
