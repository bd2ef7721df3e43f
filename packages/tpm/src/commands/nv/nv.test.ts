// NV storage: the definition rules and access checks of Part 3 §31 as tables in process, then
// tpm2-tools over mssim: ordinary, counter and own-auth indices, extend and bits indices.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { TpmClient } from '../../client/client.js';
import { InProcessTransport } from '../../client/transport.js';
import { password } from '../../client/auth.js';
import { TPM_ALG, TPM_NT, TPM_RC, TPM_RH, TPM_SU, TPMA_NV } from '../../wire/constants.js';
import { rcHandle, rcParam } from '../../wire/rc.js';
import { Tpm } from '../../engine/tpm.js';
import { haveTpm2Tools, withTpmServer } from '../../testing/tpm2-tools.js';
import { Shutdown, Startup } from '../startup/index.js';
import {
  NV_DefineSpace, NV_Extend, NV_Increment, NV_Read, NV_ReadLock, NV_ReadPublic, NV_SetBits, NV_UndefineSpace, NV_Write, NV_WriteLock,
} from './index.js';
import { rcOf } from '../../testing/in-process.js';

const A = TPMA_NV;
const INDEX = 0x01500016;
const nt = (type: number) => type << A.TPM_NT_SHIFT;

async function started(tpm = new Tpm({ onInternalError: (e) => console.error('internal error', e) })) {
  const client = new TpmClient(new InProcessTransport(tpm));
  await client.call(Startup, {}, { startupType: TPM_SU.CLEAR });
  return { tpm, client };
}

function nvPublic(attributes: number, dataSize = 32, nameAlg: number = TPM_ALG.SHA256, authPolicy = Buffer.alloc(0)) {
  return { nvIndex: INDEX, nameAlg, attributes, authPolicy, dataSize };
}

const define = (client: TpmClient, pub: ReturnType<typeof nvPublic>, authHandle: number = TPM_RH.OWNER, auth = Buffer.alloc(0)) =>
  client.call(NV_DefineSpace, { authHandle }, { auth, publicInfo: pub }, { auth: [password()] });

