// Tenant key throughput through the API (tenant plane, real HTTP, request proofs, audit entry per
// request, the in-process host TPM): small-payload encrypt (AES-256-GCM), sign (ECDSA P-256 in
// the TPM) and HMAC (in the TPM), single and batched, at concurrency 1 and 8; and BYOK imports
// (import job with a TPM-made RSA-3072 wrapping key and its certification, local wrap, import).
// Each figure beside node:crypto doing the same operation in this process, on one core.
// Not a test: nothing here passes or fails on speed.
//   npm run bench -- keys        (BENCH_SECONDS, default 3 s per figure)

import { constants, createCipheriv, createDecipheriv, createHmac, privateDecrypt, publicEncrypt, randomBytes, randomUUID, sign } from 'node:crypto';
import type { Server } from 'node:http';
import os from 'node:os';
import { pino } from 'pino';
import { jwkThumbprint, publicJwk, newKeyPair } from '@sealkeep/crypto';
import { authorizationHeader } from '@sealkeep/sdk';
import { asSystem } from '@sealkeep/store';
import { buildListeners } from '../src/server.js';
import { createLogger } from '../src/logging.js';
import { insertPrincipal } from '../src/features/principals/store.js';
import { keysContext } from '../src/features/keys/keys-context.js';
import { openTestEngine } from '../src/features/keys/keys.fixture.js';
import { wrapForImport } from '../src/features/keys/keys-api.fixture.js';
import type { LoadResult } from './http-load.js';
import { benchStore, listen, LoadClient, measure, rate, SECONDS, signedCall, type Workload } from './bench-kit.js';

const CONCURRENCY = [1, 8] as const;
const BATCH = 100;
const IMPORTS = Number(process.env.BENCH_IMPORTS ?? 8);

/** Operations per second of `op` on this thread for about a second. */
function perSecond(op: () => unknown): number {
  for (let i = 0; i < 200; i++) op();
  let n = 0;
  const start = performance.now();
  while (performance.now() - start < 1000) {
    for (let i = 0; i < 50; i++) op();
    n += 50;
  }
  return n / ((performance.now() - start) / 1000);
}

function nodeReferences() {
  const aes = randomBytes(32);
  const payload = randomBytes(64);
  const ec = newKeyPair('ec', { namedCurve: 'P-256' }).privateKey;
  const kwpIv = Buffer.from('a65959a6', 'hex');
  return {
    encrypt: perSecond(() => {
      const c = createCipheriv('aes-256-gcm', aes, randomBytes(12));
      c.update(payload);
      c.final();
      c.getAuthTag();
    }),
    sign: perSecond(() => sign('sha256', payload, ec)),
    hmac: perSecond(() => createHmac('sha256', aes).update(payload).digest()),
    // An import's cryptography in node:crypto: a fresh RSA-3072 key, OAEP decrypt, RFC 5649 unwrap.
    import: (() => {
      const start = performance.now();
      for (let i = 0; i < 4; i++) {
        const { publicKey, privateKey } = newKeyPair('rsa', { modulusLength: 3072 });
        const kek = randomBytes(32);
        const wrapped = publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, kek);
        const w = createCipheriv('id-aes256-wrap-pad', kek, kwpIv);
        const blob = Buffer.concat([w.update(aes), w.final()]);
        const opened = privateDecrypt({ key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, wrapped);
        const u = createDecipheriv('id-aes256-wrap-pad', opened, kwpIv);
        Buffer.concat([u.update(blob), u.final()]);
      }
      return 4 / ((performance.now() - start) / 1000);
    })(),
  };
}

const cell = (r: LoadResult, per = 1) => `${Math.round(rate(r) * per)}${r.ranDry ? '*' : ''}`.padStart(12);
const row = (name: string, cells: string[]) => console.log(name.padEnd(40) + cells.join(''));

