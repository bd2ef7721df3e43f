// The sealkeep CLI against a running service on the embedded store: the first cloud-admin is
// created by `admin init` on the service's machine; it creates a tenant; the tenant's officer
// enrolls with a key made on their own machine; both see themselves with `whoami`. Profiles are
// mode 0600; `admin init` is refused while the service holds the store, and once an admin exists.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';

const exec = promisify(execFile);
const here = path.dirname(fileURLToPath(import.meta.url));
const cli = path.resolve(here, '../../bin/sealkeep.mjs');
const service = path.resolve(here, '../../../../services/kms/src/main.ts');

let dir: string;
let svc: ChildProcess | undefined;
let env: NodeJS.ProcessEnv;
const ports: Record<string, number> = {};

async function freePort(): Promise<number> {
  const srv = createServer().listen(0, '127.0.0.1');
  await new Promise((r) => srv.once('listening', r));
  const { port } = srv.address() as { port: number };
  await new Promise((r) => srv.close(r));
  return port;
}

async function sealkeep(profile: string, ...args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  return sealkeepOffline('--profile', path.join(dir, profile), ...args);
}

/** The command line with no profile: what the offline verifiers take. */
async function sealkeepOffline(...args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const r = await exec(process.execPath, [cli, ...args], { env, encoding: 'utf8', timeout: 60_000 });
    return { stdout: r.stdout, stderr: r.stderr, code: 0 };
  } catch (e) {
    const err = e as { stdout: string; stderr: string; code: number };
    return { stdout: err.stdout, stderr: err.stderr, code: err.code };
  }
}

before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'sealkeep-cli-'));
  for (const p of ['TENANT', 'DATA', 'ADMIN']) ports[p] = await freePort();
  env = { ...process.env, SEALKEEP_DATA_DIR: path.join(dir, 'data'), SEALKEEP_LOG_LEVEL: 'warn' };
  delete env.DATABASE_URL; // the embedded store; the PostgreSQL run covers the same code paths in the service tests
  for (const [p, port] of Object.entries(ports)) env[`SEALKEEP_${p}_PORT`] = String(port);
});

after(async () => {
  svc?.kill('SIGTERM');
  if (svc) await new Promise((r) => svc!.once('exit', r));
  rmSync(dir, { recursive: true, force: true });
});

