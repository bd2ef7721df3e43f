// The adapter's control socket (`serve --control PATH`): the hypervisor starts and stops VMs on a
// serving adapter without restarting it, so the host's other VMs keep their disks. HTTP/1.1 on a
// Unix socket made 0600 (only the adapter's own user — the hypervisor — may connect), JSON in,
// JSON or RFC 9457 problems out, with the service's own problem types where the service refused.
//
//   GET    /v1/vms           the host's attestation; the VMs served, their boot and exports (with
//                            the chunks of tags still to check after an open from saved roots);
//                            the VMs refused, and why
//   POST   /v1/vms           start one: {"vm": "<--vm fields>", "volumes": ["<--volume fields>", …]}
//                            201 with the VM, or the refusal (its exports are refused with it)
//   DELETE /v1/vms/{vmId}    stop one: its volumes written back, closed, their state recorded; 204

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { SealkeepError } from '@sealkeep/sdk';
import { checkDataPlaneVolume, CommandLineError, parseVm, parseVolume, relativePaths } from '../cli-options.js';
import type { Logger } from '../logger.js';
import { bindOwnerOnly, claimSocketPath } from '../nbd/socket-file.js';
import type { RemoteVm } from './remote-vm.js';
import { VmConflictError, type RemoteHost } from './remote-host.js';

const PROBLEM_BASE = 'https://sealkeep.dev/problems/';
/** A start request is a few hundred bytes of paths; anything far larger is not one. */
const MAX_BODY_BYTES = 64 * 1024;
const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';

interface Answer {
  status: number;
  body?: unknown;
}

class ControlProblem extends Error {
  constructor(
    readonly status: number,
    readonly slug: string,
    readonly title: string,
    detail: string,
  ) {
    super(detail);
  }
}

interface ControlRoute {
  method: 'GET' | 'POST' | 'DELETE';
  path: RegExp;
  handle(host: RemoteHost, params: string[], body: unknown): Promise<Answer>;
}

function describeVm(vm: RemoteVm) {
  return {
    vmId: vm.vmId,
    tenantId: vm.tenantId,
    bootId: vm.boot.bootId,
    exports: vm.volumes.map((v) => ({ name: v.spec.name, volumeId: v.spec.volumeId, sessionId: v.crypto.session.id, stopped: v.stopped, uncheckedChunks: v.volume.uncheckedChunks })),
  };
}

/** The start request's two fields, parsed as the command line parses --vm and --volume. */
function startRequest(body: unknown) {
  const { vm, volumes } = (body ?? {}) as { vm?: unknown; volumes?: unknown };
  if (typeof vm !== 'string' || !Array.isArray(volumes) || volumes.length === 0 || !volumes.every((v) => typeof v === 'string')) {
    throw new ControlProblem(400, 'validation-failed', 'The request does not match the schema', 'a start takes {"vm": "<--vm fields>", "volumes": ["<--volume fields>", …]}');
  }
  try {
    const parsedVm = parseVm(vm);
    const parsedVolumes = (volumes as string[]).map(parseVolume);
    const relative = relativePaths(parsedVm, parsedVolumes);
    if (relative.length) throw new CommandLineError(`paths must be absolute (the adapter's working directory is not the caller's): ${relative.join(', ')}`);
    for (const v of parsedVolumes) {
      checkDataPlaneVolume(v);
      if (v.vmId && v.vmId !== parsedVm.vmId) throw new CommandLineError(`--volume ${v.name}: vm= names another VM`);
      v.vmId = parsedVm.vmId;
    }
    return { vm: parsedVm, volumes: parsedVolumes };
  } catch (error) {
    if (error instanceof CommandLineError) throw new ControlProblem(400, 'validation-failed', 'The request does not match the schema', error.message);
    throw error;
  }
}

