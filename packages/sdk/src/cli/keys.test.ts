// sealkeep keys import, as a tenant's officer runs it, against a stand-in tenant plane: the stand-in
// answers an import job with evidence made for the officer's nonce by a real in-process TPM
// (byok/evidence.fixture.ts), forged on demand, and records the upload. Its wrappingKey.spkiPem
// is an impostor's key: the CLI must wrap to the certified TPM key, which the test proves by
// having that TPM open the upload.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeJws, verifyJws, newKeyPair } from '@sealkeep/crypto';
import { saveProfile } from '../profile.js';
import { EvidenceHost } from '../byok/evidence.fixture.js';

const cli = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bin/sealkeep.mjs');
const officer = { id: randomUUID(), tenantId: randomUUID(), keys: newKeyPair('ec', { namedCurve: 'P-256' }) };
const impostorPem = newKeyPair('rsa', { modulusLength: 3072 }).publicKey.export({ type: 'spki', format: 'pem' }) as string;

let dir: string;
let server: Server;
let host: EvidenceHost;
let profilePath: string;
let rootPath: string;
let forge = false;
const jobRequests: Array<Record<string, unknown>> = [];
const uploads: Array<{ raw: Buffer; body: Record<string, unknown> }> = [];
const wrappingKeys = new Map<string, number>(); // import token → the TPM handle of its wrapping key

function proofHolds(authorization: string | undefined, raw: Buffer): boolean {
  const proof = decodeJws(String(authorization).replace(/^Sealkeep-Proof /, ''));
  return verifyJws(proof, officer.keys.publicKey) && proof.header.kid === officer.id && proof.payload.bdy === createHash('sha256').update(raw).digest('base64url');
}

async function answer(url: string, raw: Buffer): Promise<[number, unknown]> {
  const body = JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
  if (url === `/v1/tenants/${officer.tenantId}/import-jobs`) {
    jobRequests.push(body);
    const importJobId = randomUUID();
    const { evidence, wrappingKeyHandle } = await host.importEvidence({ importJobId, nonce: String(body.nonce) });
    if (forge) {
      const signature = Buffer.from(evidence.certify.signature, 'base64');
      signature[signature.length - 1]! ^= 1; // the last byte of ECDSA S
      evidence.certify.signature = signature.toString('base64');
    }
    const importToken = randomBytes(32).toString('base64url');
    wrappingKeys.set(importToken, wrappingKeyHandle);
    const expiresAt = new Date(Date.now() + 3_600_000).toISOString();
    return [201, { importJobId, importToken, keyName: body.keyName, keyType: body.keyType, expiresAt, wrappingKey: { ...evidence.wrappingKey, spkiPem: impostorPem }, evidence }];
  }
  if (url === `/v1/tenants/${officer.tenantId}/keys/import`) {
    uploads.push({ raw, body });
    // The service's key summary (abridged).
    const cia = body.cia ?? { confidentiality: 'moderate', integrity: 'moderate', availability: 'moderate' };
    const versions = [{ version: 1, origin: 'imported', createdAt: new Date().toISOString() }];
    return [201, { keyId: randomUUID(), name: jobRequests.at(-1)?.keyName, type: jobRequests.at(-1)?.keyType, state: 'enabled', primaryVersion: 1, cia, versions }];
  }
  return [404, { type: 'https://sealkeep.dev/problems/not-found', title: 'Not Found' }];
}

before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'sealkeep-keys-'));
  host = await EvidenceHost.start();
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (d: Buffer) => chunks.push(d));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const reply = proofHolds(req.headers.authorization, raw) ? answer(req.url ?? '', raw) : Promise.resolve([401, { type: 'https://sealkeep.dev/problems/unauthenticated' }] as [number, unknown]);
      void reply
        .catch((e: unknown): [number, unknown] => [500, { type: 'about:blank', detail: String(e) }])
        .then(([status, json]) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(json)));
    });
  }).listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  profilePath = path.join(dir, 'officer.json');
  saveProfile(profilePath, { principalId: officer.id, name: 'alice', role: 'tenant-admin', tenantId: officer.tenantId, privateJwk: officer.keys.privateKey.export({ format: 'jwk' }), endpoints: { tenant: url } });
  rootPath = path.join(dir, 'manufacturer.pem');
  writeFileSync(rootPath, host.ca.toPem());
});
after(async () => {
  await new Promise((r) => server.close(r));
  rmSync(dir, { recursive: true, force: true });
});

