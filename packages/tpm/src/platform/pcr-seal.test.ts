// Sealing to PCRs on vTPMs: the offline PolicyPCR digest equals the TPM's in trial and real
// sessions; a sealed secret unseals only while the PCRs hold the sealed values (PcrSealMismatch
// otherwise), again after a reboot that measures the same boot, never on another vTPM, and to
// values predicted from reference digests before the VM ever booted; the storage key is made
// once, reused, and not taken from whatever else sits at 0x81000001.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ClientSession, password } from '../client/auth.js';
import type { TpmClient } from '../client/client.js';
import { signingKeyTemplate } from '../client/templates.js';
import { EvictControl, FlushContext } from '../commands/context/index.js';
import { CreatePrimary } from '../commands/hierarchy/index.js';
import { ReadPublic } from '../commands/object/index.js';
import { PolicyGetDigest, PolicyPCR } from '../commands/policy/index.js';
import { StartAuthSession } from '../commands/session/index.js';
import { TPM_ALG, TPM_RC, TPM_RH, TPM_SE } from '../wire/constants.js';
import { TpmError } from '../wire/rc.js';
import { pcrSelection } from '../wire/types/index.js';
import { startedTpm } from '../testing/in-process.js';
import { TpmManager } from './tpm-manager.js';
import { extend } from './tpm-manager.fixture.js';
import { PcrSealMismatch, VM_SRK_HANDLE, pcrPolicyDigest, sealToPcrs, unsealWithPcrs, vmStorageKey } from './pcr-seal.js';
import { expectedVpcrs, readVmPcrs } from './vm-boot.js';
import { goodBootLog, sha256 } from './vm-boot.fixture.js';

const EMPTY = Buffer.alloc(0);
const scratch: string[] = [];
after(() => scratch.forEach((d) => rmSync(d, { recursive: true, force: true })));

async function openManager() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sealkeep-pcr-seal-'));
  scratch.push(dir);
  return TpmManager.open({ dir, platformKey: randomBytes(32) });
}

async function session(client: TpmClient, type: number): Promise<number> {
  const r = await client.call(
    StartAuthSession,
    { tpmKey: TPM_RH.NULL, bind: TPM_RH.NULL },
    { nonceCaller: ClientSession.newNonce(TPM_ALG.SHA256), encryptedSalt: EMPTY, sessionType: type, symmetric: { algorithm: TPM_ALG.NULL, keyBits: null, mode: null } as never, authHash: TPM_ALG.SHA256 },
  );
  return r.sessionHandle;
}

/** The SHA-256 values of `pcrs` (0–15) as a map, read from the TPM. */
async function valuesOf(client: TpmClient, pcrs: number[]): Promise<Map<number, Buffer>> {
  const values = await readVmPcrs(client);
  return new Map(pcrs.map((p) => [p, Buffer.from(values[p]!, 'hex')]));
}

/** Transient objects and sessions left in the TPM. */
const leftovers = (tpm: { objects: { has(h: number): boolean }; sessions: { has(h: number): boolean } }) =>
  Array.from({ length: 64 }, (_, i) => i).filter((i) => tpm.objects.has(0x80000000 + i) || tpm.sessions.has(0x03000000 + i) || tpm.sessions.has(0x02000000 + i));

test('pcrPolicyDigest equals TPM2_PolicyGetDigest after PolicyPCR in a trial and in a policy session', async () => {
  const { client, internalErrors } = await startedTpm();
  await extend(client, 1, sha256(Buffer.from('config')));
  await extend(client, 8, sha256(Buffer.from('volume')));
  await extend(client, 14, sha256(Buffer.from('other')));
  for (const pcrs of [[1, 8], [0], [8, 1, 14], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]]) {
    const expected = pcrPolicyDigest(await valuesOf(client, pcrs));
    for (const type of [TPM_SE.TRIAL, TPM_SE.POLICY]) {
      const handle = await session(client, type);
      await client.call(PolicyPCR, { policySession: handle }, { pcrDigest: EMPTY, pcrs: [pcrSelection(TPM_ALG.SHA256, pcrs)] });
      const { policyDigest } = await client.call(PolicyGetDigest, { policySession: handle }, {});
      assert.deepEqual(policyDigest, expected, `PCRs ${pcrs} in a ${type === TPM_SE.TRIAL ? 'trial' : 'policy'} session`);
      await client.call(FlushContext, {}, { flushHandle: handle });
    }
  }
  assert.throws(() => pcrPolicyDigest(new Map()), RangeError);
  assert.throws(() => pcrPolicyDigest(new Map([[24, Buffer.alloc(32)]])), RangeError);
  assert.throws(() => pcrPolicyDigest(new Map([[1, Buffer.alloc(20)]])), /32 bytes/);
  assert.deepEqual(internalErrors, []);
});

