// What the offline verifiers of the command line share (`sealkeep verify volume-attestation`,
// `sealkeep verify vm-evidence`): where output goes, reading the subject file (or standard
// input), trusted roots and JSON option files, and the usage-error exit.

import { readFile } from 'node:fs/promises';

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