function sealkeep(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, '--profile', profilePath, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

const keyFile = (name: string, contents: string | Buffer) => {
  const file = path.join(dir, name);
  writeFileSync(file, contents, { mode: 0o600 });
  return file;
};

test('keys import --dry-run: every check shown with ✓, nothing wrapped or sent; forged evidence ✗ and a non-zero exit', { timeout: 120_000 }, async () => {
  const file = keyFile('payroll.hex', randomBytes(32).toString('hex'));
  forge = false;
  const good = await sealkeep(['keys', 'import', '--file', file, '--type', 'aes-256', '--name', 'payroll-kek', '--root', rootPath, '--dry-run']);
  assert.equal(good.code, 0, good.stderr);
  for (const id of ['ak-certificate-chain', 'ek-binding', 'certify-signature', 'certified-name', 'wrapping-key-attributes']) assert.match(good.stdout, new RegExp(`✓ ${id}`));
  assert.doesNotMatch(good.stdout, /✗/);
  assert.match(good.stdout, /evidence verified/);
  assert.match(good.stdout, /dry run: nothing was wrapped or sent/);
  assert.deepEqual([jobRequests.at(-1)?.keyName, jobRequests.at(-1)?.keyType], ['payroll-kek', 'aes-256']);
  assert.match(String(jobRequests.at(-1)?.nonce), /^[A-Za-z0-9_-]{43}$/, 'a fresh 32-byte base64url nonce');
  assert.equal(uploads.length, 0);

  forge = true;
  const forged = await sealkeep(['keys', 'import', '--file', file, '--type', 'aes-256', '--name', 'payroll-kek', '--root', rootPath, '--dry-run']);
  assert.notEqual(forged.code, 0);
  assert.match(forged.stdout, /✗ certify-signature/);
  assert.match(forged.stdout, /evidence REJECTED: 1 of 14 checks failed/);
  assert.match(forged.stderr, /failed 1 check; nothing was wrapped or sent:\n\s+✗ certify-signature/);
  assert.equal(uploads.length, 0);
});

test('keys import: the upload opens in the certified TPM key (not the PEM offered), and carries no plaintext', { timeout: 120_000 }, async () => {
  forge = false;
  const secret = randomBytes(32);
  const file = keyFile('db.b64', secret.toString('base64'));
  const r = await sealkeep(['keys', 'import', '--file', file, '--type', 'aes-256', '--name', 'db-kek', '--root', rootPath, '--cia', 'high/high/moderate', '--description', 'database KEK']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /imported db-kek \(aes-256\): key [0-9a-f-]{36}, version 1; C\/I\/A high\/high\/moderate/);
  const { raw, body } = uploads.at(-1)!;
  assert.deepEqual(Object.keys(body).sort(), ['cia', 'description', 'importToken', 'wrappedKey', 'wrappingAlgorithm']);
  assert.equal(body.wrappingAlgorithm, 'rsa-aes-key-wrap-sha256');
  assert.deepEqual(body.cia, { confidentiality: 'high', integrity: 'high', availability: 'moderate' });
  const wrapped = Buffer.from(String(body.wrappedKey), 'base64');
  assert.equal(wrapped.length, 384 + 40, 'RSA-3072 block ‖ RFC 5649 of 32 bytes');
  for (const form of [secret, Buffer.from(secret.toString('hex')), Buffer.from(secret.toString('base64')), Buffer.from(secret.toString('base64url'))]) {
    assert.ok(!raw.includes(form), 'the plaintext is nowhere in the upload');
  }
  const handle = wrappingKeys.get(String(body.importToken));
  assert.ok(handle !== undefined, "the job's import token");
  assert.deepEqual(await host.unwrap(handle, wrapped), secret, 'the TPM opens it: wrapped to the certified key');
});

test('keys import: an EC key file, its type detected; forged evidence stops before anything is sent', { timeout: 120_000 }, async () => {
  forge = false;
  const ec = newKeyPair('ec', { namedCurve: 'P-384' }).privateKey;
  const file = keyFile('signer.pem', ec.export({ type: 'sec1', format: 'pem' }));
  const r = await sealkeep(['keys', 'import', file, '--name', 'signer', '--root', rootPath, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const result = JSON.parse(r.stdout) as { keyType: string; verdict: { ok: boolean; checks: unknown[] }; key: { primaryVersion: number } };
  assert.deepEqual([result.keyType, result.verdict.ok, result.verdict.checks.length, result.key.primaryVersion], ['ec-p384', true, 14, 1]);
  assert.equal(jobRequests.at(-1)?.keyType, 'ec-p384');
  const { body } = uploads.at(-1)!;
  const material = await host.unwrap(wrappingKeys.get(String(body.importToken))!, Buffer.from(String(body.wrappedKey), 'base64'));
  assert.deepEqual(material, ec.export({ type: 'pkcs8', format: 'der' }), 'PKCS#8 DER');

  forge = true;
  const before = uploads.length;
  const forged = await sealkeep(['keys', 'import', file, '--name', 'signer', '--root', rootPath]);
  assert.notEqual(forged.code, 0);
  assert.match(forged.stdout, /✗ certify-signature/);
  assert.equal(uploads.length, before, 'nothing uploaded');
});

test('keys import refuses before contacting the service: no --root, a key of another type, too much for rsa-oaep-sha256', { timeout: 60_000 }, async () => {
  const rsa = keyFile('rsa.pem', newKeyPair('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs1', format: 'pem' }));
  const jobs = jobRequests.length;
  const noRoot = await sealkeep(['keys', 'import', '--file', rsa, '--name', 'k']);
  assert.equal(noRoot.code, 2);
  assert.match(noRoot.stderr, /--root FILE is required: .*out of band.*never from the service/);
  const mismatch = await sealkeep(['keys', 'import', '--file', rsa, '--name', 'k', '--type', 'ec-p256', '--root', rootPath]);
  assert.equal(mismatch.code, 2);
  assert.match(mismatch.stderr, /rsa\.pem holds an RSA 2048 key \(rsa-2048\), not ec-p256/);
  const oaep = await sealkeep(['keys', 'import', '--file', rsa, '--name', 'k', '--wrapping', 'rsa-oaep-sha256', '--root', rootPath]);
  assert.equal(oaep.code, 2);
  assert.match(oaep.stderr, /rsa-oaep-sha256 carries at most 32 bytes/);
  const badCia = await sealkeep(['keys', 'import', '--file', rsa, '--name', 'k', '--cia', 'high/high', '--root', rootPath]);
  assert.match(badCia.stderr, /--cia takes confidentiality\/integrity\/availability/);
  assert.equal(jobRequests.length, jobs, 'no import job was requested');
});
