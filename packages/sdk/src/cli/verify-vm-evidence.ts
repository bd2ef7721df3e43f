// sealkeep verify vm-evidence: check a VM evidence bundle offline (no service, no network) with
// @sealkeep/attestation's verifier (packages/attestation/src/vm/README.md).
//   sealkeep verify vm-evidence <bundle.json | -> --root <manufacturer.pem>... [--reference-values FILE]
//       [--host-nonce HEX] [--host-policy FILE] [--at ISO-8601] [--json]
// --root names PEM files of the roots the service TPM's AK certificate and the host's AK and EK
// certificates must chain to (repeatable; --trusted-root is the same). --reference-values is the
// VM's reference values as its tenant gave them (the release policy's referenceValues JSON);
// without it the bundle's are used, with a warning. --host-nonce and --host-policy go to the
// host's evidence (default: the nonce the bundle carries, the host bundle's reference values).
// Exit status: 0 the evidence verifies (warnings allowed), 1 it has error findings, 2 usage or I/O error.

import { formatVmEvidenceReport, verifyVmEvidence, type VerifyVmEvidenceOptions } from '@sealkeep/attestation';
import { readJsonFile, runVerifier, STDIO, type VerifyIo } from './verify-files.js';

export const VM_EVIDENCE_VERIFY_USAGE =
  'sealkeep verify vm-evidence FILE.json --root MANUFACTURER.pem... [--reference-values FILE] [--host-nonce HEX] [--host-policy FILE] [--at TIME] [--json]';

export function vmEvidenceVerifyMain(argv: string[], io: VerifyIo = STDIO): Promise<number> {
  return runVerifier(
    {
      command: 'verify vm-evidence',
      usage: VM_EVIDENCE_VERIFY_USAGE,
      subject: 'bundle file',
      options: { 'reference-values': { type: 'string' }, 'host-nonce': { type: 'string' }, 'host-policy': { type: 'string' } },
      check: (values) => {
        const nonce = values['host-nonce'];
        return typeof nonce === 'string' && !/^(?:[0-9a-fA-F]{2})+$/.test(nonce) ? '--host-nonce must be hex' : null;
      },
      async verify(text, common, values) {
        const opts: VerifyVmEvidenceOptions = { ...common };
        if (typeof values['reference-values'] === 'string') opts.referenceValues = (await readJsonFile(values['reference-values'])) as NonNullable<VerifyVmEvidenceOptions['referenceValues']>;
        const host: NonNullable<VerifyVmEvidenceOptions['host']> = {};
        if (typeof values['host-nonce'] === 'string') host.nonce = values['host-nonce'];
        if (typeof values['host-policy'] === 'string') host.policy = await readJsonFile(values['host-policy']);
        if (Object.keys(host).length > 0) opts.host = host;
        return verifyVmEvidence(text, opts);
      },
      report: formatVmEvidenceReport,
    },
    argv,
    io,
  );
}
