// Service throughput over real HTTP, in-process listeners on ephemeral ports over a fresh store
// (embedded PGlite on disk; PostgreSQL when DATABASE_URL is set), the request log and metrics on
// as in production. A keep-alive node:http client in its own process measures, at concurrency 1,
// 8 and 32:
//   - authenticated reads: GET /v1/self, each request with its own ES256 request proof, signed
//     before the timed window (a proof's id is single-use, its time good for ±300 s);
//   - audited writes: POST /v1/tenants as a cloud-admin, unique names, one audit entry each in
//     the transaction of the change; afterwards every chain is exported and verified;
// beside references from the same run: `openssl speed ecdsap256` (the service verifies one ES256
// signature per request) and the same client against a bare express app answering {}.
// Not a test: nothing here passes or fails on speed.
//   npm run bench -- service        (BENCH_SECONDS, default 3 s per figure)

import { spawnSync } from 'node:child_process';
import { randomBytes, randomUUID, type KeyObject } from 'node:crypto';
import type { Server } from 'node:http';
import os from 'node:os';
import express from 'express';
import { pino } from 'pino';
import { jwkThumbprint, publicJwk, newKeyPair } from '@sealkeep/crypto';
import { verifyAuditLog } from '@sealkeep/attestation';
import { authorizationHeader, selfSignedAuthorizationHeader } from '@sealkeep/sdk';
import { asSystem, type Store } from '@sealkeep/store';
import { buildListeners } from '../src/server.js';
import { createLogger } from '../src/logging.js';
import { insertPrincipal } from '../src/features/principals/store.js';
import { exportChain } from '../src/audit/audit-log.js';
import type { LoadResult } from './http-load.js';
import { benchStore, listen, LoadClient, measure, PROBE_SECONDS, rate, SECONDS, signedCall, type Workload } from './bench-kit.js';

const CONCURRENCY = [1, 8, 32] as const;

function opensslEcdsaP256(): { sign: number; verify: number } | string {
  const r = spawnSync('openssl', ['speed', '-seconds', '2', 'ecdsap256'], { encoding: 'utf8' });
  if (r.error) return `not measured (${r.error.message})`;
  const m = /ecdsa \(nistp256\)\s+\S+s\s+\S+s\s+([\d.]+)\s+([\d.]+)/.exec(r.stdout);
  return m ? { sign: Number(m[1]), verify: Number(m[2]) } : 'not measured (unrecognised openssl output)';
}

/** Every audit chain exported as reviewers get it, and verified offline. */
async function verifyEveryChain(store: Store): Promise<{ chains: number; entries: number; failures: string[] }> {
  return asSystem(store.db, 'bench: export every chain to verify it', async (trx) => {
    const chains = (await trx('audit_chains').select('chain_id')) as Array<{ chain_id: string }>;
    let entries = 0;
    const failures: string[] = [];
    for (const { chain_id } of chains) {
      const report = verifyAuditLog(await exportChain(trx, chain_id));
      entries += report.counts.entries;
      if (!report.ok) failures.push(`${chain_id}: ${report.findings[0]?.message ?? 'not ok'}`);
    }
    return { chains: chains.length, entries, failures };
  });
}

const cell = (r: LoadResult) => `${Math.round(rate(r))}${r.ranDry ? '*' : ''} (${r.p99Ms.toFixed(1)})`.padStart(16);
const row = (name: string, cells: string[]) => console.log(name.padEnd(34) + cells.join(''));

