// Hosts end to end: a cloud-admin registers a host by its EK certificate and approves its launch;
// the host's adapter activates a credential in its own TPM, quotes its TXT launch and becomes a
// data-plane principal while the attestation is fresh. A stale attestation, a replayed quote,
// an unapproved launch and an EK from an untrusted manufacturer are each refused.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { asProvider } from '@sealkeep/store';
import { InProcessTransport, ManufacturerCa, Tpm, TpmClient, TPM_SU, commands, provisionEndorsement } from '@sealkeep/tpm';
import { activateCredential, attestToService, authorizationHeader, SealkeepError } from '@sealkeep/sdk';
import { evidenceFixture, MLE, SINIT } from '../../../../../packages/attestation/src/evidence/evidence.fixture.js';
import { verifyEvidence } from '@sealkeep/attestation';
import { buildListeners } from '../../server.js';
import { apiFixture, type ApiFixture, type App } from '../quotas/api.fixture.js';
import { newKeyPair } from '@sealkeep/crypto';

let f: ApiFixture;
let fx: Awaited<ReturnType<typeof evidenceFixture>>;
let admin: App;
let data: App;
let compliance: App;
let server: Server;
let dataUrl: string;
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

before(async () => {
  f = await apiFixture();
  fx = await evidenceFixture();
  const serviceTpm = new TpmClient(new InProcessTransport(new Tpm()));
  await serviceTpm.call(commands.Startup, {}, { startupType: TPM_SU.CLEAR });
  const hosts = { tpm: serviceTpm, settings: { trustedRoots: fx.trustedRoots, freshSeconds: 60 } };
  [data, admin, compliance] = buildListeners({ store: f.store, hosts }, [['data'], ['admin'], ['compliance']]) as unknown as [App, App, App];
  server = (data as unknown as { listen(p: number, h: string): Server }).listen(0, '127.0.0.1');
  await once(server, 'listening');
  dataUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  await new Promise((r) => server.close(r));
  await f.store.close();
});

const ekPem = () => new X509Certificate(fx.ekCertificate).toString();

async function registered(name: string, mle = sha256(MLE)) {
  const r = await f.call(admin, f.operator, 'post', '/v1/hosts', { name, ekCertificatePem: ekPem() });
  assert.equal(r.status, 201, r.text);
  const p = await f.call(admin, f.operator, 'put', `/v1/hosts/${r.body.hostId}/launch-policy`, { sinitDigests: [sha256(SINIT)], mleDigests: [mle] });
  assert.equal(p.status, 200, p.text);
  return r.body.hostId as string;
}

function attest(hostId: string, adapterKey = newKeyPair('ec', { namedCurve: 'P-256' }).privateKey, evidence?: (nonce: Buffer) => Promise<unknown>) {
  return {
    adapterKey,
    result: attestToService({
      dataUrl,
      hostId,
      adapterKey,
      akPublic: fx.ak.tpm2bPublic,
      activate: (c) => activateCredential(fx.client, fx.ak.handle, c),
      evidence: evidence ?? ((nonce) => fx.bundle(nonce)),
    }),
  };
}

const self = (key: Parameters<typeof authorizationHeader>[0]['key'], principalId: string) =>
  request(data).get('/v1/self').set('authorization', authorizationHeader({ key, principalId, method: 'get', url: '/v1/self' }));

test('register, approve, attest: the adapter acts on the data plane while its attestation is fresh', async () => {
  const hostId = await registered('host-07');
  const { adapterKey, result } = attest(hostId);
  const a = await result;
  assert.ok(new Date(a.attestedUntil).getTime() > Date.now());
  const me = await self(adapterKey, a.principalId);
  assert.equal(me.status, 200, me.text);
  assert.equal(me.body.role, 'hypervisor');

  await asProvider(f.store.db, (trx) => trx('hosts').where({ host_id: hostId }).update({ attested_until: new Date(Date.now() - 1000) }));
  const stale = await self(adapterKey, a.principalId);
  assert.equal(stale.status, 401);
  assert.equal(stale.body.type, 'https://sealkeep.dev/problems/attestation-stale');

  const again = await attest(hostId, adapterKey).result;
  assert.equal(again.principalId, a.principalId, 'the same adapter key keeps its identity');
  assert.equal((await self(adapterKey, a.principalId)).status, 200);
  const listed = await f.call(admin, f.operator, 'get', `/v1/hosts/${hostId}`);
  assert.equal(listed.body.status, 'attested');
});

test('a replayed quote is refused, and the identity lapses at once', async () => {
  const hostId = await registered('host-08');
  let kept: unknown;
  const first = attest(hostId, undefined, async (nonce) => (kept = await fx.bundle(nonce)));
  const a = await first.result;
  assert.equal((await self(first.adapterKey, a.principalId)).status, 200);
  const replay = attest(hostId, first.adapterKey, async () => kept);
  await assert.rejects(replay.result, (e: unknown) => e instanceof SealkeepError && e.status === 403 && /quote-nonce-mismatch/.test(JSON.stringify(e.problem)));
  assert.equal((await self(first.adapterKey, a.principalId)).status, 401, 'a failed attestation revokes the identity');
  const host = (await f.call(admin, f.operator, 'get', `/v1/hosts/${hostId}`)).body;
  assert.equal(host.status, 'failed');
  assert.match(host.lastFailure, /quote-nonce-mismatch/);
});

