#!/usr/bin/env node
// sealkeep-evidence-verify: check an evidence bundle offline (no service, no network).
//   sealkeep-evidence-verify <bundle.json | -> --trusted-root <root.pem>... [--nonce HEX]
//       [--previous-quote FILE] [--policy policy.json] [--at ISO-8601] [--export-tools DIR] [--json]
// Prints one line per finding and a summary (or, with --json, the result object). --trusted-root
// names PEM files of the roots the AK and EK chains must end at (repeatable). --previous-quote is
// an earlier bundle (JSON) or the raw TPMS_ATTEST bytes of an earlier quote of the same AK.
// --export-tools writes the files tpm2_checkquote and `openssl verify` take (tools-export.ts).
// Exit status: 0 the evidence verifies (warnings allowed), 1 it has error findings, 2 usage or I/O error.

import { readFile } from 'node:fs/promises';
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { formatEvidenceReport } from './report.js';
import { writeToolFiles } from './tools-export.js';
import { verifyEvidence, type VerifyEvidenceOptions } from './verify.js';

const usage =
  'usage: sealkeep verify evidence <bundle.json | -> --root <root.pem>... [--nonce HEX] [--previous-quote FILE] [--policy FILE] [--at TIME] [--export-tools DIR] [--json]';

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** A previous quote: an earlier bundle (or quote object) as JSON, else raw attest bytes. */
function previousQuote(bytes: Buffer): VerifyEvidenceOptions['previousQuote'] {
  try {
    return JSON.parse(bytes.toString('utf8')) as { attest: string };
  } catch {
    return bytes;
  }
}

/** Where output goes (process.stdout/stderr by default; a test or another CLI may pass its own). */
export interface CliIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
}

export async function main(argv: string[], io: CliIo = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  let args;
  try {
    args = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        'trusted-root': { type: 'string', multiple: true },
        root: { type: 'string', multiple: true },
        nonce: { type: 'string' },
        'previous-quote': { type: 'string' },
        policy: { type: 'string' },
        at: { type: 'string' },
        'export-tools': { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    io.stderr.write(`${(e as Error).message}\n${usage}\n`);
    return 2;
  }
  const v = args.values;
  // --root (as `sealkeep verify evidence` spells it) and --trusted-root are the same option.
  v['trusted-root'] = [...(v['trusted-root'] ?? []), ...(v.root ?? [])];
  if (v.help) {
    io.stdout.write(`${usage}\n`);
    return 0;
  }
  const problem =
    args.positionals.length !== 1 ? 'one bundle file (or -) is required'
    : !v['trusted-root']?.length ? 'at least one --trusted-root is required'
    : v.nonce !== undefined && !/^(?:[0-9a-fA-F]{2})+$/.test(v.nonce) ? '--nonce must be hex'
    : v.at !== undefined && Number.isNaN(Date.parse(v.at)) ? '--at must be an ISO 8601 time'
    : null;
  if (problem) {
    io.stderr.write(`sealkeep-evidence-verify: ${problem}\n${usage}\n`);
    return 2;
  }
  try {
    const file = args.positionals[0]!;
    const text = (file === '-' ? await readStdin() : await readFile(file)).toString('utf8');
    const opts: VerifyEvidenceOptions = { trustedRoots: await Promise.all(v['trusted-root']!.map((p) => readFile(p, 'utf8'))) };
    if (v.nonce !== undefined) opts.nonce = v.nonce;
    if (v.at !== undefined) opts.at = new Date(v.at);
    if (v['previous-quote'] !== undefined) opts.previousQuote = previousQuote(await readFile(v['previous-quote']));
    if (v.policy !== undefined) {
      const policyText = await readFile(v.policy, 'utf8');
      try {
        opts.policy = JSON.parse(policyText);
      } catch (e) {
        throw new Error(`${v.policy}: not JSON: ${(e as Error).message}`);
      }
    }
    const result = await verifyEvidence(text, opts);
    io.stdout.write(v.json ? `${JSON.stringify(result, null, 2)}\n` : `${formatEvidenceReport(result)}\n`);
    if (v['export-tools'] !== undefined) {
      const exp = await writeToolFiles(v['export-tools'], text, v.nonce ? { nonce: Buffer.from(v.nonce, 'hex') } : {});
      io.stderr.write(`tool files written to ${v['export-tools']}; run there: tpm2_checkquote ${exp.args.join(' ')}\n`);
    }
    return result.ok ? 0 : 1;
  } catch (e) {
    io.stderr.write(`sealkeep-evidence-verify: ${(e as Error).message}\n`);
    return 2;
  }
}

/** Run as a script (not imported by the package index or another CLI). */
function invokedDirectly(): boolean {
  try {
    return process.argv[1] !== undefined && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href;
  } catch {
    return false;
  }
}
if (invokedDirectly()) {
  process.exitCode = await main(process.argv.slice(2));
}
