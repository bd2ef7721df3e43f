// sealkeep scan, against a stand-in compliance plane that checks each request's proof and plays
// a scan through queued → running → done: --wait redraws one progress bar in place on a
// terminal and prints a line per step otherwise, then the summary; a high finding exits 1, a
// failed scan 3; --html writes the page the service renders; --scope is checked before asking.
// (The same commands against the real service: services/kms/src/features/scans/scan-cli.test.ts.)

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { decodeJws, verifyJws, newKeyPair } from '@sealkeep/crypto';
import { describeReport, progressBar, scanCommand, ScanFailed, ScanNotPassed, type ScanReport, type ScanState } from './scan.js';
import type { Profile } from '../profile.js';

const reviewer = { id: randomUUID(), keys: newKeyPair('ed25519') };
const scanId = randomUUID();
let server: Server;
let url: string;
let dir: string;
let script: ScanState[] = [];
const requests: Array<{ method: string; url: string; body: string }> = [];

const report = (high: number): ScanReport => ({
  scanId,
  startedAt: '2025-06-01T10:00:00.000Z',
  finishedAt: '2025-06-01T10:00:02.500Z',
  summary: { passed: high === 0, counts: { high, medium: 1, low: 0, info: 4 } },
  sections: [
    { scope: 'hosts', title: 'Hosts', passed: true, checked: { hosts: 2 }, counts: { high: 0, medium: 1, low: 0, info: 0 }, omitted: 0, findings: [{ id: 'hosts.attestation.stale', severity: 'medium', subject: 'host:h1', message: 'host h1 last attested 2 h ago', expected: 'at most 600 s old', found: '7200 s old' }] },
    { scope: 'vms', title: 'VMs and volumes', passed: high === 0, checked: { vms: 300, volumes: 600 }, counts: { high, medium: 0, low: 0, info: 4 }, omitted: 0, findings: high ? [{ id: 'vms.volume.high-confidentiality-unbound', severity: 'high', subject: 'tenant:t/vm:v/volume:x', message: 'a volume classified confidentiality high is on a VM without a PCR-bound release policy' }] : [] },
  ],
});
const state = (status: ScanState['status'], percent: number, step: string, extra: Partial<ScanState> = {}): ScanState => ({ scanId, status, percent, step, failure: null, requestedAt: '2025-06-01T10:00:00.000Z', ...extra });

function proofHolds(authorization: string | undefined, raw: Buffer): boolean {
  const proof = decodeJws(String(authorization).replace(/^Sealkeep-Proof /, ''));
  return verifyJws(proof, reviewer.keys.publicKey) && proof.header.kid === reviewer.id && proof.payload.bdy === createHash('sha256').update(raw).digest('base64url');
}

before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'sealkeep-scan-cli-'));
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      requests.push({ method: req.method!, url: req.url!, body: raw.toString() });
      const send = (status: number, body: unknown, type = 'application/json') => res.writeHead(status, { 'content-type': type }).end(typeof body === 'string' ? body : JSON.stringify(body));
      if (!proofHolds(req.headers.authorization, raw)) return send(401, { type: 'https://sealkeep.dev/problems/unauthenticated', title: 'no', status: 401 });
      if (req.method === 'POST' && req.url === '/v1/scans') return send(202, { scanId, status: 'queued', statusUrl: `/v1/scans/${scanId}` });
      if (req.url === `/v1/scans/${scanId}`) return send(200, script.length > 1 ? script.shift() : script[0]);
      if (req.url === `/v1/scans/${scanId}/report.html`) return send(200, '<!doctype html><title>report</title><h2>Summary</h2>', 'text/html');
      send(404, { type: 'https://sealkeep.dev/problems/not-found', title: 'No such resource', status: 404 });
    });
  });
  server.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  await new Promise((r) => server.close(r));
  rmSync(dir, { recursive: true, force: true });
});

const profile = (): Profile => ({ principalId: reviewer.id, name: 'ivy', role: 'reviewer', tenantId: null, privateJwk: {}, endpoints: { compliance: url } });
const signer = { principalId: reviewer.id, key: reviewer.keys.privateKey };

async function run(verb: string, target: string | undefined, args: Record<string, unknown>, isTTY: boolean) {
  let progress = '';
  const printed: Array<{ value: unknown; text: string }> = [];
  let thrown: unknown = null;
  try {
    await scanCommand(verb, target, profile(), signer, args, (value, text) => printed.push({ value, text }), { progress: { isTTY, write: (t: string) => (progress += t) }, pollMs: 1 });
  } catch (e) {
    thrown = e;
  }
  return { progress, printed, thrown };
}

const playScan = (high: number) => [state('queued', 0, 'queued'), state('running', 30, 'VMs and volumes: 90 of 300'), state('running', 30, 'VMs and volumes: 90 of 300'), state('running', 70, 'Keys: 3 of 8'), state('done', 100, 'done', { report: report(high) })];

