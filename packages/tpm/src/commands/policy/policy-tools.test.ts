// Sessions and policies driven by tpm2-tools 5.4 over mssim: trial digests equal to the
// known answers, sealing to a PCR policy and unsealing with a real policy session (and failing
// after tpm2_pcrextend), PolicySecret/AuthValue/Password/CommandCode/Restart, HMAC sessions
// plain, salted (RSA and ECC) and bound with parameter encryption, and DA lockout.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { haveTpm2Tools, Tpm2Tools } from '../../testing/tpm2-tools.js';
import { Tpm } from '../../engine/tpm.js';
import { MssimServer } from '../../transport/mssim-server.js';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const vectors = JSON.parse(readFileSync(new URL('../../../../../test/vectors/tpm-policy.json', import.meta.url), 'utf8')) as {
  policies: Array<{ name: string; digest: string }>;
};
const known = (prefix: string) => vectors.policies.find((p) => p.name.startsWith(prefix))!.digest;

describe('sessions and policies with tpm2-tools over mssim', { skip: !haveTpm2Tools && 'tpm2-tools not installed' }, () => {
  let server: MssimServer;
  let tools: Tpm2Tools;
  let tpm: Tpm;
  let dir: string;
  const run = async (tool: string, ...args: string[]) => (await tools.run(tool, args)).stdout;
  const fails = (tool: string, ...args: string[]) => tools.fails(tool, args);
  const file = (name: string) => path.join(dir, name);
  const hexOf = (name: string) => readFileSync(file(name)).toString('hex');

  before(async () => {
    tpm = new Tpm();
    server = new MssimServer({ tpm, port: 0 });
    await server.listen();
    dir = mkdtempSync(path.join(os.tmpdir(), 'sealkeep-policy-'));
    tools = new Tpm2Tools(`mssim:host=127.0.0.1,port=${server.commandPort}`, dir);
    await run('tpm2_startup', '-c');
    await run('tpm2_createprimary', '-Q', '-C', 'o', '-c', 'prim.ctx');
  });
  after(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('trial digests equal the known answers (policypcr, policycommandcode, policyauthvalue, policypassword, policysecret)', async () => {
    await run('tpm2_startauthsession', '-S', 't.ctx');
    await run('tpm2_policypcr', '-Q', '-S', 't.ctx', '-l', 'sha256:0,1', '-L', 'pcr.dat');
    assert.equal(hexOf('pcr.dat'), known('PolicyPCR'));
    await run('tpm2_policyrestart', '-S', 't.ctx');
    assert.equal((await run('tpm2_policycommandcode', '-S', 't.ctx', 'TPM2_CC_Unseal')).trim(), known('PolicyCommandCode(TPM_CC_Unseal)'));
    await run('tpm2_policyrestart', '-S', 't.ctx');
    await run('tpm2_policyauthvalue', '-Q', '-S', 't.ctx', '-L', 'av.dat');
    assert.equal(hexOf('av.dat'), known('PolicyAuthValue'));
    await run('tpm2_policyrestart', '-S', 't.ctx');
    await run('tpm2_policypassword', '-Q', '-S', 't.ctx', '-L', 'pw.dat');
    assert.equal(hexOf('pw.dat'), known('PolicyPassword'));
    await run('tpm2_flushcontext', 't.ctx');
    // PolicySecret needs a real session (the endorsement authValue is checked).
    await run('tpm2_startauthsession', '--policy-session', '-S', 'p.ctx');
    await run('tpm2_policysecret', '-Q', '-S', 'p.ctx', '-c', 'e', '-L', 'ek.dat');
    assert.equal(hexOf('ek.dat'), known('PolicySecret(TPM_RH_ENDORSEMENT)'));
    await run('tpm2_getpolicydigest', '-S', 'p.ctx', '-o', 'ek2.dat');
    assert.equal(hexOf('ek2.dat'), known('PolicySecret(TPM_RH_ENDORSEMENT)'));
    await run('tpm2_flushcontext', 'p.ctx');
  });

  test('seal to a PCR policy: unseal works with a policy session and fails after tpm2_pcrextend', async () => {
    await run('tpm2_pcrreset', '16');
    await run('tpm2_startauthsession', '-S', 't.ctx');
    await run('tpm2_policypcr', '-Q', '-S', 't.ctx', '-l', 'sha256:16', '-L', 'policy.dat');
    await run('tpm2_flushcontext', 't.ctx');
    writeFileSync(file('secret.txt'), 'sealed to pcr 16');
    await run('tpm2_create', '-Q', '-C', 'prim.ctx', '-L', 'policy.dat', '-i', 'secret.txt', '-u', 'seal.pub', '-r', 'seal.priv');
    await run('tpm2_load', '-Q', '-C', 'prim.ctx', '-u', 'seal.pub', '-r', 'seal.priv', '-c', 'seal.ctx');

    await run('tpm2_startauthsession', '--policy-session', '-S', 's.ctx');
    await run('tpm2_policypcr', '-Q', '-S', 's.ctx', '-l', 'sha256:16');
    assert.equal(await run('tpm2_unseal', '-c', 'seal.ctx', '-p', 'session:s.ctx'), 'sealed to pcr 16');
    // The session was reset by that use; it must satisfy the policy again.
    assert.match(await fails('tpm2_unseal', '-c', 'seal.ctx', '-p', 'session:s.ctx'), /0x99d|policy check failed/i);

    // Extend after PolicyPCR: TPM_RC_PCR_CHANGED.
    await run('tpm2_policypcr', '-Q', '-S', 's.ctx', '-l', 'sha256:16');
    await run('tpm2_pcrextend', `16:sha256=${'01'.repeat(32)}`);
    assert.match(await fails('tpm2_unseal', '-c', 'seal.ctx', '-p', 'session:s.ctx'), /0x128|PCR/i);
    await run('tpm2_flushcontext', 's.ctx');

    // A fresh session sees the new PCR value: the digest no longer matches.
    await run('tpm2_startauthsession', '--policy-session', '-S', 's.ctx');
    await run('tpm2_policypcr', '-Q', '-S', 's.ctx', '-l', 'sha256:16');
    assert.match(await fails('tpm2_unseal', '-c', 'seal.ctx', '-p', 'session:s.ctx'), /0x99d|policy check failed/i);
    await run('tpm2_flushcontext', 's.ctx');
  });

  test('policy password, authvalue and commandcode authorize an unseal; policyrestart starts over', async () => {
    await run('tpm2_startauthsession', '-S', 't.ctx');
    await run('tpm2_policycommandcode', '-Q', '-S', 't.ctx', 'TPM2_CC_Unseal');
    await run('tpm2_policyauthvalue', '-Q', '-S', 't.ctx', '-L', 'ccav.dat');
    await run('tpm2_flushcontext', 't.ctx');
    writeFileSync(file('s2.txt'), 'needs cc and auth');
    await run('tpm2_create', '-Q', '-C', 'prim.ctx', '-L', 'ccav.dat', '-p', 'objpw', '-i', 's2.txt', '-u', 's2.pub', '-r', 's2.priv');
    await run('tpm2_load', '-Q', '-C', 'prim.ctx', '-u', 's2.pub', '-r', 's2.priv', '-c', 's2.ctx');

    await run('tpm2_startauthsession', '--policy-session', '-S', 's.ctx');
    await run('tpm2_policycommandcode', '-Q', '-S', 's.ctx', 'TPM2_CC_Unseal');
    await run('tpm2_policyauthvalue', '-Q', '-S', 's.ctx');
    assert.equal(await run('tpm2_unseal', '-c', 's2.ctx', '-p', 'session:s.ctx+objpw'), 'needs cc and auth');
    await run('tpm2_policycommandcode', '-Q', '-S', 's.ctx', 'TPM2_CC_Unseal');
    await run('tpm2_policyauthvalue', '-Q', '-S', 's.ctx');
    assert.match(await fails('tpm2_unseal', '-c', 's2.ctx', '-p', 'session:s.ctx+wrong'), /0x98e|authorization failure/i);
    await run('tpm2_policyrestart', '-S', 's.ctx');
    await run('tpm2_policycommandcode', '-Q', '-S', 's.ctx', 'TPM2_CC_Unseal');
    await run('tpm2_policypassword', '-Q', '-S', 's.ctx');
    assert.equal(await run('tpm2_unseal', '-c', 's2.ctx', '-p', 'session:s.ctx+objpw'), 'needs cc and auth');
    await run('tpm2_flushcontext', 's.ctx');
    tpm.da.reset();
  });

  test('HMAC sessions: plain, salted (RSA and ECC) and bound, with parameter encryption and decryption', async () => {
    // Plain HMAC session: GetRandom needs it to be an encrypt (or audit) session.
    await run('tpm2_startauthsession', '--hmac-session', '-S', 'h.ctx');
    assert.match(await fails('tpm2_getrandom', '-S', 'h.ctx', '8'), /0x982|attributes/i);
    await run('tpm2_sessionconfig', '--enable-encrypt', 'h.ctx');
    assert.match((await run('tpm2_getrandom', '-S', 'h.ctx', '8', '--hex')).trim(), /^[0-9a-f]{16}$/);
    await run('tpm2_flushcontext', 'h.ctx');

    // A sealed object with a password, unsealed through salted sessions with response encryption.
    writeFileSync(file('s3.txt'), 'encrypted on the way out');
    await run('tpm2_create', '-Q', '-C', 'prim.ctx', '-p', 'pw3', '-i', 's3.txt', '-u', 's3.pub', '-r', 's3.priv');
    await run('tpm2_load', '-Q', '-C', 'prim.ctx', '-u', 's3.pub', '-r', 's3.priv', '-c', 's3.ctx');
    await run('tpm2_createprimary', '-Q', '-C', 'o', '-G', 'ecc', '-c', 'eprim.ctx');
    for (const key of ['prim.ctx', 'eprim.ctx']) {
      await run('tpm2_startauthsession', '--hmac-session', '-c', key, '-S', 'salted.ctx');
      await run('tpm2_sessionconfig', '--enable-encrypt', 'salted.ctx');
      assert.equal(await run('tpm2_unseal', '-c', 's3.ctx', '-p', 'session:salted.ctx+pw3'), 'encrypted on the way out');
      await run('tpm2_flushcontext', 'salted.ctx');
    }

    // Bound to the owner hierarchy, decrypting the new object's authValue on the way in.
    await run('tpm2_startauthsession', '--hmac-session', '--bind-context', 'o', '-S', 'bound.ctx');
    await run('tpm2_sessionconfig', '--enable-decrypt', '--enable-encrypt', 'bound.ctx');
    await run('tpm2_createprimary', '-Q', '-C', 'o', '-P', 'session:bound.ctx', '-p', 'childpw', '-c', 'prim3.ctx');
    await run('tpm2_flushcontext', 'bound.ctx');
    // If the password had not been decrypted correctly, it would not work now.
    writeFileSync(file('s4.txt'), 'x');
    await run('tpm2_create', '-Q', '-C', 'prim3.ctx', '-P', 'childpw', '-i', 's4.txt', '-u', 's4.pub', '-r', 's4.priv');
  });

  test('tpm2_policynv over an NV index, tpm2_policyor over two branches, and an HMAC session reading NV', async () => {
    await run('tpm2_nvdefine', '0x1500016', '-C', 'o', '-s', '8', '-a', 'ownerread|ownerwrite|authread|authwrite');
    writeFileSync(file('nv.dat'), 'ABCDEFGH');
    await run('tpm2_nvwrite', '0x1500016', '-C', 'o', '-i', 'nv.dat');
    writeFileSync(file('op.dat'), 'ABCD');
    writeFileSync(file('op2.dat'), 'ABCX');
    await run('tpm2_startauthsession', '-S', 't.ctx');
    await run('tpm2_policynv', '-Q', '-S', 't.ctx', '-i', 'op.dat', '0x1500016', 'eq', '-C', 'o', '-L', 'nvpol.dat');
    await run('tpm2_flushcontext', 't.ctx');
    // The same digest as swtpm 0.7.1 gives for this index and operand.
    assert.equal(hexOf('nvpol.dat'), '427a9736e239bec28f0a4829ef4895e0a01b6e28fe9e63d355f7fd181e7b10b5');
    await run('tpm2_startauthsession', '--policy-session', '-S', 's.ctx');
    assert.match(await fails('tpm2_policynv', '-S', 's.ctx', '-i', 'op2.dat', '0x1500016', 'eq', '-C', 'o'), /0x126|policy/i);
    await run('tpm2_policynv', '-Q', '-S', 's.ctx', '-i', 'op.dat', '0x1500016', 'eq', '-C', 'o');
    // PolicyOR: the session (PolicyNV branch) is one of the two branches.
    await run('tpm2_policyor', '-Q', '-S', 's.ctx', '-l', `sha256:${file('nvpol.dat')},${file('av.dat')}`, '-L', 'or.dat');
    const { createHash } = await import('node:crypto');
    const expected = createHash('sha256')
      .update(Buffer.alloc(32))
      .update(Buffer.from('00000171', 'hex'))
      .update(readFileSync(file('nvpol.dat')))
      .update(readFileSync(file('av.dat')))
      .digest('hex');
    assert.equal(hexOf('or.dat'), expected);
    await run('tpm2_flushcontext', 's.ctx');

    await run('tpm2_startauthsession', '--hmac-session', '-S', 'h.ctx');
    await run('tpm2_sessionconfig', '--enable-encrypt', 'h.ctx');
    assert.equal(await run('tpm2_nvread', '0x1500016', '-C', 'o', '-P', 'session:h.ctx', '-s', '8'), 'ABCDEFGH');
    await run('tpm2_flushcontext', 'h.ctx');
  });

  test('DA lockout: repeated bad passwords reach TPM_RC_LOCKOUT; tpm2_dictionarylockout -c resets it', async () => {
    tpm.da.maxTries = 3;
    tpm.da.reset();
    for (let i = 0; i < 3; i++) assert.match(await fails('tpm2_unseal', '-c', 's3.ctx', '-p', 'wrong'), /0x98e|authorization failure/i);
    assert.match(await fails('tpm2_unseal', '-c', 's3.ctx', '-p', 'pw3'), /0x921|lockout/i);
    await run('tpm2_dictionarylockout', '-c');
    assert.equal(await run('tpm2_unseal', '-c', 's3.ctx', '-p', 'pw3'), 'encrypted on the way out');
  });
});
