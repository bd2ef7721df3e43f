// tpm2-tools 5.4 over mssim: tpm2_duplicate under a PolicyCommandCode(Duplicate) session to a
// new parent on the same TPM (no inner wrapper, and an AES inner wrapper the TPM chooses), then
// tpm2_import under that parent, load and use; tpm2_import of keys OpenSSL generated (RSA, ECC),
// then load and decrypt / sign with them, OpenSSL checking the results.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { haveTpm2Tools, withTpmServer, type Tpm2Tools } from '../../testing/tpm2-tools.js';

const sh = promisify(execFile);
const openssl = (t: Tpm2Tools, args: string[]) => sh('openssl', args, { cwd: t.dir, encoding: 'utf8' });

async function primary(t: Tpm2Tools): Promise<void> {
  await t.run('tpm2_startup', ['-c']);
  await t.run('tpm2_createprimary', ['-C', 'o', '-c', 'prim.ctx', '-Q']);
}

/** A policy session that has run PolicyCommandCode(TPM2_CC_Duplicate), saved in `file`. */
async function dupSession(t: Tpm2Tools, file: string): Promise<void> {
  await t.run('tpm2_startauthsession', ['--policy-session', '-S', file]);
  await t.run('tpm2_policycommandcode', ['-S', file, 'TPM2_CC_Duplicate']);
}

/** A primary, and under it an RSA key whose policy allows only TPM2_Duplicate: k.pub, k.priv, k.ctx. */
async function duplicableKey(t: Tpm2Tools): Promise<void> {
    await primary(t);
    await t.run('tpm2_startauthsession', ['-S', 'trial.ctx']);
    await t.run('tpm2_policycommandcode', ['-S', 'trial.ctx', '-L', 'dup.policy', 'TPM2_CC_Duplicate']);
    await t.run('tpm2_flushcontext', ['trial.ctx']);
    await t.run('tpm2_create', ['-C', 'prim.ctx', '-G', 'rsa', '-L', 'dup.policy', '-a', 'sensitivedataorigin|userwithauth|decrypt|sign', '-u', 'k.pub', '-r', 'k.priv', '-Q']);
    await t.run('tpm2_load', ['-C', 'prim.ctx', '-u', 'k.pub', '-r', 'k.priv', '-c', 'k.ctx', '-Q']);
}

test('tpm2_duplicate to a new ECC parent, tpm2_import under it, load and decrypt (no inner wrapper, then AES inner)', { skip: !haveTpm2Tools }, () =>
  withTpmServer(async (t) => {
    await duplicableKey(t);
    await t.run('tpm2_createprimary', ['-C', 'o', '-G', 'ecc', '-c', 'newparent.ctx', '-Q']);
    writeFileSync(t.file('msg'), 'duplicated and still working\n');

    for (const inner of [['-G', 'null'], ['-G', 'aes', '-o', 'inner.key']]) {
      await dupSession(t, 'dup.ctx');
      await t.run('tpm2_duplicate', ['-C', 'newparent.ctx', '-c', 'k.ctx', ...inner, '-p', 'session:dup.ctx', '-r', 'dup.priv', '-s', 'dup.seed']);
      await t.run('tpm2_flushcontext', ['dup.ctx']);
      const withKey = inner.includes('aes') ? ['-k', 'inner.key'] : [];
      await t.run('tpm2_import', ['-C', 'newparent.ctx', '-u', 'k.pub', '-i', 'dup.priv', ...withKey, '-s', 'dup.seed', '-r', 'moved.priv', '-Q']);
      await t.run('tpm2_load', ['-C', 'newparent.ctx', '-u', 'k.pub', '-r', 'moved.priv', '-c', 'moved.ctx', '-Q']);
      await t.run('tpm2_rsaencrypt', ['-c', 'k.ctx', '-o', 'ct', 'msg']);
      await t.run('tpm2_rsadecrypt', ['-c', 'moved.ctx', '-o', 'pt', 'ct']);
      assert.deepEqual(readFileSync(t.file('pt')), readFileSync(t.file('msg')));
    }
  }));

test('tpm2_duplicate without the policy session is refused; a tampered seed does not import', { skip: !haveTpm2Tools }, () =>
  withTpmServer(async (t) => {
    await duplicableKey(t);
    await t.fails('tpm2_duplicate', ['-C', 'prim.ctx', '-c', 'k.ctx', '-G', 'null', '-r', 'dup.priv', '-s', 'dup.seed']);
    await dupSession(t, 'dup.ctx');
    await t.run('tpm2_duplicate', ['-C', 'prim.ctx', '-c', 'k.ctx', '-G', 'null', '-p', 'session:dup.ctx', '-r', 'dup.priv', '-s', 'dup.seed']);
    const priv = readFileSync(t.file('dup.priv'));
    priv[priv.length - 5] = priv[priv.length - 5]! ^ 1;
    writeFileSync(t.file('bent.priv'), priv);
    // TPM_RC_INTEGRITY on parameter 3 (duplicate): 0x3df.
    assert.match(await t.fails('tpm2_import', ['-C', 'prim.ctx', '-u', 'k.pub', '-i', 'bent.priv', '-s', 'dup.seed', '-r', 'x.priv']), /0x3df/i);
  }));

test('tpm2_import of an OpenSSL RSA key: load, decrypt what OpenSSL encrypted, sign what OpenSSL verifies', { skip: !haveTpm2Tools }, () =>
  withTpmServer(async (t) => {
    await primary(t);
    await openssl(t, ['genrsa', '-out', 'ext.pem', '2048']);
    await openssl(t, ['rsa', '-in', 'ext.pem', '-pubout', '-out', 'ext.pub.pem']);
    await t.run('tpm2_import', ['-C', 'prim.ctx', '-G', 'rsa', '-i', 'ext.pem', '-u', 'ext.pub', '-r', 'ext.priv', '-Q']);
    await t.run('tpm2_load', ['-C', 'prim.ctx', '-u', 'ext.pub', '-r', 'ext.priv', '-c', 'ext.ctx', '-Q']);
    writeFileSync(t.file('msg'), 'bring your own key\n');
    await openssl(t, ['pkeyutl', '-encrypt', '-pubin', '-inkey', 'ext.pub.pem', '-pkeyopt', 'rsa_padding_mode:oaep', '-pkeyopt', 'rsa_oaep_md:sha256', '-in', 'msg', '-out', 'ct']);
    await t.run('tpm2_rsadecrypt', ['-c', 'ext.ctx', '-s', 'oaep', '-o', 'pt', 'ct']);
    assert.deepEqual(readFileSync(t.file('pt')), readFileSync(t.file('msg')));
    await t.run('tpm2_sign', ['-c', 'ext.ctx', '-g', 'sha256', '-f', 'plain', '-o', 'sig', 'msg']);
    const { stdout } = await openssl(t, ['dgst', '-sha256', '-verify', 'ext.pub.pem', '-signature', 'sig', 'msg']);
    assert.match(stdout, /Verified OK/);
  }));

test('tpm2_import of an OpenSSL P-256 key loads', { skip: !haveTpm2Tools }, () =>
  withTpmServer(async (t) => {
    await primary(t);
    await openssl(t, ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'ec.pem']);
    await t.run('tpm2_import', ['-C', 'prim.ctx', '-G', 'ecc', '-i', 'ec.pem', '-u', 'ec.pub', '-r', 'ec.priv', '-Q']);
    await t.run('tpm2_load', ['-C', 'prim.ctx', '-u', 'ec.pub', '-r', 'ec.priv', '-c', 'ec.ctx', '-Q']);
  }));