test('the progress bar', () => {
  assert.equal(progressBar(state('queued', 0, 'queued'), 10), '[..........]   0%  queued');
  assert.equal(progressBar(state('running', 45, 'VMs and volumes: 135 of 300'), 10), '[#####.....]  45%  VMs and volumes: 135 of 300');
  assert.equal(progressBar(state('done', 100, 'done'), 10), '[##########] 100%  done');
});

test('start --wait on a terminal: one bar redrawn in place, then the summary; a high finding exits 1', async () => {
  script = playScan(1);
  requests.length = 0;
  const r = await run('start', undefined, { scope: 'vms,hosts', wait: true }, true);
  assert.ok(r.thrown instanceof ScanNotPassed, String(r.thrown));
  assert.deepEqual(JSON.parse(requests[0]!.body), { scopes: ['vms', 'hosts'] });
  const redraws = r.progress.split('\r').slice(1);
  assert.equal(redraws.length, 5, 'every poll redraws the bar');
  assert.ok(redraws.every((d) => d.includes('\x1b[K')), 'each redraw clears the rest of the line');
  assert.match(redraws[3]!, /^\[#+\.+\]  70%  Keys: 3 of 8/);
  assert.ok(r.progress.endsWith('100%  done\x1b[K\n'), 'the finished bar stays, on its own line');
  const text = r.printed[0]!.text;
  assert.match(text, new RegExp(`^scan ${scanId}: FAILED \\(1 high, 1 medium, 0 low, 4 info\\) in 2\\.5 s`));
  assert.match(text, /VMs and volumes\s+FAIL\s+300 vms, 600 volumes/);
  assert.match(text, /HIGH    vms\.volume\.high-confidentiality-unbound  tenant:t\/vm:v\/volume:x\n\s+a volume classified/);
  assert.match(text, /MEDIUM  hosts\.attestation\.stale  host:h1\n.*\(expected at most 600 s old, found 7200 s old\)/);
  assert.match(text, /\(4 informational or unlisted findings not shown: sealkeep scan report /);
});

test('start --wait without a terminal: a line per change; a clean scan exits 0 and --html writes the page', async () => {
  script = playScan(0);
  const html = path.join(dir, 'report.html');
  const r = await run('start', undefined, { wait: true, html }, false);
  assert.equal(r.thrown, null, String(r.thrown));
  assert.doesNotMatch(r.progress, /\r|\x1b/);
  assert.deepEqual(r.progress.trimEnd().split('\n').map((l) => l.replace(/^\[[#.]+\]\s+/, '')), [`scan ${scanId} queued`, '0%  queued', '30%  VMs and volumes: 90 of 300', '70%  Keys: 3 of 8', '100%  done'], 'the repeated state printed once');
  assert.match(readFileSync(html, 'utf8'), /<h2>Summary<\/h2>/);
  assert.match(r.printed[0]!.text, /PASSED/);
  assert.match(r.printed[0]!.text, new RegExp(`report page written to ${html.replace(/[.\\]/g, '\\$&')}`));
});

test('a failed scan exits 3 naming why; status and report of a running scan; bad scopes are refused before asking', async () => {
  script = [state('failed', 42, 'VMs and volumes: 10 of 300', { failure: 'interrupted: the service stopped' })];
  const failed = await run('report', scanId, {}, false);
  assert.ok(failed.thrown instanceof ScanFailed);
  assert.match((failed.thrown as Error).message, /failed: interrupted: the service stopped/);

  script = [state('running', 42, 'Audit trail: 3 of 7')];
  const status = await run('status', scanId, {}, false);
  assert.equal(status.printed[0]!.text, `scan ${scanId}: running 42% (Audit trail: 3 of 7)`);
  const early = await run('report', scanId, {}, false);
  assert.match(String(early.thrown), /running 42%.*no report yet/);

  requests.length = 0;
  const bad = await run('start', undefined, { scope: 'vms,everything' }, false);
  assert.match(String(bad.thrown), /--scope takes hosts, vms, keys, configuration, audit/);
  assert.equal(requests.length, 0, 'nothing was asked');
  assert.match(String((await run('start', undefined, { html: 'x.html' }, false)).thrown), /--html needs --wait/);
});

test('the summary of a report, as text', () => {
  const text = describeReport(report(0));
  assert.deepEqual(text.split('\n').slice(0, 3).map((l) => l.replace(/\s+/g, ' ')), [
    `scan ${scanId}: PASSED (0 high, 1 medium, 0 low, 4 info) in 2.5 s`,
    ' Hosts pass 2 hosts 0 high, 1 medium, 0 low, 0 info',
    ' VMs and volumes pass 300 vms, 600 volumes 0 high, 0 medium, 0 low, 4 info',
  ]);
});
