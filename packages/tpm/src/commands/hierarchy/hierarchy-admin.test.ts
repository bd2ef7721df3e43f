// Hierarchy administration, dictionary-attack protection and the clock (Part 3 §24.4–24.8,
// §25, §29): the rules in process, then tpm2-tools over mssim (changeauth, clear, clearcontrol,
// hierarchycontrol, setprimarypolicy, dictionarylockout, readclock, setclock, clockrateadjust).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { password } from '../../client/auth.js';
import { TPM_ALG, TPM_CAP, TPM_RC, TPM_RH, TPMA_NV } from '../../wire/constants.js';
import { rcHandle, rcParam, rcSession } from '../../wire/rc.js';
import { haveTpm2Tools, withTpmServer } from '../../testing/tpm2-tools.js';
import { GetCapability } from '../capability/index.js';
import { NV_DefineSpace, NV_Read, NV_ReadPublic } from '../nv/index.js';
import { ClockRateAdjust, ClockSet, ReadClock } from '../clock/index.js';
import { DictionaryAttackLockReset, DictionaryAttackParameters } from '../dictionary-attack/index.js';
import { Clear, ClearControl, HierarchyChangeAuth, HierarchyControl, SetPrimaryPolicy } from './index.js';
import { startedTpm as started, rcOf } from '../../testing/in-process.js';

const pw = (v = '') => ({ auth: [password(v)] });
const nvPublic = (nvIndex: number, attributes: number) => ({ nvIndex, nameAlg: TPM_ALG.SHA256, attributes, authPolicy: Buffer.alloc(0), dataSize: 8 });

test('HierarchyControl: only the platform enables; owner and endorsement may disable themselves; a disabled hierarchy answers TPM_RC_HIERARCHY', async () => {
  const { tpm, client } = await started();
  const control = (authHandle: number, enable: number, state: number) => client.call(HierarchyControl, { authHandle }, { enable, state }, pw());
  assert.equal(await rcOf(control(TPM_RH.OWNER, TPM_RH.ENDORSEMENT, 0)), TPM_RC.AUTH_TYPE);
  assert.equal(await rcOf(control(TPM_RH.OWNER, TPM_RH.PLATFORM, 0)), TPM_RC.AUTH_TYPE);
  assert.equal(await rcOf(control(TPM_RH.OWNER, TPM_RH.OWNER, 0)), TPM_RC.SUCCESS);
  assert.equal(tpm.hierarchy.shEnable, false);
  assert.equal(await rcOf(control(TPM_RH.OWNER, TPM_RH.OWNER, 1)), rcHandle(TPM_RC.HIERARCHY, 1));
  assert.equal(await rcOf(control(TPM_RH.ENDORSEMENT, TPM_RH.OWNER, 1)), TPM_RC.AUTH_TYPE);
  assert.equal(await rcOf(control(TPM_RH.PLATFORM, TPM_RH.OWNER, 1)), TPM_RC.SUCCESS);
  // Platform NV off: platform indices are unreachable, and the platform may not define one.
  await client.call(NV_DefineSpace, { authHandle: TPM_RH.PLATFORM }, { auth: Buffer.alloc(0), publicInfo: nvPublic(0x01400001, TPMA_NV.PPREAD | TPMA_NV.PPWRITE | TPMA_NV.PLATFORMCREATE) }, pw());
  await control(TPM_RH.PLATFORM, TPM_RH.PLATFORM_NV, 0);
  assert.equal(await rcOf(client.call(NV_ReadPublic, { nvIndex: 0x01400001 }, {})), rcHandle(TPM_RC.HANDLE, 1));
  const again = nvPublic(0x01400002, TPMA_NV.PPREAD | TPMA_NV.PPWRITE | TPMA_NV.PLATFORMCREATE);
  assert.equal(await rcOf(client.call(NV_DefineSpace, { authHandle: TPM_RH.PLATFORM }, { auth: Buffer.alloc(0), publicInfo: again }, pw())), rcHandle(TPM_RC.HIERARCHY, 1));
});

