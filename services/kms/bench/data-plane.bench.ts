// The data plane's throughput: MB/s of plaintext through block sessions (POST …/blocks/encrypt
// and …/blocks/encrypt-sign, 1 MiB batches, sector sizes 4096 and 512), the service and its
// client sharing this machine's cores, beside `openssl speed -multi <cores>` for AES-256-XTS
// and HMAC-SHA-256 measured in the same run. Encrypt+sign's reference is the two in series:
// 1 / (1/xts + 1/hmac). The service is the real one: listeners, sealed sessions (each batch also
// goes through AES-256-GCM and each answer through GMAC, which the reference leaves out), worker threads,
// the audit of every batch; the store is PGlite (or PostgreSQL with DATABASE_URL).
//
// Two ratios: wall-clock MB/s against the reference, with the client (its own process) taking its
// share of the same cores; and the service's efficiency — MB per CPU-second of this process, the
// unit `openssl speed` itself counts in — against the reference per core: what the service would
// move with the cores to itself, as it would with its adapters on other machines.
//
// Last, the transport's own ceiling, measured the same way: a bare node:http server that only
// reads each body and answers it back, to the same client. No block operation can move more
// through node:http than that; the data plane's figures read best beside it.

import http from 'node:http';
import { once } from 'node:events';
import { availableParallelism } from 'node:os';
import { cpuSecondsOf, listen, LoadClient } from './bench-kit.js';
import type { BlockLoadJob, BlockLoadResult } from './block-load.js';
import { bootOf, dataPlane } from '../src/features/blocks/data-plane.fixture.js';
import { opensslSpeed } from '../../../packages/crypto/bench/openssl-speed.js';
import type { Express } from 'express';
import { letHeapGrowForDataPlane } from '../src/platform/heap-growth.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
/** Each figure is the best of this many timed runs (the machine's other load makes single runs vary by a third). */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 4);
const BATCH = Number(process.env.BENCH_BATCH ?? 1 << 20);
/** Narrow the run for profiling: BENCH_SECTORS=4096, BENCH_OPS=encrypt-sign. */
const SECTOR_SIZES = (process.env.BENCH_SECTORS?.split(',').map(Number) ?? [4096, 512]) as (4096 | 512)[];
const OPS = (process.env.BENCH_OPS?.split(',') ?? ['encrypt', 'encrypt-sign']) as ('encrypt' | 'encrypt-sign')[];
const cores = availableParallelism();
// As the service's main.ts does at start.
letHeapGrowForDataPlane();

const d = await dataPlane();
const { server, port } = await listen(d.dataApp as unknown as Express);
const client = new LoadClient<BlockLoadJob, BlockLoadResult>('./block-load.ts');

/** ROUNDS timed runs of `job` (sequence numbers carried on): the best wall-clock and service-CPU figures, and every status seen. */
async function bestOf(job: BlockLoadJob): Promise<{ mbs: number; requestsPerSecond: number; perCpuSecond: number; statuses: Record<string, number>; nextSeq: number }> {
  const best = { mbs: 0, requestsPerSecond: 0, perCpuSecond: 0, statuses: {} as Record<string, number>, nextSeq: job.firstSeq };
  for (let round = 0; round < ROUNDS; round++) {
    const firstSeq = best.nextSeq;
    const { value: r, cpuSeconds } = await cpuSecondsOf(() => client.run({ ...job, seconds: SECONDS, firstSeq }));
    best.nextSeq = r.nextSeq;
    if (r.plaintextBytes / r.seconds / 1e6 > best.mbs) {
      best.mbs = r.plaintextBytes / r.seconds / 1e6;
      best.requestsPerSecond = r.requests / r.seconds;
    }
    best.perCpuSecond = Math.max(best.perCpuSecond, r.plaintextBytes / cpuSeconds / 1e6);
    for (const [status, n] of Object.entries(r.statuses)) best.statuses[status] = (best.statuses[status] ?? 0) + n;
  }
  return best;
}

