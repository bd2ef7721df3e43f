// `vm list|start|stop --control PATH`: one request to a serving adapter's control socket
// (control-socket.ts); its JSON answer on stdout, or its problem's detail on stderr and exit 1.

import { request } from 'node:http';
import type { CommandLine } from '../cli-options.js';

export interface ControlAnswer {
  status: number;
  body: Record<string, unknown> | null;
}

/** Sends one request to the control socket at `socketPath`. */
export function controlRequest(socketPath: string, method: string, path: string, body?: unknown): Promise<ControlAnswer> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const sent = request({ socketPath, method, path, headers: payload ? { 'content-type': 'application/json' } : {} }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('error', reject);
      response.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: response.statusCode ?? 0, body: text ? (JSON.parse(text) as Record<string, unknown>) : null });
      });
    });
    sent.on('error', (err: NodeJS.ErrnoException) => reject(err.code === 'ENOENT' || err.code === 'ECONNREFUSED' ? new Error(`no adapter answers on ${socketPath} (serve --control ${socketPath})`) : err));
    sent.end(payload);
  });
}

/** Runs the vm command; the process's exit code. */
export async function vmCommand(line: CommandLine): Promise<number> {
  const control = line.control!;
  const answer =
    line.vmAction === 'list'
      ? await controlRequest(control, 'GET', '/v1/vms')
      : line.vmAction === 'start'
        ? await controlRequest(control, 'POST', '/v1/vms', line.vmFields)
        : await controlRequest(control, 'DELETE', `/v1/vms/${line.vmId}`);
  if (answer.status >= 400) {
    const problem = answer.body ?? {};
    process.stderr.write(`sealkeep-hypervisor-adapter: vm ${line.vmAction}: ${String(problem.detail ?? problem.title ?? `status ${answer.status}`)} (${String(problem.type ?? '')})\n`);
    return 1;
  }
  if (answer.body) process.stdout.write(JSON.stringify(answer.body, null, 2) + '\n');
  return 0;
}
