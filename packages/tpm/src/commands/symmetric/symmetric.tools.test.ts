// tpm2-tools 5.4 over mssim drive EncryptDecrypt(2) and HMAC; keys imported with tpm2_import
// from known bytes let OpenSSL compute the expected ciphertext and MAC independently.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { haveTpm2Tools, withTpmServer, type Tpm2Tools } from '../../testing/tpm2-tools.js';

const sh = promisify(execFile);
const openssl = (t: Tpm2Tools, args: string[]) => sh('openssl', args, { cwd: t.dir, encoding: 'utf8' });

async function primary(t: Tpm2Tools): Promise<void> {
  await t.run('tpm2_startup', ['-c']);
  await t.run('tpm2_createprimary', ['-C', 'o', '-c', 'prim.ctx', '-Q']);
}

test('tpm2_create -G aes256cfb + tpm2_encryptdecrypt round trip', { skip: !haveTpm2Tools }, () =>
  withTpmServer(async (t) => {
    await primary(t);
    await t.run('tpm2_create', ['-C', 'prim.ctx', '-G', 'aes256cfb', '-u', 'a.pub', '-r', 'a.priv', '-Q']);
    await t.run('tpm2_load', ['-C', 'prim.ctx', '-u', 'a.pub', '-r', 'a.priv', '-c', 'a.ctx', '-Q']);
    const data = randomBytes(100);
    writeFileSync(t.file('data'), data);
    writeFileSync(t.file('iv'), randomBytes(16));
    await t.run('tpm2_encryptdecrypt', ['-c', 'a.ctx', '-t', 'iv', '-o', 'enc', 'data']);
    await t.run('tpm2_encryptdecrypt', ['-d', '-c', 'a.ctx', '-t', 'iv', '-o', 'dec', 'enc']);
    assert.notDeepEqual(readFileSync(t.file('enc')), data);
    assert.deepEqual(readFileSync(t.file('dec')), data);
  }));

test('an AES-256 key imported with tpm2_import encrypts exactly as openssl enc -aes-256-cfb / -cbc', { skip: !haveTpm2Tools }, () =>
  withTpmServer(async (t) => {
    await primary(t);
    const key = randomBytes(32);
    const iv = randomBytes(16);
    writeFileSync(t.file('aes.key'), key);
    writeFileSync(t.file('iv'), iv);
    writeFileSync(t.file('data'), randomBytes(64));
    await t.run('tpm2_import', ['-C', 'prim.ctx', '-G', 'aes', '-i', 'aes.key', '-u', 'a.pub', '-r', 'a.priv', '-Q']);
    await t.run('tpm2_load', ['-C', 'prim.ctx', '-u', 'a.pub', '-r', 'a.priv', '-c', 'a.ctx', '-Q']);
    for (const mode of ['cfb', 'cbc']) {
      await t.run('tpm2_encryptdecrypt', ['-c', 'a.ctx', '-G', mode, '-t', 'iv', '-o', `tpm-${mode}`, 'data']);
      await openssl(t, ['enc', `-aes-256-${mode}`, '-nopad', '-K', key.toString('hex'), '-iv', iv.toString('hex'), '-in', 'data', '-out', `ossl-${mode}`]);
      assert.deepEqual(readFileSync(t.file(`tpm-${mode}`)), readFileSync(t.file(`ossl-${mode}`)), mode);
    }
  }));

test('tpm2_hmac with a created key and with an imported key (checked by openssl dgst -mac hmac)', { skip: !haveTpm2Tools }, () =>
  withTpmServer(async (t) => {
    await primary(t);
    writeFileSync(t.file('data'), randomBytes(200));
    await t.run('tpm2_create', ['-C', 'prim.ctx', '-G', 'hmac', '-u', 'h.pub', '-r', 'h.priv', '-Q']);
    await t.run('tpm2_load', ['-C', 'prim.ctx', '-u', 'h.pub', '-r', 'h.priv', '-c', 'h.ctx', '-Q']);
    const { stdout } = await t.run('tpm2_hmac', ['-c', 'h.ctx', '--hex', 'data']);
    assert.match(stdout.trim(), /^[0-9a-f]{64}$/);

    const key = randomBytes(32);
    writeFileSync(t.file('hmac.key'), key);
    await t.run('tpm2_import', ['-C', 'prim.ctx', '-G', 'hmac', '-i', 'hmac.key', '-u', 'ih.pub', '-r', 'ih.priv', '-Q']);
    await t.run('tpm2_load', ['-C', 'prim.ctx', '-u', 'ih.pub', '-r', 'ih.priv', '-c', 'ih.ctx', '-Q']);
    const tpm = (await t.run('tpm2_hmac', ['-c', 'ih.ctx', '--hex', 'data'])).stdout.trim();
    const ossl = (await openssl(t, ['dgst', '-sha256', '-mac', 'hmac', '-macopt', `hexkey:${key.toString('hex')}`, 'data'])).stdout;
    assert.equal(tpm, ossl.trim().split('= ')[1]);
  }));
