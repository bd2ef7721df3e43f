// The `sealkeep scan` commands as a reviewer runs them, against the service's own compliance
// listener: start --wait follows a scan to its end (progress on stderr, the summary on stdout),
// writes the report page and exits 1 on a high finding; a clean scope exits 0; status, report
// --json and list read what the service holds; a cloud-admin is refused (exit 3) and a bad scope
// is a usage error (exit 2).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { saveProfile } from '@sealkeep/sdk';
import type { Caller } from '../quotas/api.fixture.js';
import { plant, plantFleet, scanFixture, type ScanFixture } from './scans.fixture.js';

const cli = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../../packages/sdk/bin/sealkeep.mjs');
let fx: ScanFixture;
let dir: string;
let server: Server;
let complianceUrl: string;
let unbound: string;

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

function profileOf(file: string, who: Caller, role: string): string {
  const at = path.join(dir, file);
  saveProfile(at, { principalId: who.id, name: file, role, tenantId: null, privateJwk: who.key.export({ format: 'jwk' }), endpoints: { compliance: complianceUrl } });
  return at;
}

before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'sealkeep-scan-cli-'));
  fx = await scanFixture();
  const fleet = await plantFleet(fx.store.db, { tenants: 3, vmsPerTenant: 40 });
  unbound = await plant.highConfidentialityVolumeWithoutPolicy(fx.store.db, fleet.tenants[1]!);
  server = (fx.compliance as unknown as { listen(port: number, host: string): Server }).listen(0, '127.0.0.1');
  await once(server, 'listening');
  complianceUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  await new Promise((r) => server.close(r));
  await fx.close();
  rmSync(dir, { recursive: true, force: true });
});

test('scan start --wait: progress on stderr, the summary on stdout, the page written; a high finding exits 1', { timeout: 180_000 }, async () => {
  const ivy = profileOf('ivy.json', fx.reviewer, 'reviewer');
  const html = path.join(dir, 'report.html');
  const r = await sealkeep('--profile', ivy, 'scan', 'start', '--scope', 'hosts,vms', '--wait', '--html', html);
  assert.equal(r.code, 1, `exit 1 on a high finding\n${r.stderr}`);
  const bars = r.stderr.trimEnd().split('\n');
  assert.match(bars[0]!, /^scan [0-9a-f-]{36} queued$/);
  assert.match(bars.at(-1)!, /^\[#{30}\] 100%  done$/);
  assert.doesNotMatch(r.stderr, /\r/, 'not a terminal: plain lines');
  assert.match(r.stdout, /^scan [0-9a-f-]{36}: FAILED \(1 high, 1 medium, 0 low, 1 info\)/);
  assert.match(r.stdout, /VMs and volumes +FAIL +121 vms, 241 volumes, 120 boots/);
  assert.match(r.stdout, new RegExp(`HIGH    vms\\.volume\\.high-confidentiality-unbound  ${unbound.replace(/[/.]/g, '\\$&')}`));
  assert.match(readFileSync(html, 'utf8'), /<h2>VMs and volumes — <span class="result fail">Fail<\/span><\/h2>/);
});

test('a clean scope exits 0; status, report --json and list read back what the service holds', { timeout: 180_000 }, async () => {
  const ivy = profileOf('ivy.json', fx.reviewer, 'reviewer');
  const clean = await sealkeep('--profile', ivy, 'scan', 'start', '--scope', 'keys', '--wait');
  assert.equal(clean.code, 0, clean.stderr);
  assert.match(clean.stdout, /PASSED \(0 high, 0 medium, 0 low, 0 info\)/);
  const scanId = /scan ([0-9a-f-]{36})/.exec(clean.stdout)![1]!;

  const started = await sealkeep('--profile', ivy, 'scan', 'start', '--scope', 'configuration', '--json');
  assert.equal(started.code, 0, started.stderr);
  assert.equal(JSON.parse(started.stdout).status, 'queued');
  const status = await sealkeep('--profile', ivy, 'scan', 'status', scanId);
  assert.match(status.stdout, /PASSED/);
  const report = await sealkeep('--profile', ivy, 'scan', 'report', scanId, '--json');
  assert.equal(report.code, 0, report.stderr);
  assert.deepEqual(JSON.parse(report.stdout).summary.checked, { keys: 3 });
  const list = await sealkeep('--profile', ivy, 'scan', 'list');
  assert.match(list.stdout, new RegExp(`${scanId} .* done +100%  passed`));
});

test('a cloud-admin is refused by the service (exit 3); a bad scope is a usage error (exit 2)', { timeout: 120_000 }, async () => {
  const ops = profileOf('ops.json', fx.f.operator, 'cloud-admin');
  const refused = await sealkeep('--profile', ops, 'scan', 'start');
  assert.equal(refused.code, 3);
  assert.match(refused.stderr, /403 forbidden: cloud-admin may not scan\.run/);
  const ivy = profileOf('ivy.json', fx.reviewer, 'reviewer');
  const bad = await sealkeep('--profile', ivy, 'scan', 'start', '--scope', 'everything');
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--scope takes hosts, vms, keys, configuration, audit/);
});
