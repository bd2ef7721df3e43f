// tpm2-tools 5.4 over mssim drive RSA_Encrypt / RSA_Decrypt and ECDH_KeyGen / ECDH_ZGen, and
// OpenSSL is the independent party: it encrypts to the TPM key's public PEM (OAEP-SHA256,
// OAEP-SHA1, PKCS#1 v1.5) and the TPM decrypts.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { haveTpm2Tools, withTpmServer, type Tpm2Tools } from '../../testing/tpm2-tools.js';

const sh = promisify(execFile);
const openssl = (t: Tpm2Tools, args: string[]) => sh('openssl', args, { cwd: t.dir });

async function rsaKey(t: Tpm2Tools): Promise<void> {
  await t.run('tpm2_startup', ['-c']);
  await t.run('tpm2_createprimary', ['-C', 'o', '-c', 'prim.ctx', '-Q']);
  await t.run('tpm2_create', ['-C', 'prim.ctx', '-G', 'rsa2048', '-u', 'k.pub', '-r', 'k.priv', '-Q']);
  await t.run('tpm2_load', ['-C', 'prim.ctx', '-u', 'k.pub', '-r', 'k.priv', '-c', 'k.ctx', '-Q']);
  await t.run('tpm2_readpublic', ['-c', 'k.ctx', '-f', 'pem', '-o', 'k.pem', '-Q']);
}

test('tpm2_rsaencrypt / tpm2_rsadecrypt round trips (rsaes, oaep with a label), and OpenSSL ciphertexts decrypt', { skip: !haveTpm2Tools }, () =>
  withTpmServer(async (t) => {
    await rsaKey(t);
    const msg = Buffer.from('tenant key encryption key\n');
    writeFileSync(t.file('msg'), msg);
    await t.run('tpm2_rsaencrypt', ['-c', 'k.ctx', '-o', 'ct', 'msg']);
    await t.run('tpm2_rsadecrypt', ['-c', 'k.ctx', '-o', 'pt', 'ct']);
    assert.deepEqual(readFileSync(t.file('pt')), msg);
    await t.run('tpm2_rsaencrypt', ['-c', 'k.ctx', '-s', 'oaep', '-l', 'sealkeep', '-o', 'ct-oaep', 'msg']);
    await t.run('tpm2_rsadecrypt', ['-c', 'k.ctx', '-s', 'oaep', '-l', 'sealkeep', '-o', 'pt-oaep', 'ct-oaep']);
    assert.deepEqual(readFileSync(t.file('pt-oaep')), msg);

    const fromOpenssl: Array<[string, string[], string]> = [
      ['oaep-sha256', ['-pkeyopt', 'rsa_padding_mode:oaep', '-pkeyopt', 'rsa_oaep_md:sha256'], 'oaep'],
      ['oaep-sha1', ['-pkeyopt', 'rsa_padding_mode:oaep'], 'oaep-sha1'],
      ['pkcs1', [], 'rsaes'],
    ];
    for (const [name, opts, scheme] of fromOpenssl) {
      await openssl(t, ['pkeyutl', '-encrypt', '-pubin', '-inkey', 'k.pem', ...opts, '-in', 'msg', '-out', `ct-${name}`]);
      await t.run('tpm2_rsadecrypt', ['-c', 'k.ctx', '-s', scheme, '-o', `pt-${name}`, `ct-${name}`]);
      assert.deepEqual(readFileSync(t.file(`pt-${name}`)), msg, name);
    }
    // A ciphertext that is not one: the tool reports TPM_RC_VALUE (0x84).
    writeFileSync(t.file('junk'), Buffer.alloc(256, 0x5a));
    assert.match(await t.fails('tpm2_rsadecrypt', ['-c', 'k.ctx', '-s', 'oaep', '-o', 'pt-junk', 'junk']), /0x84\)/);
  }));

test('tpm2_ecdhkeygen and tpm2_ecdhzgen arrive at the same Z', { skip: !haveTpm2Tools }, () =>
  withTpmServer(async (t) => {
    await t.run('tpm2_startup', ['-c']);
    await t.run('tpm2_createprimary', ['-C', 'o', '-c', 'prim.ctx', '-Q']);
    await t.run('tpm2_create', ['-C', 'prim.ctx', '-G', 'ecc256', '-u', 'e.pub', '-r', 'e.priv', '-Q']);
    await t.run('tpm2_load', ['-C', 'prim.ctx', '-u', 'e.pub', '-r', 'e.priv', '-c', 'e.ctx', '-Q']);
    await t.run('tpm2_ecdhkeygen', ['-c', 'e.ctx', '-u', 'ecdh.pub', '-o', 'z1']);
    await t.run('tpm2_ecdhzgen', ['-c', 'e.ctx', '-u', 'ecdh.pub', '-o', 'z2']);
    const z1 = readFileSync(t.file('z1'));
    assert.ok(z1.length > 32);
    assert.deepEqual(readFileSync(t.file('z2')), z1);
  }));
