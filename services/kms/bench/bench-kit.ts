// What the service benchmarks share: a fresh store (PGlite on disk, or PostgreSQL when
// DATABASE_URL is set), listeners on ephemeral ports, a signed JSON call, and the load client
// (http-load.ts in a child process, so that this process's CPU time is the service's alone) with
// a warm-up that sizes each figure's pre-signed requests.

import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fork, type ChildProcess } from 'node:child_process';
import type { Express } from 'express';
import { serverFor } from '../src/http/listen.js';
import { describeStoreConfig, openStore, type Store } from '@sealkeep/store';
import { backendUnderTest, freshStore } from '@sealkeep/store/testing';
import type { LoadJob, LoadResult } from './http-load.js';

export const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
/** The warm-up before each figure, which also sizes its pool of signed requests. */
export const PROBE_SECONDS = Math.min(1, SECONDS / 3);
const PROBE_REQUESTS = 3000;

export type Requests = NonNullable<LoadJob['requests']>;

export interface Workload {
  name: string;
  port: number;
  method: LoadJob['method'];
  path: string;
  /** n fresh requests (each with its own proof); absent: a bare request, repeated. */
  make?(n: number): Requests;
}

/** A load client in its own process (http-load.ts by default); one job at a time. */
export class LoadClient<Job = LoadJob, Result = LoadResult> {
  private readonly child: ChildProcess;
  constructor(file = './http-load.ts') {
    const entry = new URL(file, import.meta.url).pathname;
    // Structured clone on the channel: jobs carry byte arrays and big integers.
    this.child = fork(entry, [], { execArgv: ['--conditions=sealkeep-source', '--import', 'tsx'], serialization: 'advanced', stdio: 'inherit' });
  }

  async run(job: Job): Promise<Result> {
    const answer = once(this.child, 'message');
    this.child.send(job as object);
    const [reply] = (await answer) as [{ result?: Result; error?: string }];
    if (reply.error) throw new Error(`load client: ${reply.error}`);
    return reply.result!;
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = once(this.child, 'exit');
    this.child.kill();
    await exited;
  }
}

/** CPU seconds (user + system) this process spends in `work`: the service's own share when the load client runs in another process. */
export async function cpuSecondsOf<T>(work: () => Promise<T>): Promise<{ value: T; cpuSeconds: number }> {
  const before = process.cpuUsage();
  const value = await work();
  const used = process.cpuUsage(before);
  return { value, cpuSeconds: (used.user + used.system) / 1e6 };
}

/** A warm-up that sizes the pool of signed requests, then the timed run. */
export async function measure(client: LoadClient, w: Workload, concurrency: number, onDone: (r: LoadResult) => void = () => {}): Promise<LoadResult> {
  const job = { port: w.port, method: w.method, path: w.path, concurrency };
  const probe = await client.run({ ...job, requests: w.make?.(PROBE_REQUESTS) ?? null, seconds: PROBE_SECONDS });
  onDone(probe);
  const expected = Math.ceil((probe.completed / probe.seconds) * SECONDS * 1.5) + 50 * concurrency;
  const result = await client.run({ ...job, requests: w.make?.(expected) ?? null, seconds: SECONDS });
  onDone(result);
  return result;
}

export async function benchStore(): Promise<{ store: Store; label: string; dispose(): Promise<void> }> {
  if (backendUnderTest() === 'postgres') {
    const store = await freshStore();
    return { store, label: `${describeStoreConfig(store.config)} (a fresh database, dropped afterwards)`, dispose: () => store.close() };
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sealkeep-bench-'));
  const store = await openStore({ kind: 'pglite', dataDir: path.join(dir, 'pgdata') });
  await store.migrateLatest();
  return {
    store,
    label: `${describeStoreConfig(store.config)} (fresh, removed afterwards)`,
    dispose: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function listen(app: Express): Promise<{ server: Server; port: number }> {
  const server = serverFor(app).listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as { port: number }).port };
}

export async function signedCall(port: number, method: string, url: string, auth: string, body?: string): Promise<Record<string, any>> {
  const res = await fetch(`http://127.0.0.1:${port}${url}`, { method, headers: { authorization: auth, ...(body ? { 'content-type': 'application/json' } : {}) }, ...(body ? { body } : {}) });
  if (!res.ok) throw new Error(`${method} ${url}: ${res.status} ${await res.text()}`);
  return (await res.json()) as Record<string, any>;
}


export const rate = (r: LoadResult) => r.completed / r.seconds;
