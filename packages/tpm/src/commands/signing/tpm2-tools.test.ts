// Signing driven by tpm2-tools 5.4 over mssim: tpm2_sign / tpm2_verifysignature with RSA and ECC
// keys, the signature checked by openssl against tpm2_readpublic's PEM, and a restricted AK
// that signs a digest only with tpm2_hash's ticket.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { haveTpm2Tools, withTpmServer } from '../../testing/tpm2-tools.js';

const skip = !haveTpm2Tools && 'tpm2-tools are not installed';
const openssl = promisify(execFile);

test('tpm2_sign and tpm2_verifysignature; openssl verifies the same signature', { skip }, () =>
  withTpmServer(async (tools) => {
      await tools.run('tpm2_startup', ['-c']);
    const message = Buffer.from('sealkeep: signed by the emulated TPM');
    writeFileSync(tools.file('msg'), message);
    await tools.run('tpm2_createprimary', ['-C', 'o', '-G', 'ecc', '-c', 'primary.ctx']);
    for (const alg of ['rsa', 'ecc']) {
      await tools.run('tpm2_create', ['-C', 'primary.ctx', '-G', alg, '-u', `${alg}.pub`, '-r', `${alg}.priv`]);
      await tools.run('tpm2_load', ['-C', 'primary.ctx', '-u', `${alg}.pub`, '-r', `${alg}.priv`, '-c', `${alg}.ctx`]);
      await tools.run('tpm2_sign', ['-c', `${alg}.ctx`, '-g', 'sha256', '-o', `${alg}.sig`, 'msg']);
      await tools.run('tpm2_verifysignature', ['-c', `${alg}.ctx`, '-g', 'sha256', '-m', 'msg', '-s', `${alg}.sig`, '-t', `${alg}.ticket`]);
      writeFileSync(tools.file('other'), 'another message');
      await tools.fails('tpm2_verifysignature', ['-c', `${alg}.ctx`, '-g', 'sha256', '-m', 'other', '-s', `${alg}.sig`]);

      await tools.run('tpm2_readpublic', ['-c', `${alg}.ctx`, '-f', 'pem', '-o', `${alg}.pem`]);
      await tools.run('tpm2_sign', ['-c', `${alg}.ctx`, '-g', 'sha256', '-f', 'plain', '-o', `${alg}.plain`, 'msg']);
      const r = await openssl('openssl', ['dgst', '-sha256', '-verify', `${alg}.pem`, '-signature', `${alg}.plain`, 'msg'], { cwd: tools.dir });
      assert.match(r.stdout, /Verified OK/, alg);
    }
  }),
);

test('a restricted AK signs an outside digest only with a tpm2_hash ticket', { skip }, () =>
  withTpmServer(async (tools) => {
      await tools.run('tpm2_startup', ['-c']);
    const message = Buffer.from('attest to this');
    writeFileSync(tools.file('msg'), message);
    writeFileSync(tools.file('digest.ext'), createHash('sha256').update(message).digest());
    await tools.run('tpm2_createek', ['-c', 'ek.ctx', '-G', 'ecc', '-u', 'ek.pub']);
    await tools.run('tpm2_createak', ['-C', 'ek.ctx', '-c', 'ak.ctx', '-G', 'ecc', '-g', 'sha256', '-s', 'ecdsa', '-u', 'ak.pub', '-n', 'ak.name']);

    const refused = await tools.fails('tpm2_sign', ['-c', 'ak.ctx', '-g', 'sha256', '-d', '-o', 'nope.sig', 'digest.ext']);
    assert.match(refused, /ticket/i);
    await tools.run('tpm2_hash', ['-C', 'e', '-g', 'sha256', '-t', 'hash.ticket', '-o', 'digest.tpm', 'msg']);
    await tools.run('tpm2_sign', ['-c', 'ak.ctx', '-g', 'sha256', '-d', '-t', 'hash.ticket', '-o', 'ak.sig', 'digest.tpm']);
    await tools.run('tpm2_verifysignature', ['-c', 'ak.ctx', '-g', 'sha256', '-m', 'msg', '-s', 'ak.sig']);
  }),
);
