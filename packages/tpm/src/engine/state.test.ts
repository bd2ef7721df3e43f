// exportState/importState: a TPM exported to JSON and imported into a fresh Tpm behaves the
// same (keys, NV, counters, auth), and the next Startup gives the power cycle its Part 1 §12
// meaning: reset without Shutdown (not safe, one DA failure), restart, resume (PCRs 0–15 only).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { TpmClient } from '../client/client.js';
import { InProcessTransport } from '../client/transport.js';
import { password } from '../client/auth.js';
import { signingKeyTemplate } from '../client/templates.js';
import { TPM_ALG, TPM_NT, TPM_RC, TPM_RH, TPM_ST, TPM_SU, TPMA_NV } from '../wire/constants.js';
import { pcrSelection } from '../wire/types/index.js';
import { ContextLoad, ContextSave, EvictControl } from '../commands/context/index.js';
import { DictionaryAttackParameters } from '../commands/dictionary-attack/index.js';
import { CreatePrimary, HierarchyChangeAuth } from '../commands/hierarchy/index.js';
import { NV_DefineSpace, NV_Increment, NV_Read, NV_Write, NV_WriteLock } from '../commands/nv/index.js';
import { ReadPublic } from '../commands/object/index.js';
import { PCR_Extend, PCR_Read } from '../commands/pcr/index.js';
import { ReadClock } from '../commands/clock/index.js';
import { Sign } from '../commands/signing/index.js';
import { Shutdown, Startup } from '../commands/startup/index.js';
import { primary, verifies } from '../commands/attestation/test-keys.js';
import { rcOf, startedTpm } from '../testing/in-process.js';
import { exportState, importState, type TpmState } from './state.js';
import { Tpm } from './tpm.js';

const PERSISTENT = 0x81000001;
const NV_DATA = 0x01500020;
const NV_COUNTER = 0x01500021;
const NV_LOCKED = 0x01500022;
const OWNER_AUTH = Buffer.from('owner secret');
const NULL_SCHEME = { scheme: TPM_ALG.NULL, details: null };
const NULL_TICKET = { tag: TPM_ST.HASHCHECK, hierarchy: TPM_RH.NULL, digest: Buffer.alloc(0) };
const A = TPMA_NV;

/** Power loss and power-on: the state through JSON into a fresh Tpm, not yet started. */
function powerCycle(tpm: Tpm): { tpm: Tpm; client: TpmClient; state: TpmState } {
  const state = JSON.parse(JSON.stringify(exportState(tpm))) as TpmState;
  const next = new Tpm({ onInternalError: (e) => assert.fail(`internal error: ${String(e)}`) });
  importState(next, state);
  return { tpm: next, client: new TpmClient(new InProcessTransport(next)), state };
}

const startup = (client: TpmClient, type: number = TPM_SU.CLEAR) => client.call(Startup, {}, { startupType: type });
const shutdown = (client: TpmClient, type: number) => client.call(Shutdown, {}, { shutdownType: type });
const clockInfo = async (client: TpmClient) => (await client.call(ReadClock, {}, {})).currentTime.clockInfo;
const ownerAuth = (value = OWNER_AUTH) => ({ auth: [password(value)] });

async function provisioned() {
  const { tpm, client } = await startedTpm();
  const key = await primary(client, signingKeyTemplate('rsa2048'));
  await client.call(EvictControl, { auth: TPM_RH.OWNER, objectHandle: key.objectHandle }, { persistentHandle: PERSISTENT }, ownerAuth(Buffer.alloc(0)));
  const nv = (nvIndex: number, attributes: number, dataSize: number) =>
    client.call(NV_DefineSpace, { authHandle: TPM_RH.OWNER }, { auth: Buffer.alloc(0), publicInfo: { nvIndex, nameAlg: TPM_ALG.SHA256, attributes, authPolicy: Buffer.alloc(0), dataSize } }, ownerAuth(Buffer.alloc(0)));
  await nv(NV_DATA, A.OWNERREAD | A.OWNERWRITE, 16);
  await nv(NV_COUNTER, A.OWNERREAD | A.OWNERWRITE | (TPM_NT.COUNTER << A.TPM_NT_SHIFT), 8);
  await nv(NV_LOCKED, A.OWNERREAD | A.OWNERWRITE | A.WRITE_STCLEAR, 8);
  await client.call(NV_Write, { authHandle: TPM_RH.OWNER, nvIndex: NV_DATA }, { data: Buffer.from('sealkeep nv data'), offset: 0 }, ownerAuth(Buffer.alloc(0)));
  for (let i = 0; i < 3; i++) await client.call(NV_Increment, { authHandle: TPM_RH.OWNER, nvIndex: NV_COUNTER }, {}, ownerAuth(Buffer.alloc(0)));
  await client.call(NV_Write, { authHandle: TPM_RH.OWNER, nvIndex: NV_LOCKED }, { data: Buffer.alloc(8, 1), offset: 0 }, ownerAuth(Buffer.alloc(0)));
  await client.call(NV_WriteLock, { authHandle: TPM_RH.OWNER, nvIndex: NV_LOCKED }, {}, ownerAuth(Buffer.alloc(0)));
  await client.call(HierarchyChangeAuth, { authHandle: TPM_RH.OWNER }, { newAuth: OWNER_AUTH }, ownerAuth(Buffer.alloc(0)));
  return { tpm, client, key };
}

