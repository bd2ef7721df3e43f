// The listeners over TLS: the data plane's block stream upgrades and answers sealed frames over
// TLS as over TCP, and the SDK's block session (the adapter's client) opens and round-trips
// sectors over it, streamed and one request each; a client that does not trust the certificate
// or speaks plain HTTP gets nothing, and one that sends nothing is closed when a request's head
// would be; a pair outside its validity period is refused; the service started with
// SEALKEEP_TLS_CERT/_KEY serves its planes over TLS (the data plane plain if told so), takes a renewed certificate on SIGHUP
// without a restart, and keeps the one it has when the renewal does not load or claims another
// identity than the measured one.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { createConnection, type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import {
  ANSWER_SEALED,
  BLOCK_STREAM_PROTOCOL,
  BODY_SEALS,
  blockRequestUrl,
  blockStreamPath,
  encodeRequestHeader,
  openBody,
  sealBody,
  sessionAuthorization,
} from '@sealkeep/crypto';
import express, { type Express } from 'express';
import { dataPlane, generations, Raw } from './features/blocks/data-plane.fixture.js';
import { requestTimeouts, serverFor } from './http/listen.js';
import { readTlsCredentials } from './http/tls-credentials.js';
import { getOverTls, testCa } from './tls.fixture.js';
import { eventually, freePort } from './test-kit.fixture.js';

const LIMIT = { timeout: 60_000 };

test('the data plane over TLS: the block stream upgrades and answers a sealed frame; an untrusted certificate or plain HTTP gets nothing', LIMIT, async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sealkeep-tls-'));
  const d = await dataPlane();
  const ca = testCa(dir);
  const server = serverFor(d.dataApp as unknown as Express, readTlsCredentials({ ...ca.issue('data-plane'), from: 'environment' })).listen(0, '127.0.0.1');
  const sockets: tls.TLSSocket[] = [];
  t.after(async () => {
    for (const socket of sockets) socket.destroy(); // (an upgraded connection is the route's: close() would wait for it)
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await d.close();
    rmSync(dir, { recursive: true, force: true });
  });
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;

  const vm = await d.readyVm();
  const { res, key } = await d.openSession(vm.vmId, vm.volumeId);
  assert.equal(res.status, 201, res.text);
  const sessionId = res.body.sessionId as string;
  const socket = tls.connect({ host: '127.0.0.1', port, ca: ca.ca });
  sockets.push(socket);
  await once(socket, 'secureConnect');
  const from = new Raw(socket);
  const upgradeSeq = 1;
  const upgradeTag = sealBody(key!, upgradeSeq, 'request', 'encrypted', 'GET', blockStreamPath(sessionId), []);
  socket.write(`GET ${blockStreamPath(sessionId)} HTTP/1.1\r\nHost: sealkeep\r\nConnection: Upgrade\r\nUpgrade: ${BLOCK_STREAM_PROTOCOL}\r\nAuthorization: ${sessionAuthorization(upgradeSeq, upgradeTag)}\r\n\r\n`);
  assert.equal((await from.http()).status, 101);

  const n = 4;
  const plaintext = randomBytes(4096 * n);
  const body = Buffer.concat([generations(n), plaintext]);
  const seq = 2;
  const tag = sealBody(key!, seq, 'request', BODY_SEALS['encrypt-sign'].request, 'POST', blockRequestUrl(sessionId, 'encrypt-sign', 0n), [body]);
  socket.write(Buffer.concat([encodeRequestHeader({ length: body.length, op: 'encrypt-sign', seq, lba: 0n, tag }), body]));
  const answer = await from.answer();
  assert.equal(answer.header.kind, ANSWER_SEALED, answer.body.toString());
  assert.ok(openBody(key!, seq, 'answer', BODY_SEALS['encrypt-sign'].answer, 'POST', blockRequestUrl(sessionId, 'encrypt-sign', 0n), [answer.body], answer.header.tag), 'the answer holds its seal');
  assert.equal(answer.body.length, n * (4096 + 32));
  assert.ok(!answer.body.subarray(0, 4096 * n).equals(plaintext), 'ciphertext came back');

  const untrusted = tls.connect({ host: '127.0.0.1', port });
  const [refused] = (await once(untrusted, 'error')) as [NodeJS.ErrnoException];
  assert.equal(refused.code, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'a certificate the client does not trust is refused');
  await assert.rejects(fetch(`http://127.0.0.1:${port}/v1/service-key`), 'plain HTTP gets no answer');
});