test('NV_DefineSpace: the attribute and size rules of Part 3 §31.3', async () => {
  const OW = A.OWNERREAD | A.OWNERWRITE;
  const cases: Array<[string, ReturnType<typeof nvPublic>, number, number]> = [
    ['ordinary', nvPublic(OW), TPM_RH.OWNER, TPM_RC.SUCCESS],
    ['counter of 8', nvPublic(OW | nt(TPM_NT.COUNTER), 8), TPM_RH.OWNER, TPM_RC.SUCCESS],
    ['counter of 4', nvPublic(OW | nt(TPM_NT.COUNTER), 4), TPM_RH.OWNER, rcParam(TPM_RC.SIZE, 2)],
    ['bits of 8', nvPublic(OW | nt(TPM_NT.BITS), 8), TPM_RH.OWNER, TPM_RC.SUCCESS],
    ['extend of the digest size', nvPublic(OW | nt(TPM_NT.EXTEND), 32), TPM_RH.OWNER, TPM_RC.SUCCESS],
    ['extend of another size', nvPublic(OW | nt(TPM_NT.EXTEND), 20), TPM_RH.OWNER, rcParam(TPM_RC.SIZE, 2)],
    ['an undefined type', nvPublic(OW | nt(3)), TPM_RH.OWNER, rcParam(TPM_RC.ATTRIBUTES, 2)],
    ['counter with CLEAR_STCLEAR', nvPublic(OW | nt(TPM_NT.COUNTER) | A.CLEAR_STCLEAR, 8), TPM_RH.OWNER, rcParam(TPM_RC.ATTRIBUTES, 2)],
    ['WRITTEN set', nvPublic(OW | A.WRITTEN), TPM_RH.OWNER, rcParam(TPM_RC.ATTRIBUTES, 2)],
    ['no way to read', nvPublic(A.OWNERWRITE), TPM_RH.OWNER, rcParam(TPM_RC.ATTRIBUTES, 2)],
    ['no way to write', nvPublic(A.OWNERREAD), TPM_RH.OWNER, rcParam(TPM_RC.ATTRIBUTES, 2)],
    ['CLEAR_STCLEAR with WRITEDEFINE', nvPublic(OW | A.CLEAR_STCLEAR | A.WRITEDEFINE), TPM_RH.OWNER, rcParam(TPM_RC.ATTRIBUTES, 2)],
    ['PLATFORMCREATE by the owner', nvPublic(OW | A.PLATFORMCREATE), TPM_RH.OWNER, rcHandle(TPM_RC.ATTRIBUTES, 1)],
    ['no PLATFORMCREATE by the platform', nvPublic(OW), TPM_RH.PLATFORM, rcHandle(TPM_RC.ATTRIBUTES, 1)],
    ['PLATFORMCREATE by the platform', nvPublic(A.PPREAD | A.PPWRITE | A.PLATFORMCREATE), TPM_RH.PLATFORM, TPM_RC.SUCCESS],
    ['POLICY_DELETE by the owner', nvPublic(OW | A.POLICY_DELETE), TPM_RH.OWNER, rcParam(TPM_RC.ATTRIBUTES, 2)],
    ['authPolicy of the wrong size', nvPublic(OW, 32, TPM_ALG.SHA256, Buffer.alloc(20)), TPM_RH.OWNER, rcParam(TPM_RC.SIZE, 2)],
    ['WRITEALL above the NV buffer', nvPublic(OW | A.WRITEALL, 2048), TPM_RH.OWNER, rcParam(TPM_RC.SIZE, 2)],
  ];
  for (const [what, pub, authHandle, rc] of cases) {
    const { client } = await started();
    assert.equal(await rcOf(define(client, pub, authHandle)), rc, what);
  }
  const { client } = await started();
  assert.equal(await rcOf(define(client, nvPublic(A.OWNERREAD | A.OWNERWRITE, 32, TPM_ALG.SHA1), TPM_RH.OWNER, Buffer.alloc(21, 1))), rcParam(TPM_RC.SIZE, 1));
  await define(client, nvPublic(A.OWNERREAD | A.OWNERWRITE));
  assert.equal(await rcOf(define(client, nvPublic(A.OWNERREAD | A.OWNERWRITE))), TPM_RC.NV_DEFINED);
});

test('NV_Write / NV_Read: WRITTEN, ranges, hierarchy read/write bits, and the Name following the attributes', async () => {
  const { client } = await started();
  await define(client, nvPublic(A.OWNERREAD | A.OWNERWRITE | A.PPREAD, 16));
  const h = { authHandle: TPM_RH.OWNER, nvIndex: INDEX };
  const pw = { auth: [password()] };
  const before = await client.call(NV_ReadPublic, { nvIndex: INDEX }, {});
  assert.equal(await rcOf(client.call(NV_Read, h, { size: 4, offset: 0 }, pw)), TPM_RC.NV_UNINITIALIZED);
  assert.equal(await rcOf(client.call(NV_Write, h, { data: Buffer.alloc(8), offset: 12 }, pw)), TPM_RC.NV_RANGE);
  assert.equal(await rcOf(client.call(NV_Write, h, { data: Buffer.alloc(1), offset: 17 }, pw)), rcParam(TPM_RC.VALUE, 2));
  assert.equal(await rcOf(client.call(NV_Write, { authHandle: TPM_RH.PLATFORM, nvIndex: INDEX }, { data: Buffer.alloc(1), offset: 0 }, pw)), TPM_RC.NV_AUTHORIZATION);
  // The index authorizing itself without AUTHWRITE: not available (Part 1 §19, reference IsAuthValueAvailable).
  assert.equal(await rcOf(client.call(NV_Write, { authHandle: INDEX, nvIndex: INDEX }, { data: Buffer.alloc(1), offset: 0 }, pw)), TPM_RC.AUTH_UNAVAILABLE);
  await client.call(NV_Write, h, { data: Buffer.from('abcd'), offset: 4 }, pw);
  const after = await client.call(NV_ReadPublic, { nvIndex: INDEX }, {});
  assert.ok(after.nvPublic.attributes & A.WRITTEN);
  assert.notDeepEqual(after.nvName, before.nvName);
  assert.deepEqual((await client.call(NV_Read, h, { size: 4, offset: 4 }, pw)).data, Buffer.from('abcd'));
  assert.deepEqual((await client.call(NV_Read, { authHandle: TPM_RH.PLATFORM, nvIndex: INDEX }, { size: 2, offset: 4 }, pw)).data, Buffer.from('ab'));
  assert.equal(await rcOf(client.call(NV_Read, h, { size: 8, offset: 12 }, pw)), TPM_RC.NV_RANGE);
  assert.equal(await rcOf(client.call(NV_Increment, h, {}, pw)), rcHandle(TPM_RC.ATTRIBUTES, 2));
  await client.call(NV_UndefineSpace, { authHandle: TPM_RH.OWNER, nvIndex: INDEX }, {}, pw);
  assert.equal(await rcOf(client.call(NV_ReadPublic, { nvIndex: INDEX }, {})), rcHandle(TPM_RC.HANDLE, 1));
});