test('Clear: refused when disableClear (lockout), removes owner NV indices, empties owner auth, restarts the clock', async () => {
  const { tpm, client } = await started();
  await client.call(NV_DefineSpace, { authHandle: TPM_RH.OWNER }, { auth: Buffer.alloc(0), publicInfo: nvPublic(0x01500001, TPMA_NV.OWNERREAD | TPMA_NV.OWNERWRITE) }, pw());
  await client.call(NV_DefineSpace, { authHandle: TPM_RH.PLATFORM }, { auth: Buffer.alloc(0), publicInfo: nvPublic(0x01400001, TPMA_NV.PPREAD | TPMA_NV.PPWRITE | TPMA_NV.PLATFORMCREATE) }, pw());
  await client.call(HierarchyChangeAuth, { authHandle: TPM_RH.OWNER }, { newAuth: Buffer.from('owner') }, pw());
  assert.equal(await rcOf(client.call(ClearControl, { auth: TPM_RH.LOCKOUT }, { disable: 0 }, pw())), TPM_RC.AUTH_FAIL);
  await client.call(ClearControl, { auth: TPM_RH.LOCKOUT }, { disable: 1 }, pw());
  assert.equal(await rcOf(client.call(Clear, { authHandle: TPM_RH.LOCKOUT }, {}, pw())), TPM_RC.DISABLED);
  await client.call(ClearControl, { auth: TPM_RH.PLATFORM }, { disable: 0 }, pw());
  const seed = tpm.hierarchy.seed(TPM_RH.OWNER);
  const eps = tpm.hierarchy.seed(TPM_RH.ENDORSEMENT);
  await client.call(ClockSet, { auth: TPM_RH.OWNER }, { newTime: 10_000_000n }, pw('owner'));
  await client.call(Clear, { authHandle: TPM_RH.LOCKOUT }, {}, pw());
  assert.deepEqual(tpm.nv.handles(), [0x01400001]);
  assert.notDeepEqual(tpm.hierarchy.seed(TPM_RH.OWNER), seed);
  assert.deepEqual(tpm.hierarchy.seed(TPM_RH.ENDORSEMENT), eps);
  assert.equal(tpm.hierarchy.authOf(TPM_RH.OWNER).authValue.length, 0);
  const t = (await client.call(ReadClock, {}, {})).currentTime;
  assert.ok(t.clockInfo.clock < 10_000_000n);
  assert.equal(t.clockInfo.resetCount, 0);
});

test('SetPrimaryPolicy, ClockSet, ClockRateAdjust: sizes and ranges', async () => {
  const { tpm, client } = await started();
  assert.equal(await rcOf(client.call(SetPrimaryPolicy, { authHandle: TPM_RH.OWNER }, { authPolicy: Buffer.alloc(20), hashAlg: TPM_ALG.SHA256 }, pw())), rcParam(TPM_RC.SIZE, 1));
  await client.call(SetPrimaryPolicy, { authHandle: TPM_RH.OWNER }, { authPolicy: Buffer.alloc(32, 1), hashAlg: TPM_ALG.SHA256 }, pw());
  const policies = await client.call(GetCapability, {}, { capability: TPM_CAP.AUTH_POLICIES, property: TPM_RH.OWNER, propertyCount: 1 });
  assert.deepEqual(policies.capabilityData.data, [{ handle: TPM_RH.OWNER, policyHash: { hashAlg: TPM_ALG.SHA256, digest: Buffer.alloc(32, 1) } }]);
  await client.call(SetPrimaryPolicy, { authHandle: TPM_RH.OWNER }, { authPolicy: Buffer.alloc(0), hashAlg: TPM_ALG.NULL }, pw());

  assert.equal(await rcOf(client.call(ClockSet, { auth: TPM_RH.OWNER }, { newTime: 0n }, pw())), rcParam(TPM_RC.VALUE, 1));
  assert.equal(await rcOf(client.call(ClockSet, { auth: TPM_RH.OWNER }, { newTime: 0xffff000000000001n }, pw())), rcParam(TPM_RC.VALUE, 1));
  await client.call(ClockSet, { auth: TPM_RH.PLATFORM }, { newTime: 1n << 40n }, pw());
  assert.ok((await client.call(ReadClock, {}, {})).currentTime.clockInfo.clock >= 1n << 40n);
  await client.call(ClockRateAdjust, { auth: TPM_RH.OWNER }, { rateAdjust: -3 }, pw());
  assert.equal(tpm.clock.rateAdjust, -3);
  // TPM_CLOCK_ADJUST outside -3..3 fails to unmarshal.
  const bad = Buffer.from(['8002', '00000000', '00000130', '40000001', '00000009', '40000009', '0000', '01', '0000', '04'].join(''), 'hex');
  bad.writeUInt32BE(bad.length, 2);
  assert.equal(tpm.execute(bad).readUInt32BE(6), rcParam(TPM_RC.VALUE, 1));
});