console.log(`data plane, ${cores} cores shared by the service (${d.sessions.pool.size} block workers) and its client (${CONCURRENCY} connections), ${BATCH >> 10} KiB batches, best of ${ROUNDS} runs of ${SECONDS} s`);
console.log(['sector', 'workload'.padEnd(13), 'MB/s'.padStart(6), 'req/s'.padStart(6), 'openssl'.padStart(8), 'ratio'.padStart(6), 'MB/cpu-s'.padStart(9), 'per core'.padStart(9), 'ratio'.padStart(6), ' openssl reference'].join(' '));
try {
  for (const sectorSize of SECTOR_SIZES) {
    const vm = await d.newVm({ sectorSize, sectors: (CONCURRENCY * BATCH) / sectorSize });
    const boot = bootOf();
    await d.api.call(d.api.officer, 'put', `${d.api.base}/vms/${vm.vmId}/release-policy`, { keyId: vm.kekId, referenceValues: { events: { configuration: boot.configuration, bootVolume: boot.bootVolume } } });
    await d.startVm(vm.vmId, boot.events);
    const { res, key } = await d.openSession(vm.vmId, vm.volumeId);
    if (res.status !== 201) throw new Error(`session: ${res.status} ${res.text}`);
    const xts = opensslSpeed(['-evp', 'aes-256-xts'], sectorSize, SECONDS, cores);
    const hmac = opensslSpeed(['-hmac', 'sha256'], sectorSize, SECONDS, cores);
    let seq = 1;
    for (const op of OPS) {
      const job: BlockLoadJob = { port, sessionId: res.body.sessionId, key: key!, op, sectorSize, sectors: BATCH / sectorSize, concurrency: CONCURRENCY, seconds: 1, firstSeq: seq };
      seq = (await client.run(job)).nextSeq; // warm-up
      const { mbs, requestsPerSecond, perCpuSecond, statuses, nextSeq } = await bestOf({ ...job, firstSeq: seq });
      seq = nextSeq;
      const ref = op === 'encrypt' ? xts : xts && hmac ? 1 / (1 / xts + 1 / hmac) : null;
      const refPerCore = ref ? ref / cores : null;
      const refText = op === 'encrypt' ? `openssl speed -evp aes-256-xts -multi ${cores}` : `1/(1/xts + 1/hmac), hmac = openssl speed -hmac sha256 -multi ${cores}: ${hmac?.toFixed(0)}`;
      const bad = Object.entries(statuses).filter(([s]) => s !== '200');
      console.log(
        [
          String(sectorSize).padStart(6),
          op.padEnd(13),
          mbs.toFixed(0).padStart(6),
          requestsPerSecond.toFixed(0).padStart(6),
          (ref?.toFixed(0) ?? '-').padStart(8),
          (ref ? (mbs / ref).toFixed(2) : '-').padStart(6),
          perCpuSecond.toFixed(0).padStart(9),
          (refPerCore?.toFixed(0) ?? '-').padStart(9),
          (refPerCore ? (perCpuSecond / refPerCore).toFixed(2) : '-').padStart(6),
          ` ${refText}${bad.length ? `  (non-200: ${JSON.stringify(Object.fromEntries(bad))})` : ''}`,
        ].join(' '),
      );
    }
    await d.sessions.end(res.body.sessionId, 'closed');
  }
  await transportCeiling();
} finally {
  await client.close();
  server.close();
  await d.close();
}

/** node:http answering each body with itself (no routing, no seal, no cipher), to the same client and batches. */
async function transportCeiling(): Promise<void> {
  const echo = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length });
      res.end(body);
    });
  });
  echo.listen(0, '127.0.0.1');
  await once(echo, 'listening');
  try {
    const job: BlockLoadJob = { port: (echo.address() as { port: number }).port, sessionId: 'echo', key: new Uint8Array(32), op: 'encrypt', sectorSize: 4096, sectors: BATCH / 4096, concurrency: CONCURRENCY, seconds: SECONDS, firstSeq: 1, unsealedAnswers: true };
    await client.run({ ...job, seconds: 1 });
    const { mbs, perCpuSecond } = await bestOf(job);
    console.log(`transport ceiling: node:http echoing ${BATCH >> 10} KiB bodies to the same client: ${mbs.toFixed(0)} MB/s, ${perCpuSecond.toFixed(0)} MB per CPU-second of the server`);
  } finally {
    echo.close();
  }
}