test("the SDK's block session over TLS, as the adapter runs it (--service https://…): opened with fetch, sectors round-trip on the block stream and on one request each; a client that does not trust the authority opens nothing", LIMIT, async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sealkeep-tls-sdk-'));
  const d = await dataPlane();
  const ca = testCa(dir);
  const server = serverFor(d.dataApp as unknown as Express, readTlsCredentials({ ...ca.issue('data-plane'), from: 'environment' })).listen(0, '127.0.0.1');
  t.after(async () => {
    await d.sessions.closeAll(); // (their block streams are the routes' connections: close() waits for them)
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await d.close();
    rmSync(dir, { recursive: true, force: true });
  });
  await once(server, 'listening');
  const vm = await d.readyVm();
  const session = {
    url: `https://localhost:${(server.address() as AddressInfo).port}`,
    hv: d.hv.id,
    key: d.hv.key.export({ type: 'pkcs8', format: 'pem' }),
    delegation: await d.hvToken(),
    tenantId: d.api.tenantId,
    vmId: vm.vmId,
    volumeId: vm.volumeId,
  };
  // The client in a process that trusts the test's authority (Node reads NODE_EXTRA_CA_CERTS at start).
  const client = `
    import { createPrivateKey, randomBytes } from 'node:crypto';
    import { openBlockSession } from ${JSON.stringify(fileURLToPath(new URL('../../../packages/sdk/src/index.ts', import.meta.url)))};
    const o = JSON.parse(process.argv[1]);
    const out = {};
    for (const stream of [true, false]) {
      try {
        const s = await openBlockSession({ dataUrl: o.url, signer: { principalId: o.hv, key: createPrivateKey(o.key), delegation: o.delegation }, tenantId: o.tenantId, vmId: o.vmId, volumeId: o.volumeId, stream });
        const plain = randomBytes(4096 * 8);
        const generations = BigUint64Array.from({ length: 8 }, () => 1n);
        const { ciphertext, tags } = await s.encryptSign(16n, generations, Buffer.from(plain));
        const back = await s.verifyDecrypt(16n, generations, ciphertext, tags);
        await s.close();
        out[stream ? 'stream' : 'requests'] = back.equals(plain) && !ciphertext.equals(plain) ? 'round-trip' : 'differs';
      } catch (e) {
        out[stream ? 'stream' : 'requests'] = e.cause?.code ?? e.code ?? e.message;
      }
    }
    console.log(JSON.stringify(out));`;
  const run = (trust: boolean) =>
    promisify(execFile)(process.execPath, ['--conditions=sealkeep-source', '--import', 'tsx', '--input-type=module', '-e', client, JSON.stringify(session)], {
      env: { ...process.env, NODE_EXTRA_CA_CERTS: trust ? ca.caFile : '' },
    }).then(({ stdout }) => JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, string>);
  assert.deepEqual(await run(true), { stream: 'round-trip', requests: 'round-trip' });
  assert.deepEqual(await run(false), { stream: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', requests: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
});

test('a TLS connection that sends nothing is closed once a request head would be late; a pair outside its validity period is refused', LIMIT, async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sealkeep-tls-idle-'));
  const files = { ...testCa(dir).issue('idle'), from: 'environment' as const };
  const headMs = requestTimeouts.headMs;
  requestTimeouts.headMs = 500;
  const server = serverFor(express(), readTlsCredentials(files)).listen(0, '127.0.0.1');
  requestTimeouts.headMs = headMs;
  t.after(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    rmSync(dir, { recursive: true, force: true });
  });
  await once(server, 'listening');
  const silent = createConnection((server.address() as AddressInfo).port, '127.0.0.1');
  silent.on('error', () => undefined);
  const started = performance.now();
  await once(silent, 'close');
  assert.ok(performance.now() - started < 10_000, 'closed by the handshake limit, not the 120 s TLS default');

  const later = new Date(Date.now() + 5 * 86_400_000);
  assert.throws(() => readTlsCredentials(files, later), /SEALKEEP_TLS_CERT .*idle\.pem: valid from .* to .*, not now/);
  const json = JSON.stringify(readTlsCredentials(files));
  assert.doesNotMatch(json, /PRIVATE|"key"|"data"/, 'the key does not leave through JSON (a log line, an error)');
  assert.match(json, /"fingerprint"/);
});