async function main(): Promise<void> {
  const openssl = opensslEcdsaP256(); // first, while nothing else runs
  const { store, label, dispose } = await benchStore();
  const servers: Server[] = [];
  const client = new LoadClient();
  try {
    const log = createLogger('info', pino.destination({ dest: '/dev/null', sync: true }));
    let internalErrors = 0;
    const [tenantApp, adminApp] = buildListeners(
      {
        store,
        onRequest: (entry) => log.info(entry, 'request'),
        onInternalError: (err, requestId) => {
          internalErrors++;
          log.error({ err, requestId }, 'internal error');
        },
      },
      [['tenant'], ['admin', 'compliance']],
    );
    const tenant = await listen(tenantApp!);
    const admin = await listen(adminApp!);
    const bare = express();
    bare.get('/', (_req, res) => res.json({}));
    const bareListener = await listen(bare);
    servers.push(tenant.server, admin.server, bareListener.server);

    // A cloud-admin, and a tenant whose security officer enrolls over HTTP; both sign with ES256.
    const es256 = () => newKeyPair('ec', { namedCurve: 'P-256' }).privateKey;
    const ops = { id: randomUUID(), key: es256() };
    const opsJwk = publicJwk(ops.key);
    await insertPrincipal(store.db, { principal_id: ops.id, tenant_id: null, name: 'bench-ops', role: 'cloud-admin', public_jwk: opsJwk, jwk_thumbprint: jwkThumbprint(opsJwk) });
    const runId = randomBytes(3).toString('hex');
    const createBody = JSON.stringify({ name: `bench-${runId}` });
    const created = await signedCall(admin.port, 'POST', '/v1/tenants', authorizationHeader({ key: ops.key, principalId: ops.id, method: 'POST', url: '/v1/tenants', body: createBody }), createBody);
    const officerKey: KeyObject = es256();
    const enrollBody = JSON.stringify({ code: created.enrollment.code, name: 'bench-officer' });
    const officer = await signedCall(tenant.port, 'POST', '/v1/enroll', selfSignedAuthorizationHeader({ key: officerKey, method: 'POST', url: '/v1/enroll', body: enrollBody }), enrollBody);

    let tenantsMade = 0;
    let tenantsCreated = 1; // the officer's tenant
    const workloads: Array<Workload & { onDone(r: LoadResult): void }> = [
      {
        name: 'GET /v1/self (ES256 proof)',
        port: tenant.port,
        method: 'GET',
        path: '/v1/self',
        make: (n) => Array.from({ length: n }, () => ({ authorization: authorizationHeader({ key: officerKey, principalId: officer.principalId, method: 'GET', url: '/v1/self' }) })),
        onDone: () => {},
      },
      {
        name: 'POST /v1/tenants (audited)',
        port: admin.port,
        method: 'POST',
        path: '/v1/tenants',
        make: (n) =>
          Array.from({ length: n }, () => {
            const body = JSON.stringify({ name: `bench-${runId}-${++tenantsMade}` });
            return { body, authorization: authorizationHeader({ key: ops.key, principalId: ops.id, method: 'POST', url: '/v1/tenants', body }) };
          }),
        onDone: (r) => (tenantsCreated += r.statuses['201'] ?? 0),
      },
      { name: 'bare express, {} (no auth, no store)', port: bareListener.port, method: 'GET', path: '/', onDone: () => {} },
    ];

    console.log(`Sealkeep service over HTTP: ${SECONDS} s per figure after a ${PROBE_SECONDS} s warm-up; node:http keep-alive client in its own process`);
    console.log(`store: ${label}`);
    console.log('request log: pino with secret redaction, to /dev/null; metrics registry on');
    console.log(`cpus: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'unknown'}; node ${process.version}\n`);

    const results = new Map<string, LoadResult[]>();
    const unexpected: string[] = [];
    for (const w of workloads) {
      const figures: LoadResult[] = [];
      for (const c of CONCURRENCY) {
        const r = await measure(client, w, c, w.onDone);
        figures.push(r);
        const other = Object.entries(r.statuses).filter(([s]) => !s.startsWith('2'));
        if (other.length) unexpected.push(`${w.name} at c=${c}: ${other.map(([s, n]) => `${n} × ${s}`).join(', ')}`);
      }
      results.set(w.name, figures);
    }

    row('requests/s (p99 ms)', CONCURRENCY.map((c) => `c=${c}`.padStart(16)));
    for (const [name, figures] of results) row(name, figures.map(cell));
    const self = results.get(workloads[0]!.name)!;
    const bareFigures = results.get(workloads[2]!.name)!;
    row('GET /v1/self ÷ bare express', self.map((r, i) => (rate(r) / rate(bareFigures[i]!)).toFixed(3).padStart(16)));
    if (typeof openssl === 'string') console.log(`\nopenssl speed ecdsap256: ${openssl}`);
    else {
      row('GET /v1/self ÷ openssl verify/s', self.map((r) => (rate(r) / openssl.verify).toFixed(3).padStart(16)));
      console.log(`\nopenssl speed -seconds 2 ecdsap256 (one core): ${Math.round(openssl.verify)} verify/s, ${Math.round(openssl.sign)} sign/s`);
    }
    if ([...results.values()].flat().some((r) => r.ranDry)) console.log('* the pre-signed requests ran out before the time did: the figure covers the time until then');

    const audit = await verifyEveryChain(store);
    const expectedEntries = tenantsCreated + 1; // each creation, and the officer's enrollment
    console.log(
      `audit: ${audit.chains} chains, ${audit.entries} entries (${expectedEntries} expected), ` +
        (audit.failures.length ? `${audit.failures.length} chains FAIL verification: ${audit.failures.slice(0, 3).join('; ')}` : 'every chain verifies whole (verifyAuditLog)'),
    );
    console.log(unexpected.length ? `non-2xx answers: ${unexpected.join('; ')}` : 'non-2xx answers: none');
    if (internalErrors) console.log(`internal errors: ${internalErrors}`);
  } finally {
    await client.close();
    for (const s of servers) {
      s.closeAllConnections();
      s.close();
    }
    await dispose();
  }
}

await main();
