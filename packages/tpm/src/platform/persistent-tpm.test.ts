// openPersistentTpm in process: a TPM closed and opened again from its state file keeps NV data,
// persistent keys and counters; a quote's resetCount and restartCount follow the power cycles;
// a corrupted, foreign-key or rolled-back state file stops start-up and is left untouched; a
// save that fails puts the TPM in failure mode.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TpmClient } from '../client/client.js';
import { InProcessTransport } from '../client/transport.js';
import { password } from '../client/auth.js';
import { attestationKeyTemplate, signingKeyTemplate } from '../client/templates.js';
import { unmarshal } from '../wire/codec.js';
import { TPM_ALG, TPM_NT, TPM_RC, TPM_RH, TPM_SU, TPMA_NV } from '../wire/constants.js';
import { TPMS_ATTEST, pcrSelection } from '../wire/types/index.js';
import { Quote } from '../commands/attestation/index.js';
import { EvictControl } from '../commands/context/index.js';
import { NV_DefineSpace, NV_Increment, NV_Read, NV_Write } from '../commands/nv/index.js';
import { ReadPublic } from '../commands/object/index.js';
import { PCR_Extend, PCR_Read } from '../commands/pcr/index.js';
import { Shutdown, Startup } from '../commands/startup/index.js';
import { primary } from '../commands/attestation/test-keys.js';
import { rcOf } from '../testing/in-process.js';
import { openPersistentTpm } from './persistent-tpm.js';
import { StateFileError } from './state-file.js';

const KEY = randomBytes(32);
const PERSISTENT = 0x81000001;
const NV_DATA = 0x01500030;
const NV_COUNTER = 0x01500031;
const OWNER = { auth: [password()] };

function scratch() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sealkeep-persistent-tpm-'));
  const opts = (platformKey: Buffer = KEY) => ({ path: path.join(dir, 'tpm', 'tpm.state'), counterPath: path.join(dir, 'tpm.counter'), platformKey });
  return { dir, opts, [Symbol.dispose]: () => rmSync(dir, { recursive: true, force: true }) };
}

async function boot(opts: Parameters<typeof openPersistentTpm>[0], type: number = TPM_SU.CLEAR) {
  const p = await openPersistentTpm({ ...opts, tpmOptions: { onInternalError: (e) => assert.fail(String(e)) } });
  const client = new TpmClient(new InProcessTransport(p.tpm));
  await client.call(Startup, {}, { startupType: type });
  return { ...p, client };
}

async function quoteClock(client: TpmClient) {
  const ak = await primary(client, attestationKeyTemplate('eccP256'), TPM_RH.ENDORSEMENT);
  const q = await client.call(Quote, { signHandle: ak.objectHandle }, { qualifyingData: Buffer.alloc(8), inScheme: { scheme: TPM_ALG.NULL, details: null }, PCRselect: [] }, OWNER);
  return unmarshal(TPMS_ATTEST, q.quoted).clockInfo;
}

const counterValue = async (client: TpmClient) =>
  (await client.call(NV_Read, { authHandle: TPM_RH.OWNER, nvIndex: NV_COUNTER }, { size: 8, offset: 0 }, OWNER)).data.readBigUInt64BE(0);

test('a restart keeps NV data, persistent keys and counters; the quote shows a TPM Reset', async () => {
  using s = scratch();
  const first = await boot(s.opts());
  const key = await primary(first.client, signingKeyTemplate('eccP256'));
  await first.client.call(EvictControl, { auth: TPM_RH.OWNER, objectHandle: key.objectHandle }, { persistentHandle: PERSISTENT }, OWNER);
  const define = (nvIndex: number, attributes: number, dataSize: number) =>
    first.client.call(NV_DefineSpace, { authHandle: TPM_RH.OWNER }, { auth: Buffer.alloc(0), publicInfo: { nvIndex, nameAlg: TPM_ALG.SHA256, attributes, authPolicy: Buffer.alloc(0), dataSize } }, OWNER);
  await define(NV_DATA, TPMA_NV.OWNERREAD | TPMA_NV.OWNERWRITE, 8);
  await define(NV_COUNTER, TPMA_NV.OWNERREAD | TPMA_NV.OWNERWRITE | (TPM_NT.COUNTER << TPMA_NV.TPM_NT_SHIFT), 8);
  await first.client.call(NV_Write, { authHandle: TPM_RH.OWNER, nvIndex: NV_DATA }, { data: Buffer.from('restarts'), offset: 0 }, OWNER);
  for (let i = 0; i < 5; i++) await first.client.call(NV_Increment, { authHandle: TPM_RH.OWNER, nvIndex: NV_COUNTER }, {}, OWNER);
  const clock0 = await quoteClock(first.client);
  await first.close();

  // Power lost without Shutdown: a TPM Reset, and Clock is no longer known safe.
  const second = await boot(s.opts());
  assert.deepEqual((await second.client.call(ReadPublic, { objectHandle: PERSISTENT }, {})).outPublic, key.outPublic);
  assert.equal((await second.client.call(NV_Read, { authHandle: TPM_RH.OWNER, nvIndex: NV_DATA }, { size: 8, offset: 0 }, OWNER)).data.toString(), 'restarts');
  await second.client.call(NV_Increment, { authHandle: TPM_RH.OWNER, nvIndex: NV_COUNTER }, {}, OWNER);
  assert.equal(await counterValue(second.client), 6n);
  const clock1 = await quoteClock(second.client);
  assert.equal(clock1.resetCount, clock0.resetCount + 1);
  assert.equal(clock1.restartCount, 0);
  assert.equal(clock1.safe, 0);
  assert.ok(clock1.clock >= clock0.clock, 'Clock does not go back');

  // Shutdown(STATE) then Startup(CLEAR): a TPM Restart.
  await second.client.call(Shutdown, {}, { shutdownType: TPM_SU.STATE });
  await second.close();
  const third = await boot(s.opts());
  const clock2 = await quoteClock(third.client);
  assert.deepEqual([clock2.resetCount, clock2.restartCount], [clock1.resetCount, 1]);
  assert.equal(await counterValue(third.client), 6n);
  await third.close();
});

