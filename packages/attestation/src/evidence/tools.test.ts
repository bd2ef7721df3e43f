// The same evidence judged by tools written by others, from the files tools-export.ts writes:
// tpm2_checkquote (tpm2-tools) accepts the quote — ECDSA and RSASSA AKs, 28 PCRs in tpm2-tools'
// serialized PCR file and 6 PCRs as raw values with -l — and refuses it with a wrong nonce or a
// changed PCR value; `openssl verify` accepts the AK chain (AK → issuing CA → root) and the EK
// chain (EK → manufacturer root), and refuses them under another root. Skipped, saying so, when
// a tool is missing (.ci/run installs both).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { ManufacturerCa } from '@sealkeep/tpm';
import { evidenceFixture } from './evidence.fixture.js';
import { exportCheckquote, writeToolFiles } from './tools-export.js';
import type { EvidenceBundle } from './bundle.js';

const exec = promisify(execFile);
const have = async (tool: string, args: string[]) => exec(tool, args).then(() => true, () => false);
const skipCheckquote = !(await have('tpm2_checkquote', ['--version'])) && 'tpm2_checkquote (tpm2-tools) is not installed';
const skipOpenssl = !(await have('openssl', ['version'])) && 'openssl is not installed';
const NONCE = Buffer.from('d1ce5eed0123456789abcdef', 'hex');

/** Run a tool in `cwd`; its exit status and output. */
async function run(cwd: string, tool: string, args: string[]): Promise<{ ok: boolean; out: string }> {
  try {
    const r = await exec(tool, args, { cwd, encoding: 'utf8' });
    return { ok: true, out: r.stdout + r.stderr };
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string };
    return { ok: false, out: `${err.stdout ?? ''}${err.stderr ?? ''}` };
  }
}

describe('tpm2_checkquote', { skip: skipCheckquote }, () => {
  const dirs: string[] = [];
  after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
  const export_ = async (bundle: EvidenceBundle) => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sealkeep-checkquote-'));
    dirs.push(dir);
    return { dir, exp: await writeToolFiles(dir, bundle) };
  };

  for (const akAlg of ['eccP256', 'rsa2048'] as const) {
    test(`a ${akAlg} AK's quote of 28 PCRs: accepted, and refused with a wrong nonce or PCR value`, async () => {
      const fx = await evidenceFixture({ akAlg });
      const { dir, exp } = await export_(await fx.bundle(NONCE));
      assert.deepEqual(exp.args.slice(6, 8), ['-f', 'pcrs.tss']);
      const good = await run(dir, 'tpm2_checkquote', exp.args);
      assert.ok(good.ok, good.out);
      assert.match(good.out, /sha256:\n\s+0 : 0x/);
      const wrongNonce = exp.args.map((a) => (a === exp.nonce ? 'ff'.repeat(8) : a));
      const refused = await run(dir, 'tpm2_checkquote', wrongNonce);
      assert.equal(refused.ok, false);
      assert.match(refused.out, /nonce|qualification|extra data/i);
      const tss = readFileSync(path.join(dir, 'pcrs.tss'));
      tss[tss.length - 532 + 6]! ^= 0x01; // a byte of the first value in the last TPML_DIGEST
      writeFileSync(path.join(dir, 'pcrs.tss'), tss);
      assert.equal((await run(dir, 'tpm2_checkquote', exp.args)).ok, false);
    });
  }

  test('6 PCRs as raw values with a PCR list (-f values -l)', async () => {
    const fx = await evidenceFixture();
    const bundle = await fx.bundle(NONCE, { pcrs: [17, 18, 19, 20, 21, 22], banks: ['sha256'] });
    const { dir, exp } = await export_(bundle);
    assert.deepEqual(exp.args.slice(6, 10), ['-f', 'pcrs.values', '-l', 'sha256:17,18,19,20,21,22']);
    assert.equal(readFileSync(path.join(dir, 'pcrs.values')).length, 6 * 32);
    const good = await run(dir, 'tpm2_checkquote', exp.args);
    assert.ok(good.ok, good.out);
    const refused = await run(dir, 'tpm2_checkquote', [...exp.args.slice(0, -1), '00'.repeat(12)]);
    assert.equal(refused.ok, false, refused.out);
  });

  test('the exporter takes the nonce it is given, and refuses a bundle it cannot export', async () => {
    const fx = await evidenceFixture();
    const bundle = await fx.bundle(NONCE);
    assert.equal(exportCheckquote(bundle, { nonce: Buffer.from('abcd', 'hex') }).nonce, 'abcd');
    assert.throws(() => exportCheckquote({ ...bundle, pcrs: {} }), /no value for sha256 PCR 0/);
    assert.throws(() => exportCheckquote('{'), /cannot be exported/);
  });
});

describe('openssl verify', { skip: skipOpenssl }, () => {
  let dir: string;
  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'sealkeep-openssl-'));
    const [iak, viaCa] = await Promise.all([evidenceFixture(), evidenceFixture({ akIssuer: 'attestation-ca' })]);
    await writeToolFiles(path.join(dir, 'iak'), await iak.bundle(NONCE));
    await writeToolFiles(path.join(dir, 'ca'), await viaCa.bundle(NONCE));
    writeFileSync(path.join(dir, 'iak', 'roots.pem'), iak.trustedRoots.join(''));
    writeFileSync(path.join(dir, 'ca', 'roots.pem'), viaCa.trustedRoots.join(''));
    writeFileSync(path.join(dir, 'other-root.pem'), (await ManufacturerCa.create({ subject: { country: 'US', organization: 'Elsewhere', commonName: 'Other Root' } })).toPem());
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  const verify = (sub: string, roots: string, leaf: string, untrusted?: string) =>
    run(path.join(dir, sub), 'openssl', ['verify', '-x509_strict', '-CAfile', roots, ...(untrusted ? ['-untrusted', untrusted] : []), leaf]);

  test('accepts the AK chains (AK → issuing CA → root; AK → manufacturer root) and the EK chain', async () => {
    assert.equal((await verify('ca', 'roots.pem', 'ak-cert.pem', 'ak-chain.pem')).out.trim(), 'ak-cert.pem: OK');
    assert.equal((await verify('iak', 'roots.pem', 'ak-cert.pem')).out.trim(), 'ak-cert.pem: OK');
    assert.equal((await verify('iak', 'roots.pem', 'ek-cert.pem')).out.trim(), 'ek-cert.pem: OK');
  });

  test('refuses them under another root', async () => {
    assert.equal((await verify('ca', '../other-root.pem', 'ak-cert.pem', 'ak-chain.pem')).ok, false);
    assert.equal((await verify('iak', '../other-root.pem', 'ak-cert.pem')).ok, false);
    assert.equal((await verify('iak', '../other-root.pem', 'ek-cert.pem')).ok, false);
  });
});
