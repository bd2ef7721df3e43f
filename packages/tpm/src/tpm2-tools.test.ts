// Acceptance: tpm2-tools 5.4 drives this TPM over mssim through the flows a real user runs —
// start-up, random, PCRs, primary keys, sealing to a PCR policy, EK/AK, quotes checked by
// tpm2_checkquote, NV, signing, hashing, capabilities, contexts and localities. Every value the
// tools report is checked against one computed here independently.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { haveTpm2Tools, Tpm2Tools } from './testing/tpm2-tools.js';
import { startSwtpm } from './testing/swtpm.js';
import { Tpm } from './engine/tpm.js';
import { MssimServer } from './transport/mssim-server.js';
import { MssimTransport } from './transport/mssim-client.js';
import { TpmClient } from './client/client.js';
import { password } from './client/auth.js';
import { PCR_Extend } from './commands/pcr/index.js';
import { TPM_ALG } from './wire/constants.js';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const sha256 = (...parts: Buffer[]) => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};

describe('tpm2-tools over mssim', { skip: !haveTpm2Tools && 'tpm2-tools not installed' }, () => {
  let server: MssimServer;
  let tools: Tpm2Tools;
  let dir: string;
  const run = (tool: string, ...args: string[]) => tools.run(tool, args).then((r) => r.stdout);

  before(async () => {
    server = new MssimServer({ tpm: new Tpm(), port: 0 });
    await server.listen();
    dir = mkdtempSync(path.join(os.tmpdir(), 'sealkeep-acceptance-'));
    tools = new Tpm2Tools(`mssim:host=127.0.0.1,port=${server.commandPort}`, dir);
    await run('tpm2_startup', '-c');
  });
  after(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('getrandom returns the bytes asked for', async () => {
    const hex = (await run('tpm2_getrandom', '16', '--hex')).trim();
    assert.match(hex, /^[0-9a-f]{32}$/);
  });

  test('pcrextend matches an independently computed SHA-256 extend; pcrreset 16 zeroes it', async () => {
    await run('tpm2_pcrreset', '16');
    const d = randomBytes(32);
    await run('tpm2_pcrextend', `16:sha256=${d.toString('hex')}`);
    const out = await run('tpm2_pcrread', 'sha256:16');
    const expected = sha256(Buffer.alloc(32), d).toString('hex').toUpperCase();
    assert.match(out, new RegExp(`16\\s*:\\s*0x${expected}`));
    await run('tpm2_pcrreset', '16');
    assert.match(await run('tpm2_pcrread', 'sha256:16'), new RegExp(`16\\s*:\\s*0x${'0'.repeat(64)}`));
  });

  test('PCR 17 reads all-FF before a launch and is refused at locality 0', async () => {
    assert.match(await run('tpm2_pcrread', 'sha256:17'), new RegExp(`17\\s*:\\s*0x${'F'.repeat(64)}`));
    const err = await tools.fails('tpm2_pcrextend', [`17:sha256=${'00'.repeat(32)}`]);
    assert.match(err, /0x907|locality/i);
  });

  test('createprimary gives the same RSA and ECC public keys on every run', async () => {
    for (const alg of ['rsa', 'ecc']) {
      const pems: string[] = [];
      for (let i = 0; i < 2; i++) {
        await run('tpm2_createprimary', '-C', 'o', '-g', 'sha256', '-G', alg, '-c', `p-${alg}.ctx`);
        // Each tool run is its own connection: the primary is flushed when it disconnects.
        await run('tpm2_readpublic', '-c', `p-${alg}.ctx`, '-o', `p-${alg}-${i}.pem`, '-f', 'pem');
        pems.push(readFileSync(tools.file(`p-${alg}-${i}.pem`), 'utf8'));
      }
      assert.match(pems[0]!, /BEGIN PUBLIC KEY/);
      assert.equal(pems[0], pems[1], `${alg} primary is derived from the seed`);
    }
  });

  test('a sealed object with a PCR policy unseals, and is refused after that PCR is extended', async () => {
    await run('tpm2_pcrreset', '16');
    await run('tpm2_createprimary', '-C', 'o', '-G', 'ecc', '-c', 'srk.ctx');
    await run('tpm2_startauthsession', '-S', 'trial.ctx');
    await run('tpm2_policypcr', '-S', 'trial.ctx', '-l', 'sha256:16', '-L', 'pcr.policy');
    await run('tpm2_flushcontext', 'trial.ctx');
    const secret = randomBytes(24);
    writeFileSync(tools.file('secret.bin'), secret);
    await run('tpm2_create', '-C', 'srk.ctx', '-L', 'pcr.policy', '-i', 'secret.bin', '-u', 'seal.pub', '-r', 'seal.priv');
    await run('tpm2_load', '-C', 'srk.ctx', '-u', 'seal.pub', '-r', 'seal.priv', '-c', 'seal.ctx');
    const unseal = async () => {
      await run('tpm2_startauthsession', '--policy-session', '-S', 'pol.ctx');
      try {
        await run('tpm2_policypcr', '-S', 'pol.ctx', '-l', 'sha256:16');
        await run('tpm2_unseal', '-c', 'seal.ctx', '-p', 'session:pol.ctx', '-o', 'out.bin');
        return readFileSync(tools.file('out.bin'));
      } finally {
        await run('tpm2_flushcontext', 'pol.ctx').catch(() => undefined);
      }
    };
    assert.deepEqual(await unseal(), secret);
    await run('tpm2_pcrextend', `16:sha256=${'ab'.repeat(32)}`);
    await assert.rejects(unseal(), /policy|0x99d|0x128|PCR/i);
  });

  test('createek, createak, quote with a nonce: tpm2_checkquote accepts it and refuses a wrong nonce', async () => {
    await run('tpm2_createek', '-c', 'ek.ctx', '-G', 'rsa', '-u', 'ek.pub');
    await run('tpm2_createak', '-C', 'ek.ctx', '-c', 'ak.ctx', '-G', 'rsa', '-g', 'sha256', '-s', 'rsassa', '-u', 'ak.pub', '-f', 'pem', '-n', 'ak.name');
    const nonce = randomBytes(16).toString('hex');
    await run('tpm2_quote', '-c', 'ak.ctx', '-l', 'sha256:0,16,17', '-q', nonce, '-m', 'q.msg', '-s', 'q.sig', '-o', 'q.pcrs', '-g', 'sha256');
    await run('tpm2_checkquote', '-u', 'ak.pub', '-m', 'q.msg', '-s', 'q.sig', '-f', 'q.pcrs', '-g', 'sha256', '-q', nonce);
    const wrong = randomBytes(16).toString('hex');
    await tools.fails('tpm2_checkquote', ['-u', 'ak.pub', '-m', 'q.msg', '-s', 'q.sig', '-f', 'q.pcrs', '-g', 'sha256', '-q', wrong]);
  });

  test('nvdefine, nvwrite, nvread and a counter with nvincrement', async () => {
    const data = randomBytes(32);
    writeFileSync(tools.file('nv.bin'), data);
    await run('tpm2_nvdefine', '0x1500016', '-C', 'o', '-s', '32', '-a', 'ownerread|ownerwrite');
    await run('tpm2_nvwrite', '0x1500016', '-C', 'o', '-i', 'nv.bin');
    await run('tpm2_nvread', '0x1500016', '-C', 'o', '-s', '32', '-o', 'nv.out');
    assert.deepEqual(readFileSync(tools.file('nv.out')), data);
    await run('tpm2_nvdefine', '0x1500017', '-C', 'o', '-s', '8', '-a', 'ownerread|ownerwrite|nt=counter');
    await run('tpm2_nvincrement', '0x1500017', '-C', 'o');
    await run('tpm2_nvincrement', '0x1500017', '-C', 'o');
    await run('tpm2_nvread', '0x1500017', '-C', 'o', '-s', '8', '-o', 'ctr.out');
    assert.equal(readFileSync(tools.file('ctr.out')).readBigUInt64BE(0), 2n);
  });

  test('sign and verifysignature, and openssl verifies the same signature', async () => {
    await run('tpm2_createprimary', '-C', 'o', '-G', 'ecc', '-c', 'prim.ctx');
    await run('tpm2_create', '-C', 'prim.ctx', '-G', 'ecc', '-u', 'sig.pub', '-r', 'sig.priv', '-c', 'sig.ctx');
    writeFileSync(tools.file('msg'), 'block 0 of volume 7');
    await run('tpm2_sign', '-c', 'sig.ctx', '-g', 'sha256', '-o', 'msg.sig', 'msg');
    await run('tpm2_verifysignature', '-c', 'sig.ctx', '-g', 'sha256', '-m', 'msg', '-s', 'msg.sig');
    await run('tpm2_sign', '-c', 'sig.ctx', '-g', 'sha256', '-f', 'plain', '-o', 'msg.der', 'msg');
    await run('tpm2_readpublic', '-c', 'sig.ctx', '-f', 'pem', '-o', 'sig.pem');
    const { execFile } = await import('node:child_process');
    const ok = await new Promise<string>((resolve, reject) =>
      execFile('openssl', ['dgst', '-sha256', '-verify', tools.file('sig.pem'), '-signature', tools.file('msg.der'), tools.file('msg')], (e, out) => (e ? reject(e) : resolve(out))),
    );
    assert.match(ok, /Verified OK/);
  });

  test('hash agrees with SHA-256 computed here', async () => {
    writeFileSync(tools.file('h.in'), 'sealkeep');
    await run('tpm2_hash', '-g', 'sha256', '-o', 'h.out', 'h.in');
    assert.deepEqual(readFileSync(tools.file('h.out')), sha256(Buffer.from('sealkeep')));
  });

  test('getcap reports the three PCR banks, the commands and fixed properties', async () => {
    const pcrs = await run('tpm2_getcap', 'pcrs');
    for (const bank of ['sha1', 'sha256', 'sha384']) assert.match(pcrs, new RegExp(bank));
    const cmds = await run('tpm2_getcap', 'commands');
    assert.match(cmds, /TPM2_CC_PCR_Extend/);
    assert.match(await run('tpm2_getcap', 'properties-fixed'), /TPM2_PT_FAMILY_INDICATOR/);
  });

  test('flushcontext removes sessions; no transient object outlives the tool that loaded it', async () => {
    await run('tpm2_startauthsession', '-S', 'f.session');
    await run('tpm2_flushcontext', 'f.session');
    await run('tpm2_createprimary', '-C', 'o', '-G', 'ecc', '-c', 'f.ctx');
    await run('tpm2_flushcontext', '-t');
    assert.doesNotMatch(await run('tpm2_getcap', 'handles-transient'), /0x80/);
    assert.doesNotMatch(await run('tpm2_getcap', 'handles-saved-session'), /0x0[23]/);
  });

  test('a command at locality 3 may extend PCR 17 after a launch; locality 0 may not', async () => {
    const t = await MssimTransport.connect(`mssim://127.0.0.1:${server.commandPort}`);
    try {
      await t.dynamicLaunch(Buffer.from('sinit'));
      const client = new TpmClient(t);
      t.locality = 0;
      await assert.rejects(client.call(PCR_Extend, { pcrHandle: 17 }, { digests: [{ hashAlg: TPM_ALG.SHA256, digest: Buffer.alloc(32) }] }, { auth: [password()] }), /LOCALITY/);
      t.locality = 3;
      await client.call(PCR_Extend, { pcrHandle: 17 }, { digests: [{ hashAlg: TPM_ALG.SHA256, digest: Buffer.alloc(32) }] }, { auth: [password()] });
    } finally {
      await t.close();
    }
    const expected = sha256(sha256(Buffer.alloc(32), sha256(Buffer.from('sinit'))), Buffer.alloc(32)).toString('hex').toUpperCase();
    assert.match(await run('tpm2_pcrread', 'sha256:17'), new RegExp(`17\\s*:\\s*0x${expected}`));
  });

  test('Names are nameAlg || H(public area): equal to openssl over the tool output, and to swtpm for the same key', async () => {
    const { execFile } = await import('node:child_process');
    const { promisify } = await import('node:util');
    const exec = promisify(execFile);
    await exec('openssl', ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', tools.file('ext.key')]);
    await exec('openssl', ['pkey', '-in', tools.file('ext.key'), '-pubout', '-out', tools.file('ext.pem')]);
    await run('tpm2_loadexternal', '-C', 'n', '-G', 'rsa', '-u', 'ext.pem', '-c', 'ext.ctx', '-n', 'ext.name');
    await run('tpm2_readpublic', '-c', 'ext.ctx', '-o', 'ext.pub');
    const publicArea = readFileSync(tools.file('ext.pub')).subarray(2); // TPM2B_PUBLIC without its size
    const ours = readFileSync(tools.file('ext.name'));
    assert.equal(ours.toString('hex'), '000b' + sha256(publicArea).toString('hex'));

    // The same key in swtpm (libtpms), through tpm2-tools' swtpm TCTI.
    const sw = await startSwtpm();
    try {
      const swTools = new Tpm2Tools(sw.tcti, dir);
      await swTools.run('tpm2_loadexternal', ['-C', 'n', '-G', 'rsa', '-u', 'ext.pem', '-c', 'sw.ctx', '-n', 'sw.name']);
      assert.deepEqual(readFileSync(tools.file('sw.name')), ours);
    } finally {
      await sw.stop();
    }
  });
});
