// pcrPolicyDigest against tpm2-tools 5.x over mssim: tpm2_createpolicy --policy-pcr, given the
// expected PCR values in a file, computes the same policy digest in a trial session.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { haveTpm2Tools, withTpmServer } from '../testing/tpm2-tools.js';
import { pcrPolicyDigest } from './pcr-seal.js';

test('tpm2_createpolicy --policy-pcr -l sha256:1,8 gives the digest pcrPolicyDigest computes', { skip: !haveTpm2Tools && 'tpm2-tools not installed' }, async () => {
  await withTpmServer(async (tools) => {
    await tools.run('tpm2_startup', ['-c']);
    for (const pcrs of [[1, 8], [0, 1, 4, 8], [15]]) {
      const values = new Map(pcrs.map((p) => [p, randomBytes(32)]));
      writeFileSync(tools.file('pcrs.bin'), Buffer.concat(pcrs.map((p) => values.get(p)!)));
      await tools.run('tpm2_createpolicy', ['-Q', '--policy-pcr', '-l', `sha256:${pcrs.join(',')}`, '-f', 'pcrs.bin', '-L', 'policy.dat']);
      assert.equal(readFileSync(tools.file('policy.dat')).toString('hex'), pcrPolicyDigest(values).toString('hex'), `PCRs ${pcrs}`);
    }
  });
});
