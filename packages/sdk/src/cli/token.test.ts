// sealkeep token grant / exchange, as a user and a delegate run them. The grant is checked as the
// service checks it (signature by the profile's key, kid, claims, lifetime); the exchange goes to
// a stand-in token endpoint that checks what the service relies on — a form body, the request
// proof over exactly those bytes, the RFC 8693 parameters — and answers as the service would.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeJws, verifyJws, newKeyPair } from '@sealkeep/crypto';
import { saveProfile, type Profile } from '../profile.js';
import { delegationGrant } from '../delegation.js';

const cli = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bin/sealkeep.mjs');
let dir: string;
let server: Server;
let url: string;
const received: Array<{ req: IncomingMessage; body: string }> = [];

const bob = { id: randomUUID(), tenantId: randomUUID(), keys: newKeyPair('ec', { namedCurve: 'P-256' }) };
const cms = { id: randomUUID(), keys: newKeyPair('ed25519') };

function profile(file: string, p: Omit<Profile, 'endpoints'>, endpoints: Profile['endpoints'] = {}): string {
  const at = path.join(dir, file);
  saveProfile(at, { ...p, endpoints });
  return at;
}

function sealkeep(args: string[], stdin?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.stdin.end(stdin ?? '');
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'sealkeep-token-'));
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      received.push({ req, body });
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ access_token: 'issued.token.value', issued_token_type: 'urn:ietf:params:oauth:token-type:jwt', token_type: 'N_A', expires_in: 299 }));
    });
  }).listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  await new Promise((r) => server.close(r));
  rmSync(dir, { recursive: true, force: true });
});

test('token grant: signed by the profile key for the named delegate, with scope and lifetime', { timeout: 60_000 }, async () => {
  const at = profile('bob.json', { principalId: bob.id, name: 'bob', role: 'tenant-user', tenantId: bob.tenantId, privateJwk: bob.keys.privateKey.export({ format: 'jwk' }) });
  const r = await sealkeep(['--profile', at, 'token', 'grant', '--to', 'cms:vcloud-svc', '--scope', 'key.use', '--ttl', '5m']);
  assert.equal(r.code, 0, r.stderr);
  const jws = decodeJws(r.stdout.trim());
  assert.ok(verifyJws(jws, bob.keys.publicKey));
  assert.deepEqual([jws.header.typ, jws.header.kid], ['sealkeep-grant+jwt', bob.id]);
  const c = jws.payload as Record<string, unknown>;
  assert.deepEqual([c.sub, c.tenant, c.may_act, c.scope, (c.exp as number) - (c.iat as number)], [bob.id, bob.tenantId, { sub: 'cms:vcloud-svc' }, 'key.use', 300]);

  const tooLong = await sealkeep(['--profile', at, 'token', 'grant', '--to', 'cms:vcloud-svc', '--ttl', '2h']);
  assert.equal(tooLong.code, 2);
  assert.match(tooLong.stderr, /1 s to 1 h/);
  const noDelegate = await sealkeep(['--profile', at, 'token', 'grant']);
  assert.equal(noDelegate.code, 2);
  assert.match(noDelegate.stderr, /--to LABEL is required/);
});

test('token exchange: a form body under a proof over its bytes, the subject token read from standard input', { timeout: 60_000 }, async () => {
  const at = profile('cms.json', { principalId: cms.id, name: 'vcloud-svc', role: 'delegate', tenantId: bob.tenantId, privateJwk: cms.keys.privateKey.export({ format: 'jwk' }) }, { tenant: url });
  const grant = delegationGrant({ key: bob.keys.privateKey, principalId: bob.id, tenantId: bob.tenantId, to: 'cms:vcloud-svc' });
  const r = await sealkeep(['--profile', at, 'token', 'exchange', '--subject-token', '-', '--next', 'hv:vpxuser@host-07'], `${grant}\n`);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'issued.token.value');

  const { req, body } = received.at(-1)!;
  assert.equal(req.url, '/v1/token');
  assert.equal(req.headers['content-type'], 'application/x-www-form-urlencoded');
  assert.equal(req.headers['sealkeep-delegation'], undefined);
  const form = Object.fromEntries(new URLSearchParams(body));
  assert.deepEqual(form, {
    grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
    subject_token: grant,
    subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
    next_actor: 'hv:vpxuser@host-07',
  });
  const proof = decodeJws(String(req.headers.authorization).replace(/^Sealkeep-Proof /, ''));
  assert.ok(verifyJws(proof, cms.keys.publicKey));
  assert.equal(proof.payload.bdy, createHash('sha256').update(body).digest('base64url'));
  assert.equal(proof.header.kid, cms.id);
});
