// The `sealkeep quota` and `sealkeep principal` commands against the service's own listeners:
// the cloud-admin sets and reads limits; a new user makes its own key, the officer enrolls the
// public half, the user activates its profile and signs as itself; the officer lists and revokes.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { saveProfile } from '@sealkeep/sdk';
import { buildListeners } from '../../server.js';
import { apiFixture, type ApiFixture, type Caller } from '../quotas/api.fixture.js';

const cli = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../../packages/sdk/bin/sealkeep.mjs');
let f: ApiFixture;
let dir: string;
let servers: Server[] = [];
let tenantUrl: string;
let adminUrl: string;
let tenantId: string;

function sealkeep(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

function profileOf(file: string, who: Caller, role: string, tenant: string | null, endpoints: Record<string, string>): string {
  const at = path.join(dir, file);
  saveProfile(at, { principalId: who.id, name: file, role, tenantId: tenant, privateJwk: who.key.export({ format: 'jwk' }), endpoints });
  return at;
}

before(async () => {
  f = await apiFixture();
  dir = mkdtempSync(path.join(os.tmpdir(), 'sealkeep-tenancy-cli-'));
  const apps = buildListeners({ store: f.store }, [['tenant'], ['admin', 'compliance']]);
  for (const app of apps) {
    const s = app.listen(0, '127.0.0.1');
    await once(s, 'listening');
    servers.push(s);
  }
  [tenantUrl, adminUrl] = servers.map((s) => `http://127.0.0.1:${(s.address() as AddressInfo).port}`) as [string, string];
  ({ tenantId } = await f.newTenant());
});

after(async () => {
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  servers = [];
  await f.store.close();
  rmSync(dir, { recursive: true, force: true });
});

test('quota set and show: the cloud-admin sets limits, "none" unlimits, the officer reads its own', { timeout: 120_000 }, async () => {
  const ops = profileOf('ops.json', f.operator, 'cloud-admin', null, { admin: adminUrl });
  const set = await sealkeep('--profile', ops, 'quota', 'set', tenantId, '--keys', '10', '--ops-per-second', '50', '--json');
  assert.equal(set.code, 0, set.stderr);
  assert.deepEqual(JSON.parse(set.stdout).limits, { keys: 10, vms: null, volumes: null, volumeBytes: null, opsPerSecond: 50 });
  const unset = await sealkeep('--profile', ops, 'quota', 'set', tenantId, '--keys', 'none');
  assert.equal(unset.code, 0, unset.stderr);
  assert.match(unset.stdout, /keys\s+0 \/ unlimited/);
  assert.match(unset.stdout, /opsPerSecond\s+- \/ 50/);
  const bad = await sealkeep('--profile', ops, 'quota', 'set', tenantId, '--vms', 'many');
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--vms takes a whole number or "none"/);

  const officer = await f.addPrincipal(tenantId, 'carol', 'tenant-admin');
  const carol = profileOf('carol.json', officer, 'tenant-admin', tenantId, { tenant: tenantUrl });
  const shown = await sealkeep('--profile', carol, 'quota', 'show', '--json');
  assert.equal(shown.code, 0, shown.stderr);
  assert.equal(JSON.parse(shown.stdout).limits.opsPerSecond, 50);
  const denied = await sealkeep('--profile', carol, 'quota', 'set', tenantId, '--keys', '1000');
  assert.equal(denied.code, 2, 'the officer has no admin endpoint, and no quota.set permission');
});

test('principal keygen, add, activate, list and revoke', { timeout: 120_000 }, async () => {
  const officer = await f.addPrincipal(tenantId, 'dora', 'tenant-admin');
  const dora = profileOf('dora.json', officer, 'tenant-admin', tenantId, { tenant: tenantUrl });
  const bobProfile = path.join(dir, 'bob.json');

  const keygen = await sealkeep('--profile', bobProfile, 'principal', 'keygen', '--name', 'bob', '--role', 'tenant-user', '--tenant', tenantId, '--url', tenantUrl, '--json');
  assert.equal(keygen.code, 0, keygen.stderr);
  const publicJwk = JSON.parse(keygen.stdout);
  assert.equal(publicJwk.kty, 'OKP');
  assert.equal(publicJwk.d, undefined, 'only the public half is printed');
  const jwkFile = path.join(dir, 'bob.pub.json');
  writeFileSync(jwkFile, JSON.stringify(publicJwk));

  const added = await sealkeep('--profile', dora, 'principal', 'add', '--name', 'bob', '--role', 'tenant-user', '--public-jwk', jwkFile, '--json');
  assert.equal(added.code, 0, added.stderr);
  const bob = JSON.parse(added.stdout);
  assert.equal(bob.role, 'tenant-user');

  const activated = await sealkeep('--profile', bobProfile, 'principal', 'activate', '--id', bob.principalId);
  assert.equal(activated.code, 0, activated.stderr);
  assert.match(activated.stdout, /bob \(tenant-user\) is active/);
  const whoami = await sealkeep('--profile', bobProfile, 'whoami');
  assert.equal(whoami.code, 0, whoami.stderr);
  assert.match(whoami.stdout, new RegExp(`bob \\(tenant-user of tenant ${tenantId}\\)`));

  const list = await sealkeep('--profile', dora, 'principal', 'list');
  assert.match(list.stdout, new RegExp(`bob\ttenant-user\tactive\t${bob.principalId}`));
  const revoked = await sealkeep('--profile', dora, 'principal', 'revoke', bob.principalId);
  assert.equal(revoked.code, 0, revoked.stderr);
  assert.match(revoked.stdout, /bob\ttenant-user\trevoked/);
  const after = await sealkeep('--profile', bobProfile, 'whoami');
  assert.equal(after.code, 3, 'a revoked principal is refused by the service');
  assert.match(after.stderr, /401|unauthenticated|revoked/i);
});
