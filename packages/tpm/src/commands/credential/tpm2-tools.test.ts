// Credential activation driven by tpm2-tools 5.4 over mssim, in the documented EK flow: the
// credential is made off the TPM from ek.pub alone (tpm2_makecredential -T none) or by the TPM,
// and recovered with tpm2_activatecredential under a PolicySecret(endorsement) session.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { haveTpm2Tools, withTpmServer, type Tpm2Tools } from '../../testing/tpm2-tools.js';

const skip = !haveTpm2Tools && 'tpm2-tools are not installed';
const SECRET = Buffer.from('12345678abcdefgh');

async function activate(tools: Tpm2Tools, credential: string, out: string): Promise<void> {
  await tools.run('tpm2_startauthsession', ['--policy-session', '-S', 'session.ctx']);
  try {
    await tools.run('tpm2_policysecret', ['-S', 'session.ctx', '-c', 'e']);
    await tools.run('tpm2_activatecredential', ['-c', 'ak.ctx', '-C', 'ek.ctx', '-i', credential, '-o', out, '-P', 'session:session.ctx']);
  } finally {
    await tools.run('tpm2_flushcontext', ['session.ctx']);
  }
}

for (const alg of ['rsa', 'ecc'] as const) {
  test(`tpm2_makecredential / tpm2_activatecredential with a ${alg} EK`, { skip }, () =>
    withTpmServer(async (tools) => {
      await tools.run('tpm2_startup', ['-c']);
      writeFileSync(tools.file('secret'), SECRET);
      await tools.run('tpm2_createek', ['-c', 'ek.ctx', '-G', alg, '-u', 'ek.pub']);
      const scheme = alg === 'rsa' ? 'rsassa' : 'ecdsa';
      await tools.run('tpm2_createak', ['-C', 'ek.ctx', '-c', 'ak.ctx', '-G', alg, '-g', 'sha256', '-s', scheme, '-u', 'ak.pub', '-n', 'ak.name']);
      const akName = readFileSync(tools.file('ak.name')).toString('hex');

      // Off the TPM: only the EK's public key is used.
      await tools.run('tpm2_makecredential', ['-T', 'none', '-e', 'ek.pub', '-s', 'secret', '-n', akName, '-o', 'cred.offline']);
      await activate(tools, 'cred.offline', 'recovered.offline');
      assert.deepEqual(readFileSync(tools.file('recovered.offline')), SECRET);

      // By the TPM (TPM2_MakeCredential with the EK loaded as an external public key).
      await tools.run('tpm2_makecredential', ['-e', 'ek.pub', '-s', 'secret', '-n', akName, '-o', 'cred.tpm']);
      await activate(tools, 'cred.tpm', 'recovered.tpm');
      assert.deepEqual(readFileSync(tools.file('recovered.tpm')), SECRET);

      // A credential bent anywhere in its integrity HMAC or encrypted identity is refused.
      const bent = Buffer.from(readFileSync(tools.file('cred.offline')));
      bent[20]! ^= 1;
      writeFileSync(tools.file('cred.bent'), bent);
      const err = await activate(tools, 'cred.bent', 'nope').then(
        () => assert.fail('a bent credential was activated'),
        (e: Error) => e.message,
      );
      assert.match(err, /0x1DF|integrity/i);
    }),
  );
}
