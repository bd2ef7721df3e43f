// The process entry point: a store that cannot be opened is one line on stderr and a non-zero
// exit; a good start answers /healthz and /readyz, proves its signing key with its TPM's quote of
// its measured launch (verified here as an adapter does, against the manufacturer root and the
// digests it logged), then stops cleanly on SIGTERM.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { verifyServiceKeyEvidence } from '@sealkeep/attestation';
import { freePort } from './test-kit.fixture.js';

const main = fileURLToPath(new URL('./main.ts', import.meta.url));
const cli = fileURLToPath(new URL('../../../packages/sdk/src/cli/bin.ts', import.meta.url));
const nodeArgs = ['--conditions=sealkeep-source', '--import', 'tsx', main];

function run(env: Record<string, string>) {
  return spawnSync(process.execPath, nodeArgs, { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 60_000 });
}

for (const [name, url, expected] of [
  ['refused', 'postgres://postgres@127.0.0.1:1/test', /^sealkeep: cannot open the store \(PostgreSQL at .*:1\/test\): connection refused/],
  ['bad scheme', 'mysql://x/y', /^sealkeep: DATABASE_URL must use the postgres:\/\/ scheme/],
  ['unknown host', 'postgres://postgres@no-such-host.invalid/test', /host no-such-host\.invalid not found/],
] as const) {
  test(`a wrong DATABASE_URL (${name}) gives one clear line and a non-zero exit`, () => {
    const r = run({ DATABASE_URL: url });
    assert.notEqual(r.status, 0);
    assert.equal(r.stdout, '');
    const lines = r.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 1, `exactly one line, got:\n${r.stderr}`);
    assert.match(lines[0]!, expected);
  });
}

test("starts on the embedded store, answers health and readiness, proves its signing key with its TPM's evidence, stops on SIGTERM", async () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'sealkeep-main-'));
  const port = await freePort();
  const dataPort = await freePort();
  const env: NodeJS.ProcessEnv = { ...process.env, SEALKEEP_DATA_DIR: dataDir, SEALKEEP_ADMIN_PORT: String(port), SEALKEEP_TENANT_PORT: '0', SEALKEEP_DATA_PORT: String(dataPort), SEALKEEP_LOG_LEVEL: 'info' };
  delete env.DATABASE_URL;
  delete env.SEALKEEP_TLS_CERT;
  delete env.SEALKEEP_TLS_KEY;
  // The first operator, so that the start creates the service root (and the key derived from it).
  const init = spawnSync(process.execPath, ['--conditions=sealkeep-source', '--import', 'tsx', cli, 'admin', 'init', '--name', 'ops', '--admin-url', `http://127.0.0.1:${port}`, '--profile', path.join(dataDir, 'ops.json')], { env, encoding: 'utf8', timeout: 60_000 });
  assert.equal(init.status, 0, init.stderr);
  const child = spawn(process.execPath, nodeArgs, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout!.on('data', (c: Buffer) => (log += c.toString('utf8')));
  try {
    let ready: Response | undefined;
    for (let i = 0; i < 150 && !ready; i++) {
      await new Promise((r) => setTimeout(r, 200));
      ready = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined);
    }
    assert.ok(ready, 'the admin plane came up');
    assert.equal(ready.status, 200);
    assert.deepEqual(await ready.json(), { status: 'ready', checks: { store: true } });
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    assert.deepEqual(await health.json(), { status: 'ok' });

    const served = (await (await fetch(`http://127.0.0.1:${dataPort}/v1/service-key`)).json()) as { kid: string; evidence: unknown };
    const measured = log.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, string>).find((e) => e.msg === 'measured start')!;
    const approved = { codeDigest: measured.codeDigest!, configurationDigest: measured.configurationDigest! };
    const root = readFileSync(path.join(dataDir, 'manufacturer-root.pem'), 'utf8');
    const verified = await verifyServiceKeyEvidence(served.evidence, { kid: served.kid, trustedRoots: [root], approved });
    assert.ok(verified.ok, JSON.stringify(verified.findings.filter((f) => f.severity === 'error')));
    const errorsOf = async (o: Partial<Parameters<typeof verifyServiceKeyEvidence>[1]>) => (await verifyServiceKeyEvidence(served.evidence, { kid: served.kid, trustedRoots: [root], approved, ...o })).findings.filter((f) => f.severity === 'error').map((f) => f.id);
    assert.ok((await errorsOf({ kid: 'another-key' })).includes('quote-nonce-mismatch'), 'the quote names this key, no other');
    assert.ok((await errorsOf({ approved: { ...approved, codeDigest: 'ab'.repeat(32) } })).includes('policy-pcr-mismatch'), 'another code than the approved is seen');
    const exited = new Promise<number | null>((r) => child.once('exit', r));
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
  } finally {
    child.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  }
});
