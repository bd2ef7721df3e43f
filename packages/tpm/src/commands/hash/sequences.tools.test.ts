// tpm2-tools 5.4 over mssim take the sequence path for inputs over 1024 bytes: tpm2_hash (with
// a ticket), tpm2_hmac with an imported key (checked by OpenSSL) and tpm2_pcrevent (an event
// sequence that extends PCR 16 in every bank).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { haveTpm2Tools, withTpmServer } from '../../testing/tpm2-tools.js';

const sh = promisify(execFile);

test('tpm2_hash, tpm2_hmac and tpm2_pcrevent over 5000 bytes use sequences and agree with node:crypto', { skip: !haveTpm2Tools }, () =>
  withTpmServer(async (t) => {
    const data = randomBytes(5000);
    writeFileSync(t.file('big'), data);
    await t.run('tpm2_startup', ['-c']);

    const { stdout: hash } = await t.run('tpm2_hash', ['-g', 'sha256', '-C', 'o', '-t', 'ticket', '--hex', 'big']);
    assert.equal(hash.trim(), createHash('sha256').update(data).digest('hex'));
    assert.ok(readFileSync(t.file('ticket')).length > 10);

    const key = randomBytes(32);
    writeFileSync(t.file('hmac.key'), key);
    await t.run('tpm2_createprimary', ['-C', 'o', '-c', 'prim.ctx', '-Q']);
    await t.run('tpm2_import', ['-C', 'prim.ctx', '-G', 'hmac', '-i', 'hmac.key', '-u', 'h.pub', '-r', 'h.priv', '-Q']);
    await t.run('tpm2_load', ['-C', 'prim.ctx', '-u', 'h.pub', '-r', 'h.priv', '-c', 'h.ctx', '-Q']);
    const { stdout: mac } = await t.run('tpm2_hmac', ['-c', 'h.ctx', '--hex', 'big']);
    assert.equal(mac.trim(), createHmac('sha256', key).update(data).digest('hex'));
    const ossl = await sh('openssl', ['dgst', '-sha256', '-mac', 'hmac', '-macopt', `hexkey:${key.toString('hex')}`, t.file('big')], { encoding: 'utf8' });
    assert.equal(ossl.stdout.trim().split('= ')[1], mac.trim());

    await t.run('tpm2_pcrevent', ['16', 'big']);
    const { stdout: pcr } = await t.run('tpm2_pcrread', ['sha256:16']);
    const expected = createHash('sha256').update(Buffer.alloc(32)).update(createHash('sha256').update(data).digest()).digest('hex');
    assert.match(pcr.toLowerCase(), new RegExp(`0x${expected}`));
  }));