test('a TPM exported to JSON and imported into a fresh Tpm behaves the same', async () => {
  const before = await provisioned();
  const { tpm, client, state } = powerCycle(before.tpm);
  assert.equal(state.version, 1);
  assert.equal(state.shutdown, null);
  assert.equal('nullSeed' in state.seeds, false, 'the null seed does not outlive a power loss');
  await startup(client);

  // The persistent key: the same public area, and it signs.
  const pub = await client.call(ReadPublic, { objectHandle: PERSISTENT }, {});
  assert.deepEqual(pub.name, before.key.name);
  assert.deepEqual(pub.outPublic, before.key.outPublic);
  const digest = createHash('sha256').update('after a power cycle').digest();
  const { signature } = await client.call(Sign, { keyHandle: PERSISTENT }, { digest, inScheme: NULL_SCHEME, validation: NULL_TICKET }, { auth: [password()] });
  assert.ok(verifies(tpm, PERSISTENT, Buffer.from('after a power cycle'), signature));

  // NV data reads back; the counter continues; the owner auth is the changed one.
  const read = await client.call(NV_Read, { authHandle: TPM_RH.OWNER, nvIndex: NV_DATA }, { size: 16, offset: 0 }, ownerAuth());
  assert.equal(read.data.toString(), 'sealkeep nv data');
  await client.call(NV_Increment, { authHandle: TPM_RH.OWNER, nvIndex: NV_COUNTER }, {}, ownerAuth());
  const counter = await client.call(NV_Read, { authHandle: TPM_RH.OWNER, nvIndex: NV_COUNTER }, { size: 8, offset: 0 }, ownerAuth());
  assert.equal(counter.data.readBigUInt64BE(0), 4n);
  assert.equal(await rcOf(client.call(NV_Read, { authHandle: TPM_RH.OWNER, nvIndex: NV_DATA }, { size: 16, offset: 0 }, ownerAuth(Buffer.alloc(0)))), 0x9a2); // TPM_RC_BAD_AUTH, session 1

  // The same seeds: a primary from the same template is the same key (and came from the saved cache).
  assert.equal(state.derivedRsa.length, 1);
  const again = await client.call(
    CreatePrimary,
    { primaryHandle: TPM_RH.OWNER },
    { inSensitive: { userAuth: Buffer.alloc(0), data: Buffer.alloc(0) }, inPublic: signingKeyTemplate('rsa2048'), outsideInfo: Buffer.alloc(0), creationPCR: [] },
    ownerAuth(),
  );
  assert.deepEqual(again.outPublic, before.key.outPublic);
});

test('Startup(CLEAR) after a power loss without Shutdown is a TPM Reset: not safe, one DA failure, STCLEAR locks gone', async () => {
  const before = await provisioned();
  const clock0 = await clockInfo(before.client);
  const { client } = powerCycle(before.tpm);
  assert.notEqual(await rcOf(startup(client, TPM_SU.STATE)), 0, 'no Shutdown(STATE): no resume');
  await startup(client);
  const c = await clockInfo(client);
  assert.equal(c.resetCount, clock0.resetCount + 1);
  assert.equal(c.restartCount, 0);
  assert.equal(c.safe, 0);
  assert.ok(c.clock >= clock0.clock);
  const { tpm } = powerCycle(before.tpm);
  await startup(new TpmClient(new InProcessTransport(tpm)));
  assert.equal(tpm.da.failedTries, 1, 'a failure that might have gone unrecorded counts');
  // NV_LOCKED was write-locked until the next Startup(CLEAR).
  await client.call(NV_Write, { authHandle: TPM_RH.OWNER, nvIndex: NV_LOCKED }, { data: Buffer.alloc(8, 2), offset: 0 }, ownerAuth());
});

