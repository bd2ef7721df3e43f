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
import { parseArgs } from 'node:util';
import { formatVolumeReport, verifyVolumeAttestation, type VerifyVolumeOptions } from '@sealkeep/attestation';
import { EXIT, readRoots, readSubject, STDIO, usageError, type VerifyIo } from './verify-files.js';

export const VOLUME_VERIFY_USAGE = 'sealkeep verify volume-attestation FILE.json --root MANUFACTURER.pem... [--tags TAGS.bin] [--at TIME] [--json]';
const COMMAND = 'verify volume-attestation';

export async function volumeVerifyMain(argv: string[], io: VerifyIo = STDIO): Promise<number> {
  let args;
  try {
    args = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        root: { type: 'string', multiple: true },
        'trusted-root': { type: 'string', multiple: true },
        tags: { type: 'string' },
        at: { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    return usageError(io, COMMAND, (e as Error).message, VOLUME_VERIFY_USAGE);
  }
  const v = args.values;
  if (v.help) {
    io.stdout.write(`usage: ${VOLUME_VERIFY_USAGE}\n`);
    return EXIT.ok;
  }
  const roots = [...(v.root ?? []), ...(v['trusted-root'] ?? [])];
  const problem =
    args.positionals.length !== 1 ? 'one attestation file (or -) is required'
    : roots.length === 0 ? 'at least one --root is required'
    : v.at !== undefined && Number.isNaN(Date.parse(v.at)) ? '--at must be an ISO 8601 time'
    : null;
  if (problem) return usageError(io, COMMAND, problem, VOLUME_VERIFY_USAGE);
  try {
    const text = await readSubject(args.positionals[0]!);
    const opts: VerifyVolumeOptions = { trustedRoots: await readRoots(roots) };
    if (v.tags !== undefined) opts.tags = await readFile(v.tags);
    if (v.at !== undefined) opts.now = new Date(v.at);
    const result = await verifyVolumeAttestation(text, opts);
    io.stdout.write(v.json ? `${JSON.stringify(result, null, 2)}\n` : `${formatVolumeReport(result)}\n`);
    return result.ok ? EXIT.ok : EXIT.findings;
  } catch (e) {
    io.stderr.write(`sealkeep ${COMMAND}: ${(e as Error).message}\n`);
    return EXIT.usage;
  }
}
