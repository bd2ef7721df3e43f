// Test support: run tpm2-tools against a TPM served over mssim in this process. `withTpmServer`
// starts a fresh TPM on free ports (the server runs in the test's own process, so tools are run
// asynchronously); `tools.run('tpm2_pcrread', ['sha256:16'])` returns stdout or throws with stderr.

import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Tpm } from '../engine/tpm.js';
import { MssimServer } from '../transport/mssim-server.js';

const run = promisify(execFile);

export const haveTpm2Tools = await run('tpm2_startup', ['--version']).then(
  () => true,
  () => false,
);

export interface ToolResult {
  stdout: string;
  stderr: string;
}

export class Tpm2Tools {
  constructor(
    readonly tcti: string,
    /** A scratch directory for files the tools read and write; removed by withTpmServer. */
    readonly dir: string,
  ) {}

  /** Run a tool; rejects with its stderr when it exits non-zero. */
  async run(tool: string, args: string[] = [], env: Record<string, string> = {}): Promise<ToolResult> {
    try {
      const r = await run(tool, args, {
        cwd: this.dir,
        env: { ...process.env, TPM2TOOLS_TCTI: this.tcti, ...env },
        timeout: 60_000,
        encoding: 'utf8',
      });
      return { stdout: r.stdout, stderr: r.stderr };
    } catch (e) {
      const err = e as { stderr?: string; code?: number };
      throw new Error(`${tool} ${args.join(' ')} failed (exit ${err.code}): ${err.stderr ?? e}`);
    }
  }

  /** Run a tool that is expected to fail; returns its stderr. */
  async fails(tool: string, args: string[] = []): Promise<string> {
    try {
      await this.run(tool, args);
    } catch (e) {
      return (e as Error).message;
    }
    throw new Error(`${tool} ${args.join(' ')} succeeded but was expected to fail`);
  }

  file(name: string): string {
    return path.join(this.dir, name);
  }
}

/** Start a fresh TPM on an mssim server, run `fn` with tools pointed at it, then tear down. */
export async function withTpmServer<T>(fn: (tools: Tpm2Tools, tpm: Tpm, server: MssimServer) => Promise<T>, tpm = new Tpm()): Promise<T> {
  const server = new MssimServer({ tpm, port: 0 });
  await server.listen();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sealkeep-tpm2-tools-'));
  try {
    const tools = new Tpm2Tools(`mssim:host=127.0.0.1,port=${server.commandPort}`, dir);
    return await fn(tools, tpm, server);
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