test('Shutdown(STATE), then Startup(STATE): PCRs 0–15 come back, 16, 23 and 17–22 start afresh, the null seed stays', async () => {
  const { tpm: t0, client: c0 } = await startedTpm();
  const extend = (client: TpmClient, pcrHandle: number) =>
    client.call(PCR_Extend, { pcrHandle }, { digests: [{ hashAlg: TPM_ALG.SHA256, digest: Buffer.alloc(32, pcrHandle) }] }, { auth: [password()] });
  for (const pcr of [0, 15, 16, 23]) await extend(c0, pcr);
  const sel = [pcrSelection(TPM_ALG.SHA256, [0, 15, 16, 17, 23])];
  const saved = (await c0.call(PCR_Read, {}, { pcrSelectionIn: sel })).pcrValues;
  const nullKey = await primary(c0, signingKeyTemplate('eccP256'), TPM_RH.NULL);
  const ctx = await c0.call(ContextSave, { saveHandle: nullKey.objectHandle }, {});
  const clock0 = await clockInfo(c0);
  await shutdown(c0, TPM_SU.STATE);

  const { client, state } = powerCycle(t0);
  assert.equal(state.shutdown?.type, 'STATE');
  assert.equal(state.shutdown?.pcrs?.find((b) => b.hashAlg === TPM_ALG.SHA256)?.values.length, 16);
  await startup(client, TPM_SU.STATE);
  const values = (await client.call(PCR_Read, {}, { pcrSelectionIn: sel })).pcrValues;
  assert.deepEqual(values.slice(0, 2), saved.slice(0, 2), 'PCRs 0 and 15 resumed');
  assert.deepEqual(values[2], Buffer.alloc(32), 'PCR 16 is not state-saved');
  assert.deepEqual(values[3], Buffer.alloc(32, 0xff), 'PCR 17 waits for a dynamic launch');
  assert.deepEqual(values[4], Buffer.alloc(32), 'PCR 23 is not state-saved');
  const c = await clockInfo(client);
  assert.deepEqual([c.resetCount, c.restartCount, c.safe], [clock0.resetCount, clock0.restartCount + 1, 1]);
  // The null seed and the context secret survived: the saved null-hierarchy context loads.
  await client.call(ContextLoad, {}, { context: ctx.context });
  assert.deepEqual((await primary(client, signingKeyTemplate('eccP256'), TPM_RH.NULL)).outPublic, nullKey.outPublic);
});

test('Shutdown(STATE), then Startup(CLEAR) is a TPM Restart; Shutdown(CLEAR) then Startup(CLEAR) a Reset', async () => {
  const { tpm: t0, client: c0 } = await startedTpm();
  const nullKey = await primary(c0, signingKeyTemplate('eccP256'), TPM_RH.NULL);
  const clock0 = await clockInfo(c0);
  await shutdown(c0, TPM_SU.STATE);
  const restart = powerCycle(t0);
  await startup(restart.client);
  const c1 = await clockInfo(restart.client);
  assert.deepEqual([c1.resetCount, c1.restartCount, c1.safe], [clock0.resetCount, clock0.restartCount + 1, 1]);
  assert.deepEqual((await primary(restart.client, signingKeyTemplate('eccP256'), TPM_RH.NULL)).outPublic, nullKey.outPublic);

  await shutdown(restart.client, TPM_SU.CLEAR);
  const reset = powerCycle(restart.tpm);
  assert.equal(reset.state.shutdown?.type, 'CLEAR');
  assert.equal(reset.state.shutdown?.nullSeed, undefined);
  assert.notEqual(await rcOf(startup(reset.client, TPM_SU.STATE)), 0);
  await startup(reset.client);
  const c2 = await clockInfo(reset.client);
  assert.deepEqual([c2.resetCount, c2.restartCount, c2.safe], [c1.resetCount + 1, 0, 1], 'an orderly reset stays safe');
  assert.equal(reset.tpm.da.failedTries, 0);
  assert.notDeepEqual((await primary(reset.client, signingKeyTemplate('eccP256'), TPM_RH.NULL)).outPublic, nullKey.outPublic, 'a new null seed');
});

test('dictionary-attack parameters and the failure count survive; saved contexts do not outlive a TPM Reset', async () => {
  const { tpm: t0, client: c0 } = await startedTpm();
  await c0.call(DictionaryAttackParameters, { lockHandle: TPM_RH.LOCKOUT }, { newMaxTries: 5, newRecoveryTime: 100, lockoutRecovery: 300 }, { auth: [password()] });
  const key = await primary(c0, signingKeyTemplate('eccP256'));
  const ctx = await c0.call(ContextSave, { saveHandle: key.objectHandle }, {});
  // Two failed authorizations of a DA-protected key.
  for (let i = 0; i < 2; i++) {
    const rc = await rcOf(c0.call(Sign, { keyHandle: key.objectHandle }, { digest: Buffer.alloc(32), inScheme: NULL_SCHEME, validation: NULL_TICKET }, { auth: [password('wrong')] }));
    assert.notEqual(rc, TPM_RC.SUCCESS);
  }
  await shutdown(c0, TPM_SU.CLEAR);
  const { tpm, client, state } = powerCycle(t0);
  assert.deepEqual(state.dictionaryAttack, { maxTries: 5, recoveryTime: 100, lockoutRecovery: 300, failedTries: 2, lockoutAuthLocked: false });
  await startup(client);
  assert.equal(tpm.da.failedTries, 2);
  assert.equal(await rcOf(client.call(ContextLoad, {}, { context: ctx.context })), 0x1df); // TPM_RC_INTEGRITY, parameter 1
});

test('importState refuses a running TPM and an unknown version', () => {
  const tpm = new Tpm();
  const state = exportState(tpm);
  assert.throws(() => importState(new Tpm(), { ...state, version: 2 as 1 }), /unsupported TPM state version 2/);
  tpm.startup(TPM_SU.CLEAR);
  assert.throws(() => importState(tpm, state), /the TPM is running/);
});
