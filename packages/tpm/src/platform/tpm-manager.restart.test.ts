// TpmManager.restart: a VM reboot power-cycles its vTPM keeping its seeds — PCRs back to their
// initial values, transient objects and sessions gone, persistent objects and NV kept, the
// static event log emptied, all saved before it returns — and is refused for the host TPM.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TPM_ALG, TPM_RH, TPM_SE } from '../wire/constants.js';
import { TpmError } from '../wire/rc.js';
import { MssimTransport } from '../transport/mssim-client.js';
import { TpmClient } from '../client/client.js';
import { ReadPublic } from '../commands/object/index.js';
import { StartAuthSession } from '../commands/session/index.js';
import { createEndorsementKey } from './endorsement.js';
import { TpmManager, TpmManagerError } from './tpm-manager.js';
import { AK_HANDLE, createPersistentAk, extend, readPcrs } from './tpm-manager.fixture.js';
import { goodBootLog, sha256 } from './vm-boot.fixture.js';

const ZERO = Buffer.alloc(32);
const FF = Buffer.alloc(32, 0xff);
const scratch: string[] = [];
after(() => scratch.forEach((d) => rmSync(d, { recursive: true, force: true })));

async function openManager() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sealkeep-restart-'));
  scratch.push(dir);
  const platformKey = randomBytes(32);
  return { manager: await TpmManager.open({ dir, platformKey }), dir, platformKey };
}

test('restart: PCRs back to their initial values, transient objects gone, the persistent key and the seeds kept', async () => {
  const { manager } = await openManager();
  const vm = await manager.create('vm-1');
  const ek = (await createEndorsementKey(vm.client(), 'eccP256')).export({ format: 'der', type: 'spki' });
  const ak = await createPersistentAk(vm.client());
  const before = await vm.client().call(ReadPublic, { objectHandle: AK_HANDLE }, {});
  await extend(vm.client(), 0, sha256(Buffer.from('firmware')));
  await extend(vm.client(), 16, sha256(Buffer.from('debug')));
  const transient = (await vm.client().call(ReadPublic, { objectHandle: ak.objectHandle }, {}).catch((e) => e)) as unknown;
  assert.ok(transient instanceof TpmError, 'createPersistentAk flushed its transient copy');
  const resetCount = vm.tpm.clock.resetCount;

  const restarted = await manager.restart('vm-1');
  assert.equal(restarted, vm, 'the same instance, still usable');
  assert.deepEqual(await readPcrs(vm.client(), [0, 16, 17, 23]), [ZERO, ZERO, FF, ZERO]);
  const afterRestart = await vm.client().call(ReadPublic, { objectHandle: AK_HANDLE }, {});
  assert.deepEqual(afterRestart.outPublic, before.outPublic);
  assert.deepEqual(afterRestart.name, before.name);
  assert.deepEqual((await createEndorsementKey(vm.client(), 'eccP256')).export({ format: 'der', type: 'spki' }), ek, 'the endorsement seed is kept');
  assert.equal(vm.tpm.clock.resetCount, resetCount + 1, 'a TPM Reset');
  assert.equal(vm.tpm.objects.has(0x80000000), false, 'no transient objects');
  await manager.close();
});

test('restart: sessions and transient objects are flushed; a suspended vTPM is loaded and restarted', async () => {
  const { manager } = await openManager();
  const vm = await manager.create('vm-1');
  const s = await vm.client().call(
    StartAuthSession,
    { tpmKey: TPM_RH.NULL, bind: TPM_RH.NULL },
    { nonceCaller: randomBytes(32), encryptedSalt: Buffer.alloc(0), sessionType: TPM_SE.HMAC, symmetric: { algorithm: TPM_ALG.NULL, keyBits: null, mode: null } as never, authHash: TPM_ALG.SHA256 },
  );
  assert.ok(vm.tpm.sessions.has(s.sessionHandle));
  await manager.restart('vm-1');
  assert.equal(vm.tpm.sessions.has(s.sessionHandle), false);

  await extend(vm.client(), 9, sha256(Buffer.from('x')));
  await manager.suspend('vm-1');
  const again = await manager.restart('vm-1');
  assert.notEqual(again, vm);
  assert.deepEqual(await readPcrs(again.client(), [9]), [ZERO]);
  await manager.close();
});

test('restart empties the static event log and is saved before it returns', async () => {
  const { manager, dir, platformKey } = await openManager();
  const vm = await manager.create('vm-1');
  await createPersistentAk(vm.client());
  await vm.measureBoot(goodBootLog().log.serialize());
  const file = path.join(dir, 'vm-1.static.cel.json');
  assert.ok(JSON.parse(readFileSync(file, 'utf8')).length > 0);
  const resetCount = vm.tpm.clock.resetCount;
  await manager.restart('vm-1');
  assert.equal(readFileSync(file, 'utf8'), '[]');
  assert.equal((await vm.eventLog('static')).length, 0);

  // The process dies right after (no suspend): the state on disk is the restarted one, so the next
  // load (a TPM Reset after the power loss) counts one more reset on top of the restart's.
  const other = await TpmManager.open({ dir, platformKey });
  const loaded = await other.get('vm-1');
  assert.equal(loaded.tpm.clock.resetCount, resetCount + 2);
  assert.ok(loaded.tpm.objects.has(AK_HANDLE));
  await other.close();
});

test('restart is refused for the host TPM and for an unknown id; served clients are disconnected', async () => {
  const { manager } = await openManager();
  await manager.create('host', { role: 'host' });
  await assert.rejects(manager.restart('host'), (e: unknown) => e instanceof TpmManagerError && /host TPM: its reboots are the platform's/.test(e.message));
  await assert.rejects(manager.restart('vm-2'), /no TPM vm-2/);
  assert.throws(() => manager.restart('../x'), TpmManagerError);
  const host = await manager.get('host');
  await assert.rejects(host.powerCycle(), TpmManagerError);
  const busy = await manager.create('vm-busy');
  const measuring = busy.measureBoot(goodBootLog().log.serialize());
  await assert.rejects(manager.restart('vm-busy'), /is measuring a boot/);
  await measuring;
  await manager.restart('vm-busy');

  await manager.create('vm-1');
  const server = await manager.serve('vm-1');
  const transport = await MssimTransport.connect(`127.0.0.1:${server.commandPort}`);
  const client = new TpmClient(transport);
  await extend(client, 4, sha256(Buffer.from('kernel')));
  await manager.restart('vm-1');
  await assert.rejects(extend(client, 4, sha256(Buffer.from('kernel'))), /connection closed/);
  await transport.close();
  const fresh = await MssimTransport.connect(`127.0.0.1:${server.commandPort}`);
  assert.deepEqual(await readPcrs(new TpmClient(fresh), [4]), [ZERO]);
  await fresh.close();
  await manager.close();
});