test('the service with SEALKEEP_TLS_CERT/_KEY: the planes over TLS, the data plane plain with SEALKEEP_TLS_DATA_PLANE=off; SIGHUP takes a renewed certificate without a restart, and keeps the one it has when the renewal does not load', LIMIT, async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sealkeep-tls-main-'));
  const ca = testCa(dir);
  const first = ca.issue('first');
  const [certFile, keyFile] = [path.join(dir, 'service.pem'), path.join(dir, 'service.key')];
  copyFileSync(first.certFile, certFile);
  copyFileSync(first.keyFile, keyFile);
  const [admin, tenant, data] = [await freePort(), await freePort(), await freePort()];
  const env: NodeJS.ProcessEnv = { ...process.env, SEALKEEP_DATA_DIR: path.join(dir, 'data'), SEALKEEP_ADMIN_PORT: String(admin), SEALKEEP_TENANT_PORT: String(tenant), SEALKEEP_DATA_PORT: String(data), SEALKEEP_TLS_CERT: certFile, SEALKEEP_TLS_KEY: keyFile, SEALKEEP_TLS_DATA_PLANE: 'off', SEALKEEP_LOG_LEVEL: 'info' };
  delete env.DATABASE_URL;
  const main = fileURLToPath(new URL('./main.ts', import.meta.url));
  const child = spawn(process.execPath, ['--conditions=sealkeep-source', '--import', 'tsx', main], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout!.on('data', (c: Buffer) => (log += c.toString('utf8')));
  child.stderr!.on('data', (c: Buffer) => (log += c.toString('utf8')));
  t.after(() => {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  const logged = (message: string) => eventually(() => log.includes(message), () => `logged "${message}":\n${log}`, 30_000); // (the start included)

  await logged('"planes":["tenant"]');
  await logged('"planes":["admin","compliance"]');
  const ready = await getOverTls(admin, '/readyz', ca.ca);
  assert.equal(ready.status, 200);
  assert.deepEqual(JSON.parse(ready.body), { status: 'ready', checks: { store: true } });
  assert.equal(ready.fingerprint, first.fingerprint);
  assert.equal((await getOverTls(tenant, '/healthz', ca.ca)).fingerprint, first.fingerprint, 'the tenant plane too');
  assert.equal((await fetch(`http://127.0.0.1:${data}/v1/service-key`)).status, 200, 'the data plane, left out, speaks plain HTTP');
  assert.match(log, /"planes":\["data"\][^\n]*"tls":false/);
  await assert.rejects(fetch(`http://127.0.0.1:${admin}/healthz`), 'no plain HTTP beside it');

  // Renewed in place, then SIGHUP: new connections get the new certificate.
  const renewed = ca.issue('renewed');
  copyFileSync(renewed.certFile, certFile);
  copyFileSync(renewed.keyFile, keyFile);
  child.kill('SIGHUP');
  await logged('TLS certificate read again');
  assert.equal((await getOverTls(admin, '/healthz', ca.ca)).fingerprint, renewed.fingerprint);
  assert.equal((await getOverTls(tenant, '/healthz', ca.ca)).fingerprint, renewed.fingerprint);

  // A renewal whose key is not its certificate's: refused, logged without the key, the last one kept.
  copyFileSync(first.keyFile, keyFile);
  child.kill('SIGHUP');
  await logged('could not be read again');
  assert.match(log, /the key is not the certificate's/);
  assert.doesNotMatch(log, /PRIVATE KEY/);
  const still = await getOverTls(admin, '/healthz', ca.ca);
  assert.equal(still.status, 200);
  assert.equal(still.fingerprint, renewed.fingerprint);

  // A pair that loads but claims other names than the measured ones: another identity, refused.
  const elsewhere = ca.issue('elsewhere', 'DNS:kms.elsewhere.example');
  copyFileSync(elsewhere.certFile, certFile);
  copyFileSync(elsewhere.keyFile, keyFile);
  child.kill('SIGHUP');
  await logged('claims another identity than the measured one');
  assert.equal((await getOverTls(admin, '/healthz', ca.ca)).fingerprint, renewed.fingerprint);

  const exited = new Promise<number | null>((r) => child.once('exit', r));
  child.kill('SIGTERM');
  assert.equal(await exited, 0);
});