async function main(): Promise<void> {
  const reference = nodeReferences(); // first, while nothing else runs
  const { store, label, dispose } = await benchStore();
  const engine = await openTestEngine();
  const client = new LoadClient();
  const servers: Server[] = [];
  try {
    const log = createLogger('info', pino.destination({ dest: '/dev/null', sync: true }));
    const keys = await keysContext(engine.host, engine.engine, null);
    const [app] = buildListeners({ store, keys, onRequest: (e) => log.info(e, 'request') }, [['tenant']]);
    const tenant = await listen(app!);
    servers.push(tenant.server);

    const tenantId = randomUUID();
    await asSystem(store.db, 'bench set-up', (trx) => trx('tenants').insert({ tenant_id: tenantId, name: `bench-keys-${tenantId.slice(0, 8)}` }));
    const principal = async (name: string, role: 'tenant-admin' | 'tenant-user') => {
      const key = newKeyPair('ec', { namedCurve: 'P-256' }).privateKey;
      const jwk = publicJwk(key);
      const id = randomUUID();
      await insertPrincipal(store.db, { principal_id: id, tenant_id: tenantId, name, role, public_jwk: jwk, jwk_thumbprint: jwkThumbprint(jwk) });
      return { id, key };
    };
    const officer = await principal('bench-officer', 'tenant-admin');
    const user = await principal('bench-user', 'tenant-user');
    const call = (who: typeof user, url: string, body: unknown) => {
      const b = JSON.stringify(body);
      return signedCall(tenant.port, 'POST', url, authorizationHeader({ key: who.key, principalId: who.id, method: 'POST', url, body: b }), b);
    };
    const base = `/v1/tenants/${tenantId}/keys`;
    const aes = await call(officer, base, { name: 'bench-aes', type: 'aes-256' });
    const ec = await call(officer, base, { name: 'bench-ec', type: 'ec-p256' });
    const mac = await call(officer, base, { name: 'bench-hmac', type: 'hmac-sha256' });

    const workload = (name: string, path: string, body: () => unknown): Workload => ({
      name,
      port: tenant.port,
      method: 'POST',
      path,
      make: (n) =>
        Array.from({ length: n }, () => {
          const b = JSON.stringify(body());
          return { body: b, authorization: authorizationHeader({ key: user.key, principalId: user.id, method: 'POST', url: path, body: b }) };
        }),
    });
    const small = () => randomBytes(64).toString('base64');
    const workloads: Array<[Workload, number, keyof typeof reference]> = [
      [workload('encrypt 64 B (AES-256-GCM)', `${base}/${aes.keyId}/encrypt`, () => ({ plaintext: small() })), 1, 'encrypt'],
      [workload(`batch encrypt ${BATCH} × 64 B, items/s`, `${base}/${aes.keyId}/batch/encrypt`, () => ({ items: Array.from({ length: BATCH }, () => ({ plaintext: small() })) })), BATCH, 'encrypt'],
      [workload('sign 64 B (ECDSA P-256, TPM2_Sign)', `${base}/${ec.keyId}/sign`, () => ({ message: small() })), 1, 'sign'],
      [workload('hmac 64 B (TPM2_HMAC)', `${base}/${mac.keyId}/hmac`, () => ({ message: small() })), 1, 'hmac'],
      [workload(`batch hmac ${BATCH} × 64 B, items/s`, `${base}/${mac.keyId}/batch/hmac`, () => ({ items: Array.from({ length: BATCH }, () => ({ message: small() })) })), BATCH, 'hmac'],
    ];

    console.log(`Sealkeep tenant keys over HTTP: ${SECONDS} s per figure after a warm-up; in-process host TPM; one audit entry per request`);
    console.log(`store: ${label}`);
    console.log(`cpus: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'unknown'}; node ${process.version}\n`);
    row('operations/s', [...CONCURRENCY.map((c) => `c=${c}`.padStart(12)), 'node:crypto'.padStart(14), 'best ÷ node'.padStart(13)]);
    for (const [w, per, ref] of workloads) {
      const figures: LoadResult[] = [];
      for (const c of CONCURRENCY) figures.push(await measure(client, w, c));
      const best = Math.max(...figures.map((r) => rate(r) * per));
      const bad = figures.flatMap((r) => Object.entries(r.statuses).filter(([s]) => !s.startsWith('2')));
      row(w.name, [...figures.map((r) => cell(r, per)), String(Math.round(reference[ref])).padStart(14), (best / reference[ref]).toFixed(4).padStart(13)]);
      if (bad.length) console.log(`   non-2xx answers: ${bad.map(([s, n]) => `${n} × ${s}`).join(', ')}`);
    }

    const material = randomBytes(32);
    const start = performance.now();
    for (let i = 0; i < IMPORTS; i++) {
      const job = await call(officer, `/v1/tenants/${tenantId}/import-jobs`, { keyName: `bench-import-${i}`, keyType: 'aes-256' });
      const wrappedKey = wrapForImport(job.wrappingKey.spkiPem, material, 'rsa-aes-key-wrap-sha256').toString('base64');
      await call(officer, `${base}/import`, { importToken: job.importToken, wrappingAlgorithm: 'rsa-aes-key-wrap-sha256', wrappedKey });
    }
    const imports = IMPORTS / ((performance.now() - start) / 1000);
    row(`BYOK import (job + wrap + import), ×${IMPORTS}`, [imports.toFixed(2).padStart(12), ''.padStart(12), reference.import.toFixed(2).padStart(14), (imports / reference.import).toFixed(4).padStart(13)]);
    console.log('\nnode:crypto on one core: a new cipher per 64-byte GCM encryption; crypto.sign per ECDSA signature; an HMAC per message;');
    console.log('an import = a new RSA-3072 key + OAEP decrypt + RFC 5649 unwrap. * = the pre-signed requests ran out before the time did.');
  } finally {
    await client.close();
    for (const s of servers) {
      s.closeAllConnections();
      s.close();
    }
    await engine.close();
    await dispose();
  }
}

await main();