test('Startup(STATE) after Shutdown(STATE) and a restart resumes PCRs 0–15 only', async () => {
  using s = scratch();
  const first = await boot(s.opts());
  for (const pcrHandle of [7, 16]) {
    await first.client.call(PCR_Extend, { pcrHandle }, { digests: [{ hashAlg: TPM_ALG.SHA256, digest: Buffer.alloc(32, 0x5a) }] }, OWNER);
  }
  const sel = [pcrSelection(TPM_ALG.SHA256, [7, 16])];
  const before = (await first.client.call(PCR_Read, {}, { pcrSelectionIn: sel })).pcrValues;
  await first.client.call(Shutdown, {}, { shutdownType: TPM_SU.STATE });
  await first.close();
  const resumed = await boot(s.opts(), TPM_SU.STATE);
  const after = (await resumed.client.call(PCR_Read, {}, { pcrSelectionIn: sel })).pcrValues;
  assert.deepEqual(after[0], before[0]);
  assert.deepEqual(after[1], Buffer.alloc(32));
  await resumed.close();
});

test('a corrupted, foreign-key or rolled-back state file stops start-up and stays as it was', async () => {
  using s = scratch();
  const first = await boot(s.opts());
  await first.flush();
  const old = readFileSync(s.opts().path);
  await first.client.call(NV_DefineSpace, { authHandle: TPM_RH.OWNER }, { auth: Buffer.alloc(0), publicInfo: { nvIndex: NV_DATA, nameAlg: TPM_ALG.SHA256, attributes: TPMA_NV.OWNERREAD | TPMA_NV.OWNERWRITE, authPolicy: Buffer.alloc(0), dataSize: 8 } }, OWNER);
  await first.close();
  const good = readFileSync(s.opts().path);
  const counter = readFileSync(s.opts().counterPath);

  const attempt = async (bytes: Buffer, platformKey: Buffer, message: RegExp) => {
    writeFileSync(s.opts().path, bytes);
    const err = await openPersistentTpm(s.opts(platformKey)).then(
      () => assert.fail('start-up should fail'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof StateFileError);
    assert.match(err.message, message);
    assert.deepEqual(readFileSync(s.opts().path), bytes, 'the state file is untouched');
    assert.deepEqual(readFileSync(s.opts().counterPath), counter, 'the counter is untouched');
  };
  const flipped = Buffer.from(good);
  flipped[good.length >> 1]! ^= 0x80;
  await attempt(flipped, KEY, /^state file failed authentication: wrong platform key or corrupted file$/);
  await attempt(good, randomBytes(32), /^state file failed authentication/);
  await attempt(old, KEY, /^state file is older than the last one written \(generation \d+ < \d+\): refusing a rolled-back TPM state$/);

  // Put back, the good file opens and nothing was lost.
  writeFileSync(s.opts().path, good);
  const again = await boot(s.opts());
  assert.ok(again.tpm.nv.has(NV_DATA));
  await again.close();
});

test('a save that fails puts the TPM in failure mode', async () => {
  using s = scratch();
  const errors: Error[] = [];
  const p = await openPersistentTpm({ ...s.opts(), onSaveError: (e) => errors.push(e) });
  const client = new TpmClient(new InProcessTransport(p.tpm));
  await client.call(Startup, {}, { startupType: TPM_SU.CLEAR });
  await p.flush();
  writeFileSync(s.opts().counterPath, 'garbage');
  await client.call(NV_DefineSpace, { authHandle: TPM_RH.OWNER }, { auth: Buffer.alloc(0), publicInfo: { nvIndex: NV_DATA, nameAlg: TPM_ALG.SHA256, attributes: TPMA_NV.OWNERREAD | TPMA_NV.OWNERWRITE, authPolicy: Buffer.alloc(0), dataSize: 8 } }, OWNER);
  await assert.rejects(p.flush(), StateFileError);
  assert.equal(errors.length, 1);
  assert.equal(await rcOf(client.call(NV_Read, { authHandle: TPM_RH.OWNER, nvIndex: NV_DATA }, { size: 8, offset: 0 }, OWNER)), TPM_RC.FAILURE);
});
