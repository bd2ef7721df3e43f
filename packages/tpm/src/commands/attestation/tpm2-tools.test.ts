// Attestation driven by tpm2-tools 5.4 over mssim: an EK and an AK made the way tpm2-tools
// makes them, quotes that tpm2_checkquote accepts (and refuses with a wrong nonce), for RSA and
// ECC AKs; tpm2_certify, tpm2_gettime and tpm2_nvcertify signatures checked by tpm2_verifysignature and openssl.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { haveTpm2Tools, withTpmServer, type Tpm2Tools } from '../../testing/tpm2-tools.js';

const skip = !haveTpm2Tools && 'tpm2-tools are not installed';
const NONCE = '0123456789abcdef';

async function ekAndAk(tools: Tpm2Tools, alg: 'rsa' | 'ecc') {
  await tools.run('tpm2_createek', ['-c', 'ek.ctx', '-G', alg, '-u', 'ek.pub']);
  const scheme = alg === 'rsa' ? 'rsassa' : 'ecdsa';
  await tools.run('tpm2_createak', ['-C', 'ek.ctx', '-c', 'ak.ctx', '-G', alg, '-g', 'sha256', '-s', scheme, '-u', 'ak.pub', '-n', 'ak.name']);
}

for (const alg of ['rsa', 'ecc'] as const) {
  test(`tpm2_quote with a ${alg} AK passes tpm2_checkquote, which refuses a wrong nonce`, { skip }, () =>
    withTpmServer(async (tools) => {
      await tools.run('tpm2_startup', ['-c']);
      await ekAndAk(tools, alg);
      await tools.run('tpm2_pcrextend', ['16:sha256=' + 'ab'.repeat(32)]);
      const quoteArgs = ['-c', 'ak.ctx', '-l', 'sha256:0,16', '-q', NONCE, '-m', 'quote.msg', '-s', 'quote.sig', '-g', 'sha256'];
      // PCR values as raw values (read back with -l) and as tpm2-tools' own structure dump.
      await tools.run('tpm2_quote', [...quoteArgs, '-o', 'pcrs.values', '-F', 'values']);
      const check = ['-u', 'ak.pub', '-m', 'quote.msg', '-s', 'quote.sig', '-g', 'sha256'];
      await tools.run('tpm2_checkquote', [...check, '-f', 'pcrs.values', '-l', 'sha256:0,16', '-q', NONCE]);
      const wrong = await tools.fails('tpm2_checkquote', [...check, '-f', 'pcrs.values', '-l', 'sha256:0,16', '-q', NONCE.replace(/f$/, 'e')]);
      assert.match(wrong, /nonce/i);

      await tools.run('tpm2_quote', [...quoteArgs, '-o', 'pcrs.dump']);
      await tools.run('tpm2_checkquote', [...check, '-f', 'pcrs.dump', '-q', NONCE]);
      // A PCR that changes after the quote no longer matches it.
      await tools.run('tpm2_pcrextend', ['16:sha256=' + 'cd'.repeat(32)]);
      await tools.run('tpm2_pcrread', ['sha256:0,16', '-o', 'pcrs.now']);
      await tools.fails('tpm2_checkquote', [...check, '-f', 'pcrs.now', '-l', 'sha256:0,16', '-q', NONCE]);
    }),
  );
}

test('tpm2_certify and tpm2_gettime: signatures that tpm2_verifysignature and openssl accept', { skip }, () =>
  withTpmServer(async (tools) => {
      await tools.run('tpm2_startup', ['-c']);
    await ekAndAk(tools, 'rsa');
    await tools.run('tpm2_createprimary', ['-C', 'o', '-G', 'ecc', '-c', 'primary.ctx']);
    await tools.run('tpm2_certify', ['-C', 'ak.ctx', '-c', 'primary.ctx', '-g', 'sha256', '-o', 'certify.attest', '-s', 'certify.sig']);
    await tools.run('tpm2_verifysignature', ['-c', 'ak.ctx', '-g', 'sha256', '-m', 'certify.attest', '-s', 'certify.sig']);

    await tools.run('tpm2_gettime', ['-c', 'ak.ctx', '-q', 'cafe', '-o', 'time.sig', '--attestation', 'time.attest']);
    await tools.run('tpm2_verifysignature', ['-c', 'ak.ctx', '-g', 'sha256', '-m', 'time.attest', '-s', 'time.sig']);

    await tools.run('tpm2_readpublic', ['-c', 'ak.ctx', '-f', 'pem', '-o', 'ak.pem']);
    await tools.run('tpm2_certify', ['-C', 'ak.ctx', '-c', 'primary.ctx', '-g', 'sha256', '-o', 'c2.attest', '-s', 'c2.sig', '-f', 'plain']);
    await promisify(execFile)('openssl', ['dgst', '-sha256', '-verify', 'ak.pem', '-signature', 'c2.sig', 'c2.attest'], { cwd: tools.dir });
  }),
);

test('tpm2_nvcertify: a signed slice of an NV index', { skip }, () =>
  withTpmServer(async (tools) => {
    await tools.run('tpm2_startup', ['-c']);
    await tools.run('tpm2_createprimary', ['-C', 'o', '-G', 'ecc', '-c', 'primary.ctx']);
    await tools.run('tpm2_create', ['-C', 'primary.ctx', '-G', 'ecc', '-u', 'sign.pub', '-r', 'sign.priv']);
    await tools.run('tpm2_load', ['-C', 'primary.ctx', '-u', 'sign.pub', '-r', 'sign.priv', '-c', 'sign.ctx']);
    writeFileSync(tools.file('nv.data'), Buffer.from('certified NV contents: 32 bytes!'));
    await tools.run('tpm2_nvdefine', ['0x01000001', '-C', 'o', '-s', '32', '-a', 'ownerread|ownerwrite|authread|authwrite']);
    await tools.run('tpm2_nvwrite', ['0x01000001', '-C', 'o', '-i', 'nv.data']);
    await tools.run('tpm2_nvcertify', [
      '-C', 'sign.ctx', '-c', 'o', '-g', 'sha256', '-o', 'nv.sig', '--attestation', 'nv.attest', '--size', '32', '0x01000001',
    ]);
    await tools.run('tpm2_verifysignature', ['-c', 'sign.ctx', '-g', 'sha256', '-m', 'nv.attest', '-s', 'nv.sig']);
    assert.ok(readFileSync(tools.file('nv.attest')).includes(Buffer.from('certified NV contents')));
  }),
);