test('seal, unseal; one more extend gives PcrSealMismatch; nothing is left loaded either way', async () => {
  const { tpm, client } = await startedTpm();
  await extend(client, 1, sha256(Buffer.from('config')));
  await extend(client, 8, sha256(Buffer.from('volume')));
  const secret = randomBytes(32);
  const blob = await sealToPcrs(client, secret, await valuesOf(client, [1, 8]));
  assert.deepEqual(await unsealWithPcrs(client, blob, [8, 1]), secret);
  assert.deepEqual(leftovers(tpm), []);

  await extend(client, 8, sha256(Buffer.from('a second volume')));
  await assert.rejects(unsealWithPcrs(client, blob, [1, 8]), (e: unknown) => e instanceof PcrSealMismatch && e.cause instanceof TpmError && e.cause.is(TPM_RC.POLICY_FAIL));
  assert.deepEqual(leftovers(tpm), []);
  // Selecting other PCRs than those sealed to is a mismatch too.
  await assert.rejects(unsealWithPcrs(client, blob, [1]), PcrSealMismatch);
});

test('secret size, index and blob checks', async () => {
  const { client } = await startedTpm();
  const values = await valuesOf(client, [1]);
  await assert.rejects(sealToPcrs(client, Buffer.alloc(129), values), /1–128 bytes, not 129/);
  await assert.rejects(sealToPcrs(client, EMPTY, values), RangeError);
  const blob = await sealToPcrs(client, Buffer.alloc(128, 7), values);
  assert.deepEqual(await unsealWithPcrs(client, blob, [1]), Buffer.alloc(128, 7));
  await assert.rejects(unsealWithPcrs(client, blob, []), RangeError);
  await assert.rejects(unsealWithPcrs(client, blob, [1, 1]), /selected twice/);
  const { outPublic } = await client.call(ReadPublic, { objectHandle: VM_SRK_HANDLE }, {});
  assert.equal(outPublic.type, TPM_ALG.ECC);
});

test('the storage key is made persistent once and reused; another key at 0x81000001 is refused, not replaced', async () => {
  const { tpm, client } = await startedTpm();
  assert.equal(await vmStorageKey(client), VM_SRK_HANDLE);
  const first = await client.call(ReadPublic, { objectHandle: VM_SRK_HANDLE }, {});
  assert.equal(await vmStorageKey(client), VM_SRK_HANDLE);
  assert.deepEqual((await client.call(ReadPublic, { objectHandle: VM_SRK_HANDLE }, {})).name, first.name);
  assert.deepEqual(leftovers(tpm), []);

  const other = await startedTpm();
  const key = await other.client.call(
    CreatePrimary,
    { primaryHandle: TPM_RH.OWNER },
    { inSensitive: { userAuth: EMPTY, data: EMPTY }, inPublic: signingKeyTemplate('eccP256'), outsideInfo: EMPTY, creationPCR: [] },
    { auth: [password()] },
  );
  await other.client.call(EvictControl, { auth: TPM_RH.OWNER, objectHandle: key.objectHandle }, { persistentHandle: VM_SRK_HANDLE }, { auth: [password()] });
  await assert.rejects(vmStorageKey(other.client), /0x81000001 holds a key that is not this vTPM's storage root key/);
  await assert.rejects(sealToPcrs(other.client, Buffer.from('s'), new Map([[0, Buffer.alloc(32)]])), /not this vTPM's storage root key/);
  assert.deepEqual((await other.client.call(ReadPublic, { objectHandle: VM_SRK_HANDLE }, {})).name, key.name, 'left as it was');
});

test('on managed vTPMs: unseals again after a restart that measures the same boot; never on another vTPM', async () => {
  const manager = await openManager();
  const vm = await manager.create('vm-1');
  const boot = goodBootLog();
  const pcrs = await vm.measureBoot(boot.log.serialize());
  const values = new Map([1, 8].map((i) => [i, Buffer.from(pcrs[i]!, 'hex')]));
  const secret = Buffer.from('volume key of vm-1');
  const blob = await sealToPcrs(vm.client(), secret, values);

  await manager.restart('vm-1');
  await assert.rejects(unsealWithPcrs(vm.client(), blob, [1, 8]), PcrSealMismatch, 'nothing measured yet');
  await vm.measureBoot(boot.log.serialize());
  assert.deepEqual(await unsealWithPcrs(vm.client(), blob, [1, 8]), secret);

  // Another configuration, another PCR 1.
  await manager.restart('vm-1');
  await vm.measureBoot(goodBootLog({ config: '{"cpus":64}' }).log.serialize());
  await assert.rejects(unsealWithPcrs(vm.client(), blob, [1, 8]), PcrSealMismatch);

  const vm2 = await manager.create('vm-2');
  await vm2.measureBoot(boot.log.serialize());
  await assert.rejects(unsealWithPcrs(vm2.client(), blob, [1, 8]), (e: unknown) => e instanceof TpmError && e.is(TPM_RC.INTEGRITY));
  await manager.close();
});

test('sealed to values predicted by expectedVpcrs before the VM ever booted, unsealed after the boot', async () => {
  const manager = await openManager();
  const vm = await manager.create('vm-1');
  const boot = goodBootLog({ volume: 'golden image' });
  const expected = expectedVpcrs({ events: { configuration: boot.configuration.toString('hex'), bootVolume: boot.bootVolume.toString('hex') } });
  const secret = randomBytes(64);
  const blob = await sealToPcrs(vm.client(), secret, expected);
  await assert.rejects(unsealWithPcrs(vm.client(), blob, [...expected.keys()]), PcrSealMismatch);
  await vm.measureBoot(boot.log.serialize());
  assert.deepEqual(await unsealWithPcrs(vm.client(), blob, [...expected.keys()]), secret);
  await manager.close();
});
