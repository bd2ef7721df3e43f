// sealkeep verify volume-attestation: check a volume attestation offline (no service, no network)
// with @sealkeep/attestation's verifier (packages/attestation/src/volume/README.md).
//   sealkeep verify volume-attestation <attestation.json | -> --root <manufacturer.pem>...
//       [--tags TAGS.bin] [--at ISO-8601] [--json]
// --root names PEM files of the TPM manufacturer roots the AK certificate must chain to
// (repeatable; --trusted-root is the same). --tags is the volume's sector tags in LBA order, raw
// (32 bytes each): their count and Merkle root are checked against the signed ones. Prints one
// line per finding and a summary (or, with --json, the result object). Exit status: 0 the
// attestation verifies, 1 it has error findings, 2 usage or I/O error.

import { readFile } from 'node:fs/promises';
import { formatVolumeReport, verifyVolumeAttestation, type VerifyVolumeOptions } from '@sealkeep/attestation';
import { runVerifier, STDIO, type VerifyIo } from './verify-files.js';

export const VOLUME_VERIFY_USAGE = 'sealkeep verify volume-attestation FILE.json --root MANUFACTURER.pem... [--tags TAGS.bin] [--at TIME] [--json]';

export function volumeVerifyMain(argv: string[], io: VerifyIo = STDIO): Promise<number> {
  return runVerifier(
    {
      command: 'verify volume-attestation',
      usage: VOLUME_VERIFY_USAGE,
      subject: 'attestation file',
      options: { tags: { type: 'string' } },
      async verify(text, common, values) {
        const opts: VerifyVolumeOptions = { ...common };
        if (typeof values.tags === 'string') opts.tags = await readFile(values.tags);
        return verifyVolumeAttestation(text, opts);
      },
      report: formatVolumeReport,
    },
    argv,
    io,
  );
}
