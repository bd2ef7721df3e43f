// What the offline verifiers of the command line share (`sealkeep verify volume-attestation`,
// `sealkeep verify vm-evidence`): the command's shape — one subject file (or standard input),
// --root (or --trusted-root) PEM files, --at, --json, --help — where output goes, reading files,
// and the exit statuses. Each verifier adds its own options and runs its check (runVerifier).

import { readFile } from 'node:fs/promises';
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** Where output goes (process.stdout/stderr by default; a test passes its own). */
export interface VerifyIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
}

export const STDIO: VerifyIo = { stdout: process.stdout, stderr: process.stderr };

/** Exit statuses: the subject verifies (warnings allowed), it has error findings, usage or I/O error. */
export const EXIT = { ok: 0, findings: 1, usage: 2 } as const;

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** The subject's text: a file, or standard input for "-". */
export async function readSubject(file: string): Promise<string> {
  return (file === '-' ? await readStdin() : await readFile(file)).toString('utf8');
}

export const readRoots = (files: readonly string[]) => Promise.all(files.map((p) => readFile(p, 'utf8')));

export async function readJsonFile(file: string): Promise<unknown> {
  const text = await readFile(file, 'utf8');
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`${file}: not JSON: ${(e as Error).message}`);
  }
}

export function usageError(io: VerifyIo, command: string, problem: string, usage: string): number {
  io.stderr.write(`sealkeep ${command}: ${problem}\nusage: ${usage}\n`);
  return EXIT.usage;
}

type Options = NonNullable<ParseArgsConfig['options']>;
type Values = Record<string, string | boolean | string[] | undefined>;

export interface Verifier<R extends { ok: boolean }> {
  command: string;
  usage: string;
  /** What the subject is called in a usage error ("attestation file", "bundle file"). */
  subject: string;
  /** The verifier's own options, beside root, trusted-root, at, json and help. */
  options: Options;
  /** A usage problem in its own options, or null. */
  check?(values: Values): string | null;
  verify(text: string, common: { trustedRoots: string[]; now?: Date }, values: Values): Promise<R>;
  report(result: R): string;
}

/** Parse, check, read, verify, print; the exit status says whether the subject verified. */
export async function runVerifier<R extends { ok: boolean }>(v: Verifier<R>, argv: string[], io: VerifyIo): Promise<number> {
  let args;
  try {
    args = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { root: { type: 'string', multiple: true }, 'trusted-root': { type: 'string', multiple: true }, at: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' }, ...v.options },
    });
  } catch (e) {
    return usageError(io, v.command, (e as Error).message, v.usage);
  }
  const values = args.values as Values;
  if (values.help) {
    io.stdout.write(`usage: ${v.usage}\n`);
    return EXIT.ok;
  }
  const roots = [...((values.root as string[] | undefined) ?? []), ...((values['trusted-root'] as string[] | undefined) ?? [])];
  const at = values.at as string | undefined;
  const problem =
    args.positionals.length !== 1 ? `one ${v.subject} (or -) is required`
    : roots.length === 0 ? 'at least one --root is required'
    : at !== undefined && Number.isNaN(Date.parse(at)) ? '--at must be an ISO 8601 time'
    : (v.check?.(values) ?? null);
  if (problem) return usageError(io, v.command, problem, v.usage);
  try {
    const text = await readSubject(args.positionals[0]!);
    const result = await v.verify(text, { trustedRoots: await readRoots(roots), ...(at !== undefined ? { now: new Date(at) } : {}) }, values);
    io.stdout.write(values.json ? `${JSON.stringify(result, null, 2)}\n` : `${v.report(result)}\n`);
    return result.ok ? EXIT.ok : EXIT.findings;
  } catch (e) {
    io.stderr.write(`sealkeep ${v.command}: ${(e as Error).message}\n`);
    return EXIT.usage;
  }
}
