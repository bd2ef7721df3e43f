// The VM boot log the adapter builds passes the service's own check of the vPCR layout, and once
// measured into a vTPM gives exactly the vPCRs the officer's reference values (vmReferenceValues,
// from their own copies of the configuration and boot image) expect; another image does not.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { checkVmBootLog, commands, expectedVpcrs, InProcessTransport, measureVmBoot, Tpm, TpmClient, TPM_SU } from '@sealkeep/tpm';
import { digestFile, vmBootLog, vmReferenceValues } from './vm-start.js';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest();

async function vtpm(): Promise<TpmClient> {
  const client = new TpmClient(new InProcessTransport(new Tpm()));
  await client.call(commands.Startup, {}, { startupType: TPM_SU.CLEAR });
  return client;
}

test('the boot log meets the layout and measures to the reference values; another boot image does not', async () => {
  const configuration = Buffer.from('{"cpus":2,"memoryMiB":2048}');
  const image = Buffer.from('boot image bytes');
  const inputs = { configuration, bootVolumeDigest: sha256(image), bootVolumeName: 'web-01.img', kernelDigest: sha256(Buffer.from('vmlinuz')), kernelName: 'vmlinuz' };
  const log = vmBootLog(inputs);
  assert.doesNotThrow(() => checkVmBootLog(log.toJSON()));
  const expected = expectedVpcrs(vmReferenceValues(inputs));
  assert.deepEqual([...expected.keys()], [1, 8]);

  const vpcrs = await measureVmBoot(await vtpm(), checkVmBootLog(log.toJSON()));
  for (const [pcr, value] of expected) assert.equal(vpcrs[pcr], value.toString('hex'), `vPCR ${pcr}`);

  const other = await measureVmBoot(await vtpm(), checkVmBootLog(vmBootLog({ ...inputs, bootVolumeDigest: sha256(Buffer.from('another image')) }).toJSON()));
  assert.notEqual(other[8], expected.get(8)!.toString('hex'));
  assert.equal(other[1], expected.get(1)!.toString('hex'));
});

test('digestFile streams a file through SHA-256', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sealkeep-digest-'));
  try {
    const bytes = Buffer.alloc(3 << 20, 7);
    writeFileSync(path.join(dir, 'img'), bytes);
    assert.deepEqual(await digestFile(path.join(dir, 'img')), sha256(bytes));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
