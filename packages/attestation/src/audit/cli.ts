#!/usr/bin/env node
// sealkeep-audit-verify: check an exported audit log offline (no service, no network).
//   sealkeep-audit-verify <export.jsonl | -> [--trusted-ak <ak.pem>]... [--json]
// Reads the JSON Lines export as a stream (- for stdin), prints one line per finding and a summary
// (or, with --json, the report object). --trusted-ak pins the AK public keys (PEM SPKI, one key per
// file, repeatable) that checkpoints must be signed with; without it a checkpoint's own key is used.
// Exit status: 0 the log verifies (warnings allowed), 1 it has findings, 2 usage or I/O error.

import { createReadStream, realpathSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { formatReport } from './report.js';
import { verifyAuditLogAsync } from './verify.js';

const usage = 'usage: sealkeep-audit-verify <export.jsonl | -> [--trusted-ak <ak.pem>]... [--json]';

export async function main(argv: string[]): Promise<number> {
  let args;
  try {
    args = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { 'trusted-ak': { type: 'string', multiple: true }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    });
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n${usage}\n`);
    return 2;
  }
  if (args.values.help) {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  if (args.positionals.length !== 1) {
    process.stderr.write(`${usage}\n`);
    return 2;
  }
  const file = args.positionals[0]!;
  try {
    const pems = await Promise.all((args.values['trusted-ak'] ?? []).map((f) => readFile(f, 'utf8')));
    const input = file === '-' ? process.stdin : createReadStream(file);
    const report = await verifyAuditLogAsync(input, pems.length > 0 ? { trustedAkPublicKeysPem: pems } : {});
    process.stdout.write(args.values.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatReport(report)}\n`);
    return report.ok ? 0 : 1;
  } catch (e) {
    process.stderr.write(`sealkeep-audit-verify: ${(e as Error).message}\n`);
    return 2;
  }
}

const invokedAs = process.argv[1] ? pathToFileURL(realpathSync(process.argv[1])).href : '';
if (import.meta.url === invokedAs) {
  process.exitCode = await main(process.argv.slice(2));
}
