// `sealkeep keys import` end to end against the service: the officer's CLI fetches a real import
// job, verifies its TPM evidence against the manufacturer root pinned out of band, wraps a PEM
// key locally and uploads it; the key then signs as the tenant's own key does. A dry run shows
// the verdict only; a root the evidence does not chain to stops the import before any upload.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { verify } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ManufacturerCa } from '@sealkeep/tpm';
import { saveProfile } from '@sealkeep/sdk';
import { keysApi, type KeysApi } from './keys-api.fixture.js';
import { newKeyPair } from '@sealkeep/crypto';

const cli = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../../packages/sdk/bin/sealkeep.mjs');
let api: KeysApi;
let server: Server;
let dir: string;
let profile: string;

function sealkeep(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, '--profile', profile, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

before(async () => {
  api = await keysApi();
  server = (api.app as unknown as { listen(port: number, host: string): Server }).listen(0, '127.0.0.1');
  await once(server, 'listening');
  dir = mkdtempSync(path.join(os.tmpdir(), 'sealkeep-byok-cli-'));
  profile = path.join(dir, 'alice.json');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  saveProfile(profile, { principalId: api.officer.id, name: 'alice', role: 'tenant-admin', tenantId: api.tenantId, privateJwk: api.officer.key.export({ format: 'jwk' }), endpoints: { tenant: url } });
});
after(async () => {
  await new Promise((r) => server.close(r));
  await api.close();
  rmSync(dir, { recursive: true, force: true });
});

test('keys import: evidence verified against the pinned root, wrapped locally, usable after', { timeout: 120_000 }, async () => {
  const { privateKey } = newKeyPair('ec', { namedCurve: 'P-256' });
  const keyFile = path.join(dir, 'signer.pem');
  writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  const root = path.join(api.t.dataDir, 'manufacturer-root.pem');

  const dry = await sealkeep('keys', 'import', '--file', keyFile, '--name', 'payroll-signer', '--root', root, '--dry-run');
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stdout, /✓ certified-name/);
  assert.doesNotMatch(dry.stdout, /✗/);
  assert.equal((await api.call(api.officer, 'get', `${api.base}/keys`)).body.length, 0, 'a dry run imports nothing');

  const done = await sealkeep('keys', 'import', '--file', keyFile, '--name', 'payroll-signer', '--root', root, '--cia', 'high/high/moderate', '--json');
  assert.equal(done.code, 0, done.stderr);
  const keys = (await api.call(api.officer, 'get', `${api.base}/keys`)).body;
  assert.equal(keys.length, 1);
  assert.equal(keys[0].type, 'ec-p256');
  assert.deepEqual(keys[0].cia, { confidentiality: 'high', integrity: 'high', availability: 'moderate' });
  const signed = await api.call(api.user, 'post', `${api.base}/keys/${keys[0].keyId}/sign`, { message: Buffer.from('pay').toString('base64') });
  assert.ok(verify('sha256', Buffer.from('pay'), privateKey, Buffer.from(signed.body.signature, 'base64')), "the TPM signs with the tenant's own key");
});

test('keys import refuses evidence that does not chain to the pinned root, and uploads nothing', { timeout: 120_000 }, async () => {
  const other = path.join(dir, 'other-root.pem');
  writeFileSync(other, (await ManufacturerCa.create()).toPem());
  const keyFile = path.join(dir, 'aes.key');
  writeFileSync(keyFile, Buffer.alloc(32, 0x5a).toString('hex'), { mode: 0o600 });
  const before = (await api.call(api.officer, 'get', `${api.base}/keys`)).body.length;
  const refused = await sealkeep('keys', 'import', '--file', keyFile, '--type', 'aes-256', '--name', 'untrusted', '--root', other);
  assert.notEqual(refused.code, 0);
  assert.match(refused.stdout + refused.stderr, /✗ ak-certificate-chain/);
  assert.equal((await api.call(api.officer, 'get', `${api.base}/keys`)).body.length, before);
});
