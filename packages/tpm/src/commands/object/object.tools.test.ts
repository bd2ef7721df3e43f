// Objects, keys and contexts driven by tpm2-tools 5.4 over mssim. Every tool invocation loads
// its objects from .ctx files (ContextLoad) and saves them back (ContextSave), so these runs
// also prove contexts across connections: deterministic primaries (RSA and ECC), create/load,
// sealing, changeauth, the EK and an AK under a PolicySecret session, persistent handles,
// flushing, sessions saved to files, and tampered or pre-reset context files refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { haveTpm2Tools, withTpmServer } from '../../testing/tpm2-tools.js';

const skip = !haveTpm2Tools && 'tpm2-tools are not installed';

test('tpm2_createprimary twice gives the same key (RSA and ECC)', { skip }, () =>
  withTpmServer(async (tools) => {
    await tools.run('tpm2_startup', ['-c']);
    for (const alg of ['rsa', 'ecc']) {
      const pems: string[] = [];
      for (const n of [1, 2]) {
        await tools.run('tpm2_createprimary', ['-C', 'o', '-g', 'sha256', '-G', alg, '-c', `${alg}${n}.ctx`]);
        await tools.run('tpm2_readpublic', ['-c', `${alg}${n}.ctx`, '-o', `${alg}${n}.pem`, '-f', 'pem']);
        pems.push(readFileSync(tools.file(`${alg}${n}.pem`), 'utf8'));
      }
      assert.match(pems[0]!, /BEGIN PUBLIC KEY/);
      assert.equal(pems[1], pems[0], alg);
    }
    // The endorsement hierarchy has another seed.
    await tools.run('tpm2_createprimary', ['-C', 'e', '-g', 'sha256', '-G', 'rsa', '-c', 'e.ctx']);
    await tools.run('tpm2_readpublic', ['-c', 'e.ctx', '-o', 'e.pem', '-f', 'pem']);
    assert.notEqual(readFileSync(tools.file('e.pem'), 'utf8'), readFileSync(tools.file('rsa1.pem'), 'utf8'));
  }),
);

test('tpm2_create + tpm2_load; sealed data unsealed; tpm2_changeauth', { skip }, () =>
  withTpmServer(async (tools) => {
    await tools.run('tpm2_startup', ['-c']);
    await tools.run('tpm2_createprimary', ['-C', 'o', '-g', 'sha256', '-G', 'rsa', '-c', 'prim.ctx']);
    for (const alg of ['rsa', 'ecc', 'aes', 'hmac']) {
      await tools.run('tpm2_create', ['-C', 'prim.ctx', '-G', alg, '-u', `${alg}.pub`, '-r', `${alg}.priv`]);
      const out = await tools.run('tpm2_load', ['-C', 'prim.ctx', '-u', `${alg}.pub`, '-r', `${alg}.priv`, '-c', `${alg}.ctx`]);
      assert.match(out.stdout, /name: 000b[0-9a-f]{64}/, alg);
    }
    writeFileSync(tools.file('secret.txt'), 'sealkeep sealed secret');
    await tools.run('tpm2_create', ['-C', 'prim.ctx', '-i', 'secret.txt', '-u', 's.pub', '-r', 's.priv', '-p', 'sealpw']);
    await tools.run('tpm2_load', ['-C', 'prim.ctx', '-u', 's.pub', '-r', 's.priv', '-c', 's.ctx']);
    assert.equal((await tools.run('tpm2_unseal', ['-c', 's.ctx', '-p', 'sealpw'])).stdout, 'sealkeep sealed secret');
    assert.match(await tools.fails('tpm2_unseal', ['-c', 's.ctx', '-p', 'wrong']), /0x98e|authorization failure/i);

    await tools.run('tpm2_changeauth', ['-c', 's.ctx', '-C', 'prim.ctx', '-p', 'sealpw', '-r', 's2.priv', 'newpw']);
    await tools.run('tpm2_load', ['-C', 'prim.ctx', '-u', 's.pub', '-r', 's2.priv', '-c', 's2.ctx']);
    assert.equal((await tools.run('tpm2_unseal', ['-c', 's2.ctx', '-p', 'newpw'])).stdout, 'sealkeep sealed secret');
  }),
);