test('admin init, tenant create, enroll, whoami', { timeout: 180_000 }, async () => {
  const init = await sealkeep('ops.json', 'admin', 'init', '--name', 'ops', '--admin-url', `http://127.0.0.1:${ports.ADMIN}`, '--json');
  assert.equal(init.code, 0, init.stderr);
  assert.equal(statSync(path.join(dir, 'ops.json')).mode & 0o777, 0o600);
  const again = await sealkeep('ops2.json', 'admin', 'init', '--name', 'ops2');
  assert.equal(again.code, 2);
  assert.match(again.stderr, /a cloud-admin already exists/);

  svc = spawn(process.execPath, ['--conditions=sealkeep-source', '--import', 'tsx', service], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  for (let i = 0; i < 150; i++) {
    if (await fetch(`http://127.0.0.1:${ports.ADMIN}/readyz`).then((r) => r.ok, () => false)) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const locked = await sealkeep('ops3.json', 'admin', 'init', '--name', 'ops3');
  assert.equal(locked.code, 2);
  assert.match(locked.stderr, /in use by process/);

  const created = await sealkeep('ops.json', 'tenant', 'create', 'acme', '--json');
  assert.equal(created.code, 0, created.stderr);
  const { tenantId, enrollment } = JSON.parse(created.stdout);

  const enrolled = await sealkeep('alice.json', 'enroll', '--code', enrollment.code, '--name', 'alice', '--url', `http://127.0.0.1:${ports.TENANT}`);
  assert.equal(enrolled.code, 0, enrolled.stderr);
  assert.equal(statSync(path.join(dir, 'alice.json')).mode & 0o777, 0o600);

  const who = await sealkeep('alice.json', 'whoami');
  assert.equal(who.code, 0, who.stderr);
  assert.equal(who.stdout.trim(), `alice (tenant-admin of tenant ${tenantId})`);
  assert.equal((await sealkeep('ops.json', 'whoami')).stdout.trim(), 'ops (cloud-admin)');

  // The officer is not the provider's: tenant administration is refused on the admin plane.
  const denied = await sealkeep('alice.json', 'tenant', 'list');
  assert.equal(denied.code, 2, 'no admin endpoint in a tenant profile');
  const reused = await sealkeep('mallory.json', 'enroll', '--code', enrollment.code, '--name', 'mallory', '--url', `http://127.0.0.1:${ports.TENANT}`);
  assert.equal(reused.code, 3);
  assert.match(reused.stderr, /403 enrollment-refused/);

  // The officer exports the tenant's audit chain and verifies it offline; a forged copy is caught.
  const exportFile = path.join(dir, 'acme-audit.jsonl');
  const exported = await sealkeep('alice.json', 'audit', 'export', '--out', exportFile);
  assert.equal(exported.code, 0, exported.stderr);
  const verified = await sealkeep('alice.json', 'audit', 'verify', exportFile);
  assert.equal(verified.code, 0, verified.stdout + verified.stderr);
  assert.match(verified.stdout, /audit log OK: 2 entries/);
  const { readFileSync, writeFileSync } = await import('node:fs');
  writeFileSync(exportFile, readFileSync(exportFile, 'utf8').replace('"tn:alice"', '"tn:mallory"'));
  const forged = await sealkeep('alice.json', 'audit', 'verify', exportFile);
  assert.equal(forged.code, 1);
  assert.match(forged.stdout, /FAILED/);
  assert.match(forged.stdout, /seq 2/);
});

async function startService(extra: NodeJS.ProcessEnv = {}): Promise<{ ready: boolean; exit: Promise<number | null>; stderr: () => string }> {
  let stderr = '';
  svc = spawn(process.execPath, ['--conditions=sealkeep-source', '--import', 'tsx', service], { env: { ...env, ...extra }, stdio: ['ignore', 'ignore', 'pipe'] });
  svc.stderr!.on('data', (d) => (stderr += d));
  const exit = new Promise<number | null>((r) => svc!.once('exit', r));
  let exited = false;
  void exit.then(() => (exited = true));
  for (let i = 0; i < 150 && !exited; i++) {
    if (await fetch(`http://127.0.0.1:${ports.ADMIN}/readyz`).then((r) => r.ok, () => false)) return { ready: true, exit, stderr: () => stderr };
    await new Promise((r) => setTimeout(r, 200));
  }
  return { ready: false, exit, stderr: () => stderr };
}

async function stopService(): Promise<void> {
  const s = svc!;
  svc = undefined;
  const exited = new Promise((r) => s.once('exit', r));
  s.kill('SIGTERM');
  await exited;
}

test('a changed configuration stops the start until the operator approves it; audit checkpoints verify with the AK pinned', { timeout: 240_000 }, async () => {
  await stopService();
  const changed = { SEALKEEP_CHECKPOINT_SECONDS: '30' };
  const refused = await startService(changed);
  assert.equal(refused.ready, false);
  assert.equal(await refused.exit, 2);
  const lines = refused.stderr().trimEnd().split('\n');
  assert.equal(lines.length, 1, refused.stderr());
  assert.match(lines[0]!, /^sealkeep: the service configuration changed: .* is not an approved configuration; .*sealkeep admin approve-configuration/);

  const review = await sealkeep('ops.json', 'admin', 'approve-configuration');
  assert.equal(review.code, 0, review.stderr);
  assert.match(review.stdout, /configuration checkpoint\.seconds: 60 → 30/);
  assert.match(review.stdout, /not approved yet/);
  assert.equal((await sealkeep('alice.json', 'admin', 'approve-configuration', '--yes')).code, 2, 'only the approver');
  const approved = await sealkeep('ops.json', 'admin', 'approve-configuration', '--yes');
  assert.equal(approved.code, 0, approved.stderr);
  assert.match(approved.stdout, /approved: the service will start under it/);

  const started = await startService(changed);
  assert.equal(started.ready, true, started.stderr());
  const akFile = path.join(dir, 'ak.pem');
  const measured = await sealkeep('alice.json', 'service', 'measurements', '--ak-out', akFile, '--json');
  assert.equal(measured.code, 0, measured.stderr);
  const m = JSON.parse(measured.stdout);
  assert.equal(m.approval.kind, 'signed');
  assert.equal(m.approval.approvedBy, 'ops');
  assert.equal(m.configuration.checkpoint.seconds, 30);

  // The signing key, proven offline by the service TPM's quote of the approved launch naming it.
  const keyFile = path.join(dir, 'service-key.json');
  const fetched = await sealkeep('alice.json', 'service', 'key', '--out', keyFile);
  assert.equal(fetched.code, 0, fetched.stderr);
  assert.match(fetched.stdout, /with its evidence/);
  const launch = path.join(dir, 'service-launch.json');
  writeFileSync(launch, JSON.stringify({ codeDigest: m.codeDigest, configurationDigest: m.configurationDigest }));
  const root = path.join(dir, 'data', 'manufacturer-root.pem');
  const proven = await sealkeepOffline('verify', 'service-key', keyFile, '--root', root, '--measurements', launch);
  assert.equal(proven.code, 0, proven.stdout + proven.stderr);
  writeFileSync(launch, JSON.stringify({ codeDigest: m.codeDigest, configurationDigest: 'ab'.repeat(32) }));
  const otherLaunch = await sealkeep('alice.json', 'verify', 'service-key', keyFile, '--root', root, '--measurements', launch); // a profile given first is passed over
  assert.equal(otherLaunch.code, 1, 'another configuration than the one approved');
  assert.match(otherLaunch.stdout, /policy-pcr-mismatch/);

  // Stopping signs a last checkpoint over every chain; the officer's export then verifies with no warning.
  await stopService();
  await startService(changed);
  const exportFile = path.join(dir, 'acme-audit-2.jsonl');
  assert.equal((await sealkeep('alice.json', 'audit', 'export', '--out', exportFile)).code, 0);
  await stopService();
  const verified = await sealkeep('alice.json', 'audit', 'verify', exportFile, '--trusted-ak', akFile, '--json');
  assert.equal(verified.code, 0, verified.stdout);
  assert.deepEqual(JSON.parse(verified.stdout).findings, []);
});
