// sealkeep verify service-key: check offline that the service's signing key is the one its TPM
// quoted with its approved launch (@sealkeep/attestation's verifyServiceKeyEvidence; docs/service.md,
// "The key's evidence"). FILE is what GET /v1/service-key answers (`sealkeep service key --out
// FILE`): the key, as a JWK, and its evidence bundle. The key the evidence must name is the JWK's
// own thumbprint, not the kid the file states. --measurements names a JSON file with the approved
// codeDigest and configurationDigest (as the service's operator publishes them); --root the TPM
// manufacturer roots. Exit status: 0 the key is proven, 1 findings, 2 usage or I/O error.

import type { JsonWebKey } from 'node:crypto';
import { jwkThumbprint } from '@sealkeep/crypto';
import { formatEvidenceReport, serviceDigestsOf, verifyServiceKeyEvidence } from '@sealkeep/attestation';
import { readJsonFile, runVerifier, STDIO, type VerifyIo } from './verify-files.js';

export const SERVICE_KEY_VERIFY_USAGE = 'sealkeep verify service-key FILE.json --root MANUFACTURER.pem... --measurements LAUNCH.json [--at TIME] [--json]';

export function serviceKeyVerifyMain(argv: string[], io: VerifyIo = STDIO): Promise<number> {
  return runVerifier(
    {
      command: 'verify service-key',
      usage: SERVICE_KEY_VERIFY_USAGE,
      subject: 'service key file',
      options: { measurements: { type: 'string' } },
      check: (values) => (typeof values.measurements === 'string' ? null : '--measurements FILE is required: the approved code and configuration digests'),
      async verify(text, common, values) {
        const answer = JSON.parse(text) as { jwk?: JsonWebKey; evidence?: unknown };
        if (!answer.jwk) throw new Error('the file holds no jwk: save what GET /v1/service-key answers');
        const file = values.measurements as string;
        const approved = serviceDigestsOf(await readJsonFile(file), file);
        return verifyServiceKeyEvidence(answer.evidence, { kid: jwkThumbprint(answer.jwk), trustedRoots: common.trustedRoots, approved, ...(common.now ? { at: common.now } : {}) });
      },
      report: formatEvidenceReport,
    },
    argv,
    io,
  );
}
