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

import { parseArgs } from 'node:util';
import { formatVmEvidenceReport, verifyVmEvidence, type VerifyVmEvidenceOptions } from '@sealkeep/attestation';
import { EXIT, readJsonFile, readRoots, readSubject, STDIO, usageError, type VerifyIo } from './verify-files.js';

export const VM_EVIDENCE_VERIFY_USAGE =
  'sealkeep verify vm-evidence FILE.json --root MANUFACTURER.pem... [--reference-values FILE] [--host-nonce HEX] [--host-policy FILE] [--at TIME] [--json]';
const COMMAND = 'verify vm-evidence';

export async function vmEvidenceVerifyMain(argv: string[], io: VerifyIo = STDIO): Promise<number> {
  let args;
  try {
    args = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        root: { type: 'string', multiple: true },
        'trusted-root': { type: 'string', multiple: true },
        'reference-values': { type: 'string' },
        'host-nonce': { type: 'string' },
        'host-policy': { type: 'string' },
        at: { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    return usageError(io, COMMAND, (e as Error).message, VM_EVIDENCE_VERIFY_USAGE);
  }
  const v = args.values;
  if (v.help) {
    io.stdout.write(`usage: ${VM_EVIDENCE_VERIFY_USAGE}\n`);
    return EXIT.ok;
  }
  const roots = [...(v.root ?? []), ...(v['trusted-root'] ?? [])];
  const problem =
    args.positionals.length !== 1 ? 'one bundle file (or -) is required'
    : roots.length === 0 ? 'at least one --root is required'
    : v['host-nonce'] !== undefined && !/^(?:[0-9a-fA-F]{2})+$/.test(v['host-nonce']) ? '--host-nonce must be hex'
    : v.at !== undefined && Number.isNaN(Date.parse(v.at)) ? '--at must be an ISO 8601 time'
    : null;
  if (problem) return usageError(io, COMMAND, problem, VM_EVIDENCE_VERIFY_USAGE);
  try {
    const text = await readSubject(args.positionals[0]!);
    const opts: VerifyVmEvidenceOptions = { trustedRoots: await readRoots(roots) };
    if (v['reference-values'] !== undefined) opts.referenceValues = (await readJsonFile(v['reference-values'])) as NonNullable<VerifyVmEvidenceOptions['referenceValues']>;
    const host: NonNullable<VerifyVmEvidenceOptions['host']> = {};
    if (v['host-nonce'] !== undefined) host.nonce = v['host-nonce'];
    if (v['host-policy'] !== undefined) host.policy = await readJsonFile(v['host-policy']);
    if (Object.keys(host).length > 0) opts.host = host;
    if (v.at !== undefined) opts.now = new Date(v.at);
    const result = await verifyVmEvidence(text, opts);
    io.stdout.write(v.json ? `${JSON.stringify(result, null, 2)}\n` : `${formatVmEvidenceReport(result)}\n`);
    return result.ok ? EXIT.ok : EXIT.findings;
  } catch (e) {
    io.stderr.write(`sealkeep ${COMMAND}: ${(e as Error).message}\n`);
    return EXIT.usage;
  }
}
