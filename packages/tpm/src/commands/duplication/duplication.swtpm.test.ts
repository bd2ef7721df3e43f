// Duplication between this TPM and swtpm (libtpms, the reference code) in both directions:
// a blob swtpm's TPM2_Duplicate made for our storage key imports here, and blobs our
// TPM2_Duplicate made for swtpm's RSA and ECC storage keys import there. Same bytes, same keys.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { haveTpm2Tools, withTpmServer, type Tpm2Tools } from '../../testing/tpm2-tools.js';
import { startSwtpm } from '../../testing/swtpm.js';

const sh = promisify(execFile);
const haveSwtpm = await sh('swtpm', ['--version']).then(() => true, () => false);

/** swtpm has no resource manager: every tool run is followed by flushing its transient objects. */
async function withSwtpm(dir: string, fn: (run: (tool: string, args: string[]) => Promise<void>) => Promise<void>): Promise<void> {
  const swtpm = await startSwtpm();
  try {
    const env = { ...process.env, TPM2TOOLS_TCTI: swtpm.tcti };
    await fn(async (tool, args) => {
      try {
        await sh(tool, args, { cwd: dir, env });
      } finally {
        await sh('tpm2_flushcontext', ['-t'], { cwd: dir, env });
      }
    });
  } finally {
    await swtpm.stop();
  }
}

async function dupSession(run: (tool: string, args: string[]) => Promise<unknown>, file: string): Promise<void> {
  await run('tpm2_startauthsession', ['--policy-session', '-S', file]);
  await run('tpm2_policycommandcode', ['-S', file, 'TPM2_CC_Duplicate']);
}

const KEY_ATTRS = 'sensitivedataorigin|userwithauth|decrypt|sign';

test('duplication blobs cross between swtpm and this TPM in both directions', { skip: !haveTpm2Tools || !haveSwtpm }, () =>
  withTpmServer(async (ours: Tpm2Tools) => {
    const o = (tool: string, args: string[]) => ours.run(tool, args);
    await o('tpm2_startup', ['-c']);
    await o('tpm2_createprimary', ['-C', 'o', '-c', 'ours-srk.ctx', '-Q']);
    await o('tpm2_readpublic', ['-c', 'ours-srk.ctx', '-o', 'ours-srk.pub', '-Q']);
    await o('tpm2_startauthsession', ['-S', 'trial.ctx']);
    await o('tpm2_policycommandcode', ['-S', 'trial.ctx', '-L', 'dup.policy', 'TPM2_CC_Duplicate']);
    await o('tpm2_flushcontext', ['trial.ctx']);
    writeFileSync(ours.file('msg'), 'one key, two TPMs\n');

    await withSwtpm(ours.dir, async (sw) => {
      await sw('tpm2_createprimary', ['-C', 'o', '-c', 'sw-srk.ctx', '-Q']);
      await sw('tpm2_readpublic', ['-c', 'sw-srk.ctx', '-o', 'sw-srk.pub', '-Q']);
      await sw('tpm2_createprimary', ['-C', 'o', '-G', 'ecc', '-c', 'sw-ecc.ctx', '-Q']);
      await sw('tpm2_readpublic', ['-c', 'sw-ecc.ctx', '-o', 'sw-ecc.pub', '-Q']);

      // swtpm → here, with an AES inner wrapper swtpm chooses.
      await sw('tpm2_create', ['-C', 'sw-srk.ctx', '-G', 'rsa', '-L', 'dup.policy', '-a', KEY_ATTRS, '-u', 'swk.pub', '-r', 'swk.priv', '-Q']);
      await sw('tpm2_load', ['-C', 'sw-srk.ctx', '-u', 'swk.pub', '-r', 'swk.priv', '-c', 'swk.ctx', '-Q']);
      await sw('tpm2_loadexternal', ['-C', 'o', '-u', 'ours-srk.pub', '-c', 'ours-srk-on-sw.ctx', '-Q']);
      await dupSession(sw, 'sw-dup.ctx');
      await sw('tpm2_duplicate', ['-C', 'ours-srk-on-sw.ctx', '-c', 'swk.ctx', '-G', 'aes', '-o', 'sw-inner.key', '-p', 'session:sw-dup.ctx', '-r', 'sw2o.priv', '-s', 'sw2o.seed']);
      await o('tpm2_import', ['-C', 'ours-srk.ctx', '-u', 'swk.pub', '-i', 'sw2o.priv', '-k', 'sw-inner.key', '-s', 'sw2o.seed', '-r', 'sw2o.imported', '-Q']);
      await o('tpm2_load', ['-C', 'ours-srk.ctx', '-u', 'swk.pub', '-r', 'sw2o.imported', '-c', 'sw2o.ctx', '-Q']);
      await sw('tpm2_rsaencrypt', ['-c', 'swk.ctx', '-s', 'oaep', '-o', 'ct1', 'msg']);
      await o('tpm2_rsadecrypt', ['-c', 'sw2o.ctx', '-s', 'oaep', '-o', 'pt1', 'ct1']);
      assert.deepEqual(readFileSync(ours.file('pt1')), readFileSync(ours.file('msg')));

      // here → swtpm, to its RSA SRK (AES inner wrapper) and its ECC primary (no inner wrapper).
      await o('tpm2_create', ['-C', 'ours-srk.ctx', '-G', 'rsa', '-L', 'dup.policy', '-a', KEY_ATTRS, '-u', 'ok.pub', '-r', 'ok.priv', '-Q']);
      await o('tpm2_load', ['-C', 'ours-srk.ctx', '-u', 'ok.pub', '-r', 'ok.priv', '-c', 'ok.ctx', '-Q']);
      await o('tpm2_rsaencrypt', ['-c', 'ok.ctx', '-s', 'oaep', '-o', 'ct2', 'msg']);
      const targets: Array<[string, string, string[]]> = [
        ['sw-srk', 'sw-srk.pub', ['-G', 'aes', '-o', 'o-inner.key']],
        ['sw-ecc', 'sw-ecc.pub', ['-G', 'null']],
      ];
      for (const [parent, parentPub, wrap] of targets) {
        await o('tpm2_loadexternal', ['-C', 'o', '-u', parentPub, '-c', `${parent}-on-ours.ctx`, '-Q']);
        await dupSession(o, 'o-dup.ctx');
        await o('tpm2_duplicate', ['-C', `${parent}-on-ours.ctx`, '-c', 'ok.ctx', ...wrap, '-p', 'session:o-dup.ctx', '-r', `o2${parent}.priv`, '-s', `o2${parent}.seed`]);
        await o('tpm2_flushcontext', ['o-dup.ctx']);
        const inner = wrap.includes('aes') ? ['-k', 'o-inner.key'] : [];
        await sw('tpm2_import', ['-C', `${parent}.ctx`, '-u', 'ok.pub', '-i', `o2${parent}.priv`, ...inner, '-s', `o2${parent}.seed`, '-r', `o2${parent}.imported`, '-Q']);
        await sw('tpm2_load', ['-C', `${parent}.ctx`, '-u', 'ok.pub', '-r', `o2${parent}.imported`, '-c', `o2${parent}.ctx`, '-Q']);
        await sw('tpm2_rsadecrypt', ['-c', `o2${parent}.ctx`, '-s', 'oaep', '-o', `pt-${parent}`, 'ct2']);
        assert.deepEqual(readFileSync(ours.file(`pt-${parent}`)), readFileSync(ours.file('msg')), parent);
      }
    });
  }));