test('DictionaryAttackParameters / LockReset: lockout after maxTries failures, cleared by lockout auth', async () => {
  const { tpm, client } = await started();
  await client.call(DictionaryAttackParameters, { lockHandle: TPM_RH.LOCKOUT }, { newMaxTries: 2, newRecoveryTime: 100, lockoutRecovery: 200 }, pw());
  const index = 0x01500002;
  await client.call(NV_DefineSpace, { authHandle: TPM_RH.OWNER }, { auth: Buffer.from('pin'), publicInfo: nvPublic(index, TPMA_NV.AUTHREAD | TPMA_NV.AUTHWRITE) }, pw());
  const read = (auth: string) => client.call(NV_Read, { authHandle: index, nvIndex: index }, { size: 8, offset: 0 }, pw(auth));
  assert.equal(await rcOf(read('wrong')), rcSession(TPM_RC.AUTH_FAIL, 1));
  assert.equal(await rcOf(read('wrong')), rcSession(TPM_RC.AUTH_FAIL, 1));
  assert.equal(await rcOf(read('pin')), TPM_RC.LOCKOUT);
  assert.equal(tpm.da.failedTries, 2);
  await client.call(DictionaryAttackLockReset, { lockHandle: TPM_RH.LOCKOUT }, {}, pw());
  assert.equal(await rcOf(read('pin')), TPM_RC.NV_UNINITIALIZED);
  // A wrong lockoutAuth locks lockout out for lockoutRecovery seconds.
  assert.equal(await rcOf(client.call(DictionaryAttackLockReset, { lockHandle: TPM_RH.LOCKOUT }, {}, pw('wrong'))), rcSession(TPM_RC.AUTH_FAIL, 1));
  assert.equal(await rcOf(client.call(DictionaryAttackLockReset, { lockHandle: TPM_RH.LOCKOUT }, {}, pw())), TPM_RC.LOCKOUT);
});

test('tpm2-tools: changeauth, clear, clearcontrol, hierarchycontrol, dictionarylockout, readclock, setclock', { skip: !haveTpm2Tools }, async () => {
  await withTpmServer(async (tools) => {
    await tools.run('tpm2_startup', ['-c']);
    const variable = async () => (await tools.run('tpm2_getcap', ['properties-variable'])).stdout;

    await tools.run('tpm2_changeauth', ['-c', 'o', 'newpass']);
    assert.match(await variable(), /ownerAuthSet: +1/);
    assert.match(await tools.fails('tpm2_nvdefine', ['0x1500016', '-C', 'o', '-s', '8', '-a', 'ownerread|ownerwrite']), /0x9A2/);
    await tools.run('tpm2_nvdefine', ['0x1500016', '-C', 'o', '-P', 'newpass', '-s', '8', '-a', 'ownerread|ownerwrite']);
    await tools.run('tpm2_changeauth', ['-c', 'l', 'lockpass']);

    await tools.run('tpm2_dictionarylockout', ['--setup-parameters', '--max-tries', '5', '--recovery-time', '10', '--lockout-recovery-time', '20', '-p', 'lockpass']);
    const v = await variable();
    assert.match(v, /TPM2_PT_MAX_AUTH_FAIL: 0x5\n/);
    assert.match(v, /TPM2_PT_LOCKOUT_INTERVAL: 0xA\n/);
    assert.match(v, /TPM2_PT_LOCKOUT_RECOVERY: 0x14\n/);
    await tools.run('tpm2_dictionarylockout', ['--clear-lockout', '-p', 'lockpass']);
    assert.match(await variable(), /TPM2_PT_LOCKOUT_COUNTER: 0x0\n/);

    await tools.run('tpm2_clearcontrol', ['-C', 'l', '-P', 'lockpass', 's']);
    assert.match(await variable(), /disableClear: +1/);
    assert.match(await tools.fails('tpm2_clear', ['-c', 'l', 'lockpass']), /0x120/);
    await tools.run('tpm2_clearcontrol', ['-C', 'p', 'c']);
    await tools.run('tpm2_clear', ['-c', 'l', 'lockpass']);
    const cleared = await variable();
    assert.match(cleared, /ownerAuthSet: +0/);
    assert.match(cleared, /lockoutAuthSet: +0/);
    assert.equal((await tools.run('tpm2_getcap', ['handles-nv-index'])).stdout.trim(), '');

    await tools.run('tpm2_hierarchycontrol', ['-C', 'o', 'shEnable', 'clear']);
    assert.match(await variable(), /shEnable: +0/);
    assert.match(await tools.fails('tpm2_nvdefine', ['0x1500017', '-C', 'o', '-s', '8', '-a', 'ownerread|ownerwrite']), /0x185/);
    await tools.run('tpm2_hierarchycontrol', ['-C', 'p', 'shEnable', 'set']);
    await tools.run('tpm2_nvdefine', ['0x1500017', '-C', 'o', '-s', '8', '-a', 'ownerread|ownerwrite']);

    const clock = (await tools.run('tpm2_readclock')).stdout;
    assert.match(clock, /time: \d+\nclock_info:\n {2}clock: \d+\n {2}reset_count: 0\n {2}restart_count: 0\n {2}safe: yes/);
    await tools.run('tpm2_setclock', ['-c', 'o', '5000000000']);
    assert.match((await tools.run('tpm2_readclock')).stdout, /clock: 50000\d{5}/);
    assert.match(await tools.fails('tpm2_setclock', ['-c', 'o', '1000']), /0x1C4/);
    await tools.run('tpm2_clockrateadjust', ['-c', 'o', 's']);
  });
});