test('tpm2_createek and tpm2_createak (PolicySecret with the endorsement hierarchy)', { skip }, () =>
  withTpmServer(async (tools) => {
    await tools.run('tpm2_startup', ['-c']);
    await tools.run('tpm2_createek', ['-c', 'ek.ctx', '-G', 'rsa', '-u', 'ek.pub']);
    const ak = await tools.run('tpm2_createak', ['-C', 'ek.ctx', '-c', 'ak.ctx', '-G', 'rsa', '-g', 'sha256', '-s', 'rsassa', '-u', 'ak.pub', '-n', 'ak.name']);
    assert.match(ak.stdout, /loaded-key:\s+name: 000b/);
    await tools.run('tpm2_readpublic', ['-c', 'ak.ctx', '-f', 'pem', '-o', 'ak.pem']);
    await tools.run('tpm2_createek', ['-c', 'ek-ecc.ctx', '-G', 'ecc', '-u', 'ek-ecc.pub']);
  }),
);

test('tpm2_evictcontrol persists and evicts; tpm2_flushcontext; sessions saved to files', { skip }, () =>
  withTpmServer(async (tools) => {
    await tools.run('tpm2_startup', ['-c']);
    await tools.run('tpm2_createprimary', ['-C', 'o', '-g', 'sha256', '-G', 'rsa', '-c', 'prim.ctx']);
    const name = (await tools.run('tpm2_readpublic', ['-c', 'prim.ctx'])).stdout.match(/^name: (\w+)/m)![1];
    assert.match((await tools.run('tpm2_evictcontrol', ['-C', 'o', '-c', 'prim.ctx', '0x81000001'])).stdout, /action: persisted/);
    assert.equal((await tools.run('tpm2_readpublic', ['-c', '0x81000001'])).stdout.match(/^name: (\w+)/m)![1], name);
    assert.match((await tools.run('tpm2_getcap', ['handles-persistent'])).stdout, /0x81000001/);
    // Keys created under the persistent handle.
    await tools.run('tpm2_create', ['-C', '0x81000001', '-u', 'k.pub', '-r', 'k.priv']);
    await tools.run('tpm2_load', ['-C', '0x81000001', '-u', 'k.pub', '-r', 'k.priv', '-c', 'k.ctx']);
    assert.match(await tools.fails('tpm2_evictcontrol', ['-C', 'o', '-c', 'prim.ctx', '0x81800001']), /0x1cd|range/i);
    assert.match((await tools.run('tpm2_evictcontrol', ['-C', 'o', '-c', '0x81000001'])).stdout, /action: evicted/);
    await tools.fails('tpm2_readpublic', ['-c', '0x81000001']);

    await tools.run('tpm2_flushcontext', ['-t']);
    await tools.run('tpm2_flushcontext', ['-s']);
    await tools.run('tpm2_startauthsession', ['--policy-session', '-S', 'session.ctx']);
    await tools.run('tpm2_policypassword', ['-S', 'session.ctx', '-L', 'policy.dat']);
    await tools.run('tpm2_flushcontext', ['session.ctx']);
    await tools.fails('tpm2_policypassword', ['-S', 'session.ctx']);
  }),
);

test('a tampered .ctx file, or one saved before a TPM Reset, is TPM_RC_INTEGRITY', { skip }, () =>
  withTpmServer(async (tools, tpm) => {
    await tools.run('tpm2_startup', ['-c']);
    await tools.run('tpm2_createprimary', ['-C', 'o', '-g', 'sha256', '-G', 'ecc', '-c', 'prim.ctx']);
    const ctx = readFileSync(tools.file('prim.ctx'));
    // tpm2-tools' .ctx: magic, version, hierarchy, savedHandle, sequence, TPM2B contextBlob, then ESYS metadata.
    assert.equal(ctx.readUInt32BE(0), 0xbadcc0de);
    const blobStart = 26;
    const bad = Buffer.from(ctx);
    bad[blobStart + 40]! ^= 0x80;
    writeFileSync(tools.file('bad.ctx'), bad);
    assert.match(await tools.fails('tpm2_readpublic', ['-c', 'bad.ctx']), /0x1df|integrity/i);
    await tools.run('tpm2_readpublic', ['-c', 'prim.ctx']);
    // TPM Reset: power cycle, Startup(CLEAR).
    tpm.init();
    await tools.run('tpm2_startup', ['-c']);
    assert.match(await tools.fails('tpm2_readpublic', ['-c', 'prim.ctx']), /0x1df|integrity/i);
  }),
);