test('a launch the cloud-admin did not approve is refused', async () => {
  const hostId = await registered('host-09', sha256(Buffer.from('another hypervisor build')));
  await assert.rejects(attest(hostId).result, (e: unknown) => e instanceof SealkeepError && e.status === 403 && /launch-mle-not-approved/.test(JSON.stringify(e.problem)));
});

test('an EK from an untrusted manufacturer cannot be registered; a credential for another TPM does not open', async () => {
  const stranger = new TpmClient(new InProcessTransport(new Tpm()));
  await stranger.call(commands.Startup, {}, { startupType: TPM_SU.CLEAR });
  const foreign = await provisionEndorsement(stranger, await ManufacturerCa.create());
  const r = await f.call(admin, f.operator, 'post', '/v1/hosts', { name: 'host-x', ekCertificatePem: foreign.eccP256.certificate.pem });
  assert.equal(r.status, 400);
  assert.match(r.body.detail, /trusted TPM manufacturer root/);

  // Register the fixture's EK under a second name, but answer with a TPM that holds another EK.
  const hostId = await registered('host-10');
  const impostor = attestToService({
    dataUrl,
    hostId,
    adapterKey: newKeyPair('ed25519').privateKey,
    akPublic: fx.ak.tpm2bPublic,
    activate: (c) => activateCredential(stranger, fx.ak.handle, c),
    evidence: (nonce) => fx.bundle(nonce),
  });
  await assert.rejects(impostor, 'the credential opens only in the TPM holding the registered EK');
});

test("a reviewer fetches the host's evidence and verifies it offline against the manufacturer root", async () => {
  const hostId = await registered('host-11');
  await attest(hostId).result;
  const reviewer = await f.addPrincipal(null, 'rita', 'reviewer');
  const r = await f.call(compliance, reviewer, 'get', `/v1/hosts/${hostId}/evidence`);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.bundle.subject.id, 'host-11');
  const verdict = await verifyEvidence(r.body.bundle, { trustedRoots: fx.trustedRoots, nonce: r.body.nonce });
  assert.deepEqual(verdict.findings.filter((x) => x.severity === 'error'), []);
  assert.equal(verdict.ok, true);
  // The approved reference values travel with it and hold; another nonce does not.
  assert.ok(!verdict.findings.some((x) => x.id.startsWith('policy-pcr')));
  const replayed = await verifyEvidence(r.body.bundle, { trustedRoots: fx.trustedRoots, nonce: 'ab'.repeat(32) });
  assert.ok(replayed.findings.some((x) => x.id === 'quote-nonce-mismatch'));
  assert.equal((await f.call(compliance, f.operator, 'get', `/v1/hosts/${hostId}/evidence`)).status, 403, 'the cloud-admin reads no evidence');
  const audit = await asProvider(f.store.db, (trx) => trx('audit_entries').where({ chain_id: 'provider' }).select('line'));
  assert.ok(audit.some((a) => /"action":"evidence.read"/.test(a.line) && /rv:rita|rita/.test(a.line)), "the reviewer's read is audited");
});

test('sealkeep evidence get, then sealkeep verify evidence: the reviewer\'s whole path, offline at the end', { timeout: 120_000 }, async () => {
  const { execFile } = await import('node:child_process');
  // Asynchronous: the service answering the CLI runs in this process.
  const run = (args: string[]) =>
    new Promise<{ status: number; stdout: string; stderr: string }>((resolve) =>
      execFile(process.execPath, args, { encoding: 'utf8' }, (err, stdout, stderr) => resolve({ status: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr })),
    );
  const { mkdtempSync, rmSync, writeFileSync } = await import('node:fs');
  const os = await import('node:os');
  const path = await import('node:path');
  const { fileURLToPath } = await import('node:url');
  const { saveProfile } = await import('@sealkeep/sdk');
  const hostId = await registered('host-12');
  await attest(hostId).result;
  const reviewer = await f.addPrincipal(null, 'vera', 'reviewer');
  const listener = (compliance as unknown as { listen(p: number, h: string): Server }).listen(0, '127.0.0.1');
  await once(listener, 'listening');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sealkeep-evidence-cli-'));
  try {
    const profile = path.join(dir, 'vera.json');
    saveProfile(profile, { principalId: reviewer.id, name: 'vera', role: 'reviewer', tenantId: null, privateJwk: reviewer.key.export({ format: 'jwk' }), endpoints: { compliance: `http://127.0.0.1:${(listener.address() as AddressInfo).port}` } });
    const cli = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../../packages/sdk/bin/sealkeep.mjs');
    const bundle = path.join(dir, 'bundle.json');
    const got = await run([cli, '--profile', profile, 'evidence', 'get', hostId, '--out', bundle, '--json']);
    assert.equal(got.status, 0, got.stderr);
    const { nonce } = JSON.parse(got.stdout);
    const root = path.join(dir, 'manufacturer.pem');
    writeFileSync(root, fx.trustedRoots[0]!);
    const checked = await run([cli, 'verify', 'evidence', bundle, '--root', root, '--nonce', nonce]);
    assert.equal(checked.status, 0, checked.stdout + checked.stderr);
    assert.match(checked.stdout, /evidence OK: host host-12/);
  } finally {
    await new Promise((r) => listener.close(r));
    rmSync(dir, { recursive: true, force: true });
  }
});