test('NV counters never go back; extend and bits indices; write and read locks until Startup(CLEAR)', async () => {
  const { tpm, client } = await started();
  const h = { authHandle: TPM_RH.OWNER, nvIndex: INDEX };
  const pw = { auth: [password()] };
  const OW = A.OWNERREAD | A.OWNERWRITE;
  const read8 = async () => (await client.call(NV_Read, h, { size: 8, offset: 0 }, pw)).data.readBigUInt64BE(0);

  await define(client, nvPublic(OW | nt(TPM_NT.COUNTER), 8));
  await client.call(NV_Increment, h, {}, pw);
  await client.call(NV_Increment, h, {}, pw);
  assert.equal(await read8(), 2n);
  assert.equal(await rcOf(client.call(NV_Write, h, { data: Buffer.alloc(8), offset: 0 }, pw)), TPM_RC.ATTRIBUTES);
  await client.call(NV_UndefineSpace, { authHandle: TPM_RH.OWNER, nvIndex: INDEX }, {}, pw);
  await define(client, nvPublic(OW | nt(TPM_NT.COUNTER), 8));
  await client.call(NV_Increment, h, {}, pw);
  assert.equal(await read8(), 3n, 'a new counter starts above the largest count a deleted one held');
  await client.call(NV_UndefineSpace, { authHandle: TPM_RH.OWNER, nvIndex: INDEX }, {}, pw);

  await define(client, nvPublic(OW | nt(TPM_NT.EXTEND), 48, TPM_ALG.SHA384));
  await client.call(NV_Extend, h, { data: Buffer.from('abc') }, pw);
  const want = createHash('sha384').update(Buffer.alloc(48)).update('abc').digest();
  assert.deepEqual((await client.call(NV_Read, h, { size: 48, offset: 0 }, pw)).data, want);
  await client.call(NV_UndefineSpace, { authHandle: TPM_RH.OWNER, nvIndex: INDEX }, {}, pw);

  await define(client, nvPublic(OW | nt(TPM_NT.BITS) | A.WRITE_STCLEAR | A.READ_STCLEAR, 8));
  await client.call(NV_SetBits, h, { bits: 0x5n }, pw);
  await client.call(NV_SetBits, h, { bits: 0x30n }, pw);
  assert.equal(await read8(), 0x35n);
  await client.call(NV_WriteLock, h, {}, pw);
  await client.call(NV_WriteLock, h, {}, pw); // locking a locked index is no error
  assert.equal(await rcOf(client.call(NV_SetBits, h, { bits: 1n }, pw)), TPM_RC.NV_LOCKED);
  await client.call(NV_ReadLock, h, {}, pw);
  assert.equal(await rcOf(client.call(NV_Read, h, { size: 8, offset: 0 }, pw)), TPM_RC.NV_LOCKED);
  await client.call(Shutdown, {}, { shutdownType: TPM_SU.CLEAR });
  tpm.powerOff();
  tpm.powerOn();
  await client.call(Startup, {}, { startupType: TPM_SU.CLEAR });
  await client.call(NV_SetBits, h, { bits: 0x100n }, pw);
  assert.equal(await read8(), 0x135n, 'WRITE_STCLEAR and READ_STCLEAR locks end at Startup(CLEAR)');
});

