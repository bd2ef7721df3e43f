// The command-line verifier, run as a reviewer would: exit status and output for good evidence
// and for a wrong nonce (text and --json), a policy file, a previous quote, the tool files it
// exports, and usage errors.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { evidenceFixture } from './evidence.fixture.js';

const cli = fileURLToPath(new URL('./cli.ts', import.meta.url));
const run = (...args: string[]) => spawnSync(process.execPath, ['--conditions=sealkeep-source', '--import', 'tsx', cli, ...args], { encoding: 'utf8' });
const NONCE = '0123456789abcdef';

let dir: string;
const file = (name: string, text: string) => (writeFileSync(path.join(dir, name), text), path.join(dir, name));
before(() => (dir = mkdtempSync(path.join(tmpdir(), 'evidence-cli-'))));
after(() => rmSync(dir, { recursive: true, force: true }));

test('sealkeep-evidence-verify: exit status and report', async () => {
  const fx = await evidenceFixture();
  const first = await fx.bundle(Buffer.from('earlier'));
  const bundle = await fx.bundle(Buffer.from(NONCE, 'hex'));
  const good = file('bundle.json', JSON.stringify(bundle));
  const roots = fx.trustedRoots.map((pem, i) => file(`root-${i}.pem`, pem));
  const trust = roots.flatMap((r) => ['--trusted-root', r]);
  const policy = file('policy.json', JSON.stringify({ pcrs: { sha256: { 18: bundle.pcrs.sha256!['18'] } } }));

  const ok = run(good, ...trust, '--nonce', NONCE, '--policy', policy, '--previous-quote', file('first.json', JSON.stringify(first)));
  assert.equal(ok.status, 0, ok.stderr);
  assert.equal(ok.stdout, 'evidence OK: host host-07 (sha256:0-7,17-22 sha1:0-7,17-22; 17 events read; 2 certificate path(s) to a trusted root)\n');

  const warned = run(good, ...trust);
  assert.equal(warned.status, 0, warned.stderr);
  assert.match(warned.stdout, /^WARNING  quote-nonce-not-checked: /m);
  assert.match(warned.stdout, /^INFO     policy-not-given: /m);
  assert.match(warned.stdout, /, 1 warning\n$/);

  const failed = run(good, ...trust, '--nonce', 'ffff', '--policy', policy);
  assert.equal(failed.status, 1);
  assert.match(failed.stdout, /^ERROR    quote-nonce-mismatch: extraData is not the expected nonce/);
  assert.match(failed.stdout, /^ {9}expected ffff$/m);
  assert.match(failed.stdout, /evidence FAILED: host host-07: 1 error /);

  const json = run(good, ...trust, '--nonce', 'ffff', '--json');
  assert.equal(json.status, 1);
  const result = JSON.parse(json.stdout);
  assert.equal(result.ok, false);
  assert.deepEqual(result.findings.map((f: { id: string }) => f.id), ['quote-nonce-mismatch', 'policy-not-given']);

  const stdin = spawnSync(process.execPath, ['--conditions=sealkeep-source', '--import', 'tsx', cli, '-', ...trust, '--nonce', NONCE, '--policy', policy], { input: JSON.stringify(bundle), encoding: 'utf8' });
  assert.equal(stdin.status, 0, stdin.stderr);

  const tools = path.join(dir, 'tools');
  const exported = run(good, ...trust, '--nonce', NONCE, '--policy', policy, '--export-tools', tools);
  assert.equal(exported.status, 0, exported.stderr);
  assert.match(exported.stderr, /run there: tpm2_checkquote -u ak\.pem -m quote\.msg -s quote\.sig -f pcrs\.tss -g sha256 -q 0123456789abcdef/);
  for (const f of ['ak.pem', 'quote.msg', 'quote.sig', 'pcrs.values', 'pcrs.tss', 'ak-cert.pem', 'ak-chain.pem', 'ek-cert.pem']) assert.ok(existsSync(path.join(tools, f)), f);
});

test('sealkeep-evidence-verify: usage and I/O errors exit 2', () => {
  const root = file('root.pem', 'not a certificate');
  assert.equal(run().status, 2);
  assert.equal(run(path.join(dir, 'absent.json'), '--trusted-root', root).status, 2);
  assert.equal(run(file('x.json', '{}')).status, 2, 'no trusted root');
  assert.equal(run(file('y.json', '{}'), '--trusted-root', root, '--nonce', 'xyz').status, 2);
  assert.equal(run(file('z.json', '{}'), '--trusted-root', root, '--at', 'yesterday').status, 2);
  assert.equal(run(file('w.json', '{}'), '--trusted-root', root, '--policy', file('p.json', '{')).status, 2);
  assert.equal(run('--help').status, 0);
  const bad = run(file('v.json', '{}'), '--trusted-root', root);
  assert.equal(bad.status, 1, 'a malformed bundle is a finding, not a usage error');
  assert.match(bad.stdout, /bundle-version-unsupported/);
});