const CONTROL_ROUTES: readonly ControlRoute[] = [
  {
    method: 'GET',
    path: /^\/v1\/vms$/,
    handle: async (host) => ({
      status: 200,
      body: {
        host: host.attestation,
        vms: host.vms.map(describeVm),
        refused: host.refused.map((r) => ({ vmId: r.vmId, tenantId: r.tenantId, exports: r.exports, at: r.at.toISOString(), error: r.error instanceof Error ? r.error.message : String(r.error) })),
      },
    }),
  },
  {
    method: 'POST',
    path: /^\/v1\/vms$/,
    handle: async (host, _params, body) => {
      const { vm, volumes } = startRequest(body);
      return { status: 201, body: describeVm(await host.startVm(vm, volumes)) };
    },
  },
  {
    method: 'DELETE',
    path: new RegExp(`^/v1/vms/(${UUID})$`, 'i'),
    handle: async (host, [vmId]) => {
      if (!(await host.stopVm(vmId!.toLowerCase()))) throw new ControlProblem(404, 'not-found', 'No such resource', `VM ${vmId} is not served here`);
      return { status: 204 };
    },
  },
];

/** The problem an error answers: the service's own when it refused, else one of the socket's. */
function problemOf(error: unknown): { status: number; body: Record<string, unknown> } {
  if (error instanceof ControlProblem) return { status: error.status, body: { type: PROBLEM_BASE + error.slug, title: error.title, status: error.status, detail: error.message } };
  if (error instanceof SealkeepError) return { status: error.status, body: { ...error.problem, type: error.type, status: error.status } };
  if (error instanceof VmConflictError) return problemOf(new ControlProblem(409, 'conflict', 'The request conflicts with the current state', error.message));
  // A file the request names that is not there or not readable (a delegation, a boot image): the caller's to fix.
  const code = (error as NodeJS.ErrnoException | null)?.code;
  if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR') return problemOf(new ControlProblem(400, 'validation-failed', 'The request does not match the schema', (error as Error).message));
  const message = error instanceof Error ? error.message : String(error);
  return problemOf(new ControlProblem(500, 'internal', 'The adapter failed to complete the request', message));
}

function readBody(request: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    request.on('data', (chunk: Buffer) => {
      length += chunk.length;
      if (length > MAX_BODY_BYTES) reject(new ControlProblem(413, 'payload-too-large', 'The request body is larger than this route accepts', `at most ${MAX_BODY_BYTES} bytes`));
      else chunks.push(chunk);
    });
    request.on('error', reject);
    request.on('end', () => {
      if (length === 0) return resolve(undefined);
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch {
        reject(new ControlProblem(400, 'malformed-request', 'The request body cannot be parsed', 'not JSON'));
      }
    });
  });
}

async function answer(host: RemoteHost, request: IncomingMessage, log: Logger): Promise<{ status: number; body?: unknown }> {
  const path = new URL(request.url ?? '/', 'http://adapter').pathname;
  const matching = CONTROL_ROUTES.filter((r) => r.path.test(path));
  if (matching.length === 0) return problemOf(new ControlProblem(404, 'not-found', 'No such resource', `no ${path} here`));
  const route = matching.find((r) => r.method === request.method);
  if (!route) return problemOf(new ControlProblem(405, 'method-not-allowed', 'The resource does not support this method', `${request.method} ${path}`));
  try {
    const body = await readBody(request);
    return await route.handle(host, route.path.exec(path)!.slice(1), body);
  } catch (error) {
    const problem = problemOf(error);
    if (problem.status >= 500) log.error({ err: error, method: request.method, path }, 'control request failed');
    return problem;
  }
}

export interface ControlSocket {
  close(): Promise<void>;
}

/** Listens on `socketPath` (0600; a dead adapter's socket replaced, anything else refused). */
export async function listenForControl(socketPath: string, host: RemoteHost, log: Logger): Promise<ControlSocket> {
  await claimSocketPath(socketPath);
  const server: Server = createServer((request: IncomingMessage, response: ServerResponse) => {
    void answer(host, request, log).then(({ status, body }) => {
      const problem = status >= 400;
      response.writeHead(status, body === undefined ? {} : { 'content-type': problem ? 'application/problem+json' : 'application/json' });
      response.end(body === undefined ? undefined : JSON.stringify(body));
      log.info({ method: request.method, path: request.url, status }, 'control request');
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    bindOwnerOnly(() => server.listen(socketPath, () => resolve()));
  });
  return {
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