test('tpm2-tools: nvdefine / nvwrite / nvread / nvreadpublic / nvundefine, a counter, an index with its own auth', { skip: !haveTpm2Tools }, async () => {
  await withTpmServer(async (tools) => {
    await tools.run('tpm2_startup', ['-c']);
    const data = Buffer.from('0123456789abcdef0123456789ABCDEF');
    writeFileSync(tools.file('data.bin'), data);

    await tools.run('tpm2_nvdefine', ['0x1500016', '-C', 'o', '-s', '32', '-a', 'ownerread|ownerwrite']);
    await tools.run('tpm2_nvwrite', ['0x1500016', '-C', 'o', '-i', 'data.bin']);
    await tools.run('tpm2_nvread', ['0x1500016', '-C', 'o', '-s', '32', '-o', 'out.bin']);
    assert.deepEqual(readFileSync(tools.file('out.bin')), data);
    const pub = (await tools.run('tpm2_nvreadpublic', ['0x1500016'])).stdout;
    assert.match(pub, /friendly: ownerwrite\|ownerread\|written/);
    assert.match(pub, /size: 32/);
    assert.match(await tools.fails('tpm2_nvwrite', ['0x1500016', '-C', '0x1500016', '-i', 'data.bin']), /0x12F/);
    await tools.run('tpm2_nvundefine', ['0x1500016']);
    assert.equal((await tools.run('tpm2_getcap', ['handles-nv-index'])).stdout.trim(), '');

    await tools.run('tpm2_nvdefine', ['0x1500017', '-C', 'o', '-s', '8', '-a', 'ownerread|ownerwrite|nt=counter']);
    await tools.run('tpm2_nvincrement', ['0x1500017', '-C', 'o']);
    await tools.run('tpm2_nvincrement', ['0x1500017', '-C', 'o']);
    await tools.run('tpm2_nvread', ['0x1500017', '-C', 'o', '-o', 'count.bin']);
    assert.equal(readFileSync(tools.file('count.bin')).readBigUInt64BE(0), 2n);

    await tools.run('tpm2_nvdefine', ['0x1500018', '-C', 'o', '-s', '32', '-p', 'secret', '-a', 'authread|authwrite']);
    await tools.run('tpm2_nvwrite', ['0x1500018', '-C', '0x1500018', '-P', 'secret', '-i', 'data.bin']);
    await tools.run('tpm2_nvread', ['0x1500018', '-C', '0x1500018', '-P', 'secret', '-s', '32', '-o', 'out2.bin']);
    assert.deepEqual(readFileSync(tools.file('out2.bin')), data);
    assert.match(await tools.fails('tpm2_nvread', ['0x1500018', '-C', '0x1500018', '-P', 'wrong', '-s', '32']), /0x98E/);
    assert.match(await tools.fails('tpm2_nvread', ['0x1500018', '-C', 'o', '-s', '32']), /0x149/);

    writeFileSync(tools.file('abc'), 'abc');
    await tools.run('tpm2_nvdefine', ['0x1500019', '-C', 'o', '-s', '32', '-a', 'ownerread|ownerwrite|nt=extend']);
    await tools.run('tpm2_nvextend', ['0x1500019', '-C', 'o', '-i', 'abc']);
    await tools.run('tpm2_nvread', ['0x1500019', '-C', 'o', '-o', 'ext.bin']);
    assert.deepEqual(readFileSync(tools.file('ext.bin')), createHash('sha256').update(Buffer.alloc(32)).update('abc').digest());
    assert.match((await tools.run('tpm2_getcap', ['handles-nv-index'])).stdout, /0x1500017\n- 0x1500018\n- 0x1500019/);
  });
});
