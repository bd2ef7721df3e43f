// The service key taken on first use: over TLS the service's certificate names the service, so the
// adapter pins the first key presented without the operator's word; a server whose certificate the
// adapter cannot verify is not believed at all, and nothing is pinned. Over plain HTTP the first
// key needs --trust-service-key-on-first-use (pinned through the real service: remote-volume.test.ts),
// and without it the adapter refuses before it asks the service anything.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { jwkThumbprint, newKeyPair, publicJwk } from '@sealkeep/crypto';
import { freePort } from '../../../kms/src/test-kit.fixture.js';
import { testCa } from '../../../kms/src/tls.fixture.js';
import { temporaryDirectory } from '../test-kit.fixture.js';
import { silentLogger } from '../logger.js';
import { FirstKeyOverPlainHttp, trustedServiceKey } from './service-key.js';

test('over https:// the first service key is pinned with no word from the operator; a certificate the adapter cannot verify pins nothing', async (t) => {
  const { dir, remove } = temporaryDirectory('service-key-tls');
  const ca = testCa(dir);
  const { certFile, keyFile } = ca.issue('service');
  const jwk = publicJwk(newKeyPair('ec', { namedCurve: 'P-256' }).publicKey);
  const kid = jwkThumbprint(jwk);
  const server = https
    .createServer({ cert: readFileSync(certFile), key: readFileSync(keyFile) }, (req, res) => {
      if (req.method !== 'GET' || req.url !== '/v1/service-key') return void res.writeHead(404).end();
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ kid, jwk }));
    })
    .listen(0, '127.0.0.1');
  t.after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    remove();
  });
  await once(server, 'listening');
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const pinFile = path.join(dir, 'adapter.pem.service-key.json');

  // The adapter in a process of its own, which trusts the test's authority or not (Node reads NODE_EXTRA_CA_CERTS at start).
  const child = `
    import { trustedServiceKey } from ${JSON.stringify(fileURLToPath(new URL('./service-key.ts', import.meta.url)))};
    import { silentLogger } from ${JSON.stringify(fileURLToPath(new URL('../logger.ts', import.meta.url)))};
    const [url, pinFile] = process.argv.slice(1);
    try {
      console.log(JSON.stringify({ kid: (await trustedServiceKey({ dataUrl: url, pinFile, log: silentLogger })).kid }));
    } catch (e) {
      console.log(JSON.stringify({ refused: e.cause?.code ?? e.code ?? e.name }));
    }`;
  const run = (trust: boolean) =>
    promisify(execFile)(process.execPath, ['--conditions=sealkeep-source', '--import', 'tsx', '--input-type=module', '-e', child, url, pinFile], {
      env: { ...process.env, NODE_EXTRA_CA_CERTS: trust ? ca.caFile : '' },
      timeout: 60_000,
    }).then(({ stdout }) => JSON.parse(stdout.trim().split('\n').at(-1)!) as { kid?: string; refused?: string });

  assert.deepEqual(await run(false), { refused: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
  assert.equal(existsSync(pinFile), false, 'nothing pinned');
  assert.deepEqual(await run(true), { kid });
  assert.equal((JSON.parse(readFileSync(pinFile, 'utf8')) as { kid: string }).kid, kid, 'pinned beside the adapter key');
});

test('over plain HTTP with no key known, the first key is refused before the service is asked: the operator reads why even when no service answers', async () => {
  const tmp = temporaryDirectory('service-key-http');
  try {
    const url = `http://127.0.0.1:${await freePort()}`;
    const pinFile = path.join(tmp.dir, 'adapter.pem.service-key.json');
    await assert.rejects(trustedServiceKey({ dataUrl: url, pinFile, log: silentLogger }), FirstKeyOverPlainHttp);
    assert.equal(existsSync(pinFile), false);
    // With the operator's word, the adapter does ask, and finds no one there.
    await assert.rejects(trustedServiceKey({ dataUrl: url, pinFile, trustOnFirstUse: true, log: silentLogger }), (e: Error & { cause?: { code?: string } }) => e.cause?.code === 'ECONNREFUSED');
  } finally {
    tmp.remove();
  }
});
