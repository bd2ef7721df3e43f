// TPM2_ContextSave / ContextLoad / FlushContext / EvictControl in process: objects and sessions
// saved and loaded back, every tampered context (blob byte, sequence, handle, hierarchy)
// answering TPM_RC_INTEGRITY, contexts refused after a TPM Reset, a saved session loadable once
// with its handle reserved meanwhile, and EvictControl's authority and handle-range rules.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { TPM_ALG, TPM_RC, TPM_RH, TPM_SE, TPM_SU } from '../../wire/constants.js';
import { TPMA_OBJECT as A } from '../../wire/attribute-bits.js';
import { rcHandle, rcParam } from '../../wire/rc.js';
import type { TPMS_CONTEXT } from '../../wire/types/index.js';
import { Shutdown, Startup } from '../startup/index.js';
import { ReadPublic } from '../object/index.js';
import { KEY, PW, primary, rcOf, rsa, hex, startedTpm, storageEcc } from '../object/object-fixture.js';
import { ContextLoad, ContextSave, EvictControl, FlushContext } from './index.js';

const { tpm, client, internalErrors } = await startedTpm();
const save = (saveHandle: number) => client.call(ContextSave, { saveHandle }, {}).then((r) => r.context);
const loadCtx = (context: TPMS_CONTEXT) => client.call(ContextLoad, {}, { context }).then((r) => r.loadedHandle);
const flush = (flushHandle: number) => client.call(FlushContext, {}, { flushHandle });
const evict = (auth: number, objectHandle: number, persistentHandle: number) =>
  client.call(EvictControl, { auth, objectHandle }, { persistentHandle }, PW);

function startSession(): number {
  return tpm.sessions.start({
    type: TPM_SE.HMAC,
    hashAlg: TPM_ALG.SHA256,
    symmetric: { algorithm: TPM_ALG.NULL, keyBits: 0, mode: TPM_ALG.NULL },
    nonceCaller: randomBytes(32),
    salt: Buffer.alloc(0),
    bind: null,
  }).handle;
}

test('an object saved, flushed and loaded back is the same object at a new handle', async () => {
  const p = await primary(client);
  const ctx = await save(p.objectHandle);
  assert.equal(ctx.savedHandle, 0x80000000);
  assert.equal(ctx.hierarchy, TPM_RH.OWNER);
  await flush(p.objectHandle);
  assert.equal(await rcOf(client.call(ReadPublic, { objectHandle: p.objectHandle }, {})), rcHandle(TPM_RC.HANDLE, 1));
  const h = await loadCtx(ctx);
  const rp = await client.call(ReadPublic, { objectHandle: h }, {});
  assert.deepEqual(rp.name, p.name);
  // An object context may be loaded again (objects are not single-use).
  const h2 = await loadCtx(ctx);
  assert.notEqual(h2, h);
  const ctx2 = await save(h);
  assert.ok(ctx2.sequence > ctx.sequence, 'sequence numbers increase');
  const st = await primary(client, rsa(KEY | A.sign | A.stClear));
  assert.equal((await save(st.objectHandle)).savedHandle, 0x80000002);
});

test('every tampered context is TPM_RC_INTEGRITY, never a failure', async () => {
  const p = await primary(client, storageEcc());
  const ctx = await save(p.objectHandle);
  const INTEGRITY = rcParam(TPM_RC.INTEGRITY, 1);
  for (let i = 2; i < ctx.contextBlob.length; i += 5) {
    if (i < 34 || i >= 36) {
      const blob = Buffer.from(ctx.contextBlob);
      blob[i]! ^= 0x01;
      assert.equal(await rcOf(loadCtx({ ...ctx, contextBlob: blob })), INTEGRITY, `byte ${i}`);
    }
  }
  assert.equal(await rcOf(loadCtx({ ...ctx, sequence: ctx.sequence + 1n })), INTEGRITY);
  assert.equal(await rcOf(loadCtx({ ...ctx, savedHandle: 0x80000002 })), INTEGRITY);
  assert.equal(await rcOf(loadCtx({ ...ctx, hierarchy: TPM_RH.ENDORSEMENT })), INTEGRITY);
  const truncated = await rcOf(loadCtx({ ...ctx, contextBlob: ctx.contextBlob.subarray(0, 40) }));
  assert.ok(truncated === INTEGRITY || truncated === rcParam(TPM_RC.SIZE, 1), hex(truncated));
  assert.equal(await rcOf(loadCtx({ ...ctx, contextBlob: Buffer.alloc(0) })), rcParam(TPM_RC.SIZE, 1));
  assert.deepEqual(internalErrors, []);
});

test('a saved session leaves the table, keeps its handle, and loads back exactly once', async () => {
  const s = startSession();
  const ctx = await save(s);
  assert.equal(ctx.savedHandle, s);
  assert.equal(ctx.hierarchy, TPM_RH.NULL);
  assert.equal(tpm.sessions.has(s), false);
  assert.equal(await rcOf(save(s)), rcHandle(TPM_RC.HANDLE, 1), 'not loaded: cannot be saved again');
  for (let i = 0; i < 5; i++) assert.notEqual(startSession(), s, 'the saved handle is not reused');
  assert.equal(await loadCtx(ctx), s);
  assert.equal(tpm.sessions.has(s), true);
  assert.equal(await rcOf(loadCtx(ctx)), rcParam(TPM_RC.HANDLE, 1), 'a session context loads once');
  // Saved again, the older blob is stale.
  const ctx2 = await save(s);
  assert.equal(await rcOf(loadCtx(ctx)), rcParam(TPM_RC.HANDLE, 1));
  // A saved session can be flushed; its blob is then useless.
  await flush(s);
  assert.equal(await rcOf(loadCtx(ctx2)), rcParam(TPM_RC.HANDLE, 1));
  assert.equal(await rcOf(flush(s)), rcParam(TPM_RC.HANDLE, 1));
});

test('FlushContext: unknown handles and handles out of range', async () => {
  assert.equal(await rcOf(flush(0x80000030)), rcParam(TPM_RC.HANDLE, 1));
  assert.equal(await rcOf(flush(0x0200003f)), rcParam(TPM_RC.HANDLE, 1));
  assert.equal(await rcOf(flush(0x02000040)), rcParam(TPM_RC.VALUE, 1));
  assert.equal(await rcOf(flush(0x81000000)), rcParam(TPM_RC.VALUE, 1));
});

test('EvictControl: persist under owner auth, read it back, evict it', async () => {
  const p = await primary(client);
  await evict(TPM_RH.OWNER, p.objectHandle, 0x81000001);
  const rp = await client.call(ReadPublic, { objectHandle: 0x81000001 }, {});
  assert.deepEqual(rp.name, p.name);
  assert.equal(await rcOf(evict(TPM_RH.OWNER, p.objectHandle, 0x81000001)), TPM_RC.NV_DEFINED);
  assert.equal(await rcOf(evict(TPM_RH.OWNER, 0x81000001, 0x81000002)), rcHandle(TPM_RC.HANDLE, 2));
  await evict(TPM_RH.OWNER, 0x81000001, 0x81000001);
  assert.equal(await rcOf(client.call(ReadPublic, { objectHandle: 0x81000001 }, {})), rcHandle(TPM_RC.HANDLE, 1));
});

test('EvictControl: each authority in its own range and hierarchy; temporary objects never persist', async () => {
  const owner = await primary(client);
  const plat = await primary(client, undefined, TPM_RH.PLATFORM);
  const nul = await primary(client, undefined, TPM_RH.NULL);
  const st = await primary(client, rsa(KEY | A.sign | A.stClear));
  const cases: Array<[string, () => Promise<unknown>, number]> = [
    ['owner object, platform range', () => evict(TPM_RH.OWNER, owner.objectHandle, 0x81800000), rcParam(TPM_RC.RANGE, 1)],
    ['platform object under owner auth', () => evict(TPM_RH.OWNER, plat.objectHandle, 0x81000005), rcHandle(TPM_RC.HIERARCHY, 2)],
    ['owner object under platform auth', () => evict(TPM_RH.PLATFORM, owner.objectHandle, 0x81800005), rcHandle(TPM_RC.HIERARCHY, 2)],
    ['platform object, owner range', () => evict(TPM_RH.PLATFORM, plat.objectHandle, 0x81000005), rcParam(TPM_RC.RANGE, 1)],
    ['null-hierarchy object', () => evict(TPM_RH.OWNER, nul.objectHandle, 0x81000006), rcHandle(TPM_RC.ATTRIBUTES, 2)],
    ['stClear object', () => evict(TPM_RH.OWNER, st.objectHandle, 0x81000007), rcHandle(TPM_RC.ATTRIBUTES, 2)],
    ['platform object, platform range', () => evict(TPM_RH.PLATFORM, plat.objectHandle, 0x81800005), 0],
    ['platform auth evicts it', () => evict(TPM_RH.PLATFORM, 0x81800005, 0x81800005), 0],
  ];
  for (const [name, run, rc] of cases) assert.equal(await rcOf(run()), rc, name);
});

test('after a TPM Reset, saved contexts are refused; persistent objects remain', async () => {
  const p = await primary(client);
  const ctx = await save(p.objectHandle);
  await evict(TPM_RH.OWNER, p.objectHandle, 0x81000010);
  const sctx = await save(startSession());
  await client.call(Shutdown, {}, { shutdownType: TPM_SU.CLEAR });
  tpm.init();
  await client.call(Startup, {}, { startupType: TPM_SU.CLEAR });
  assert.equal(await rcOf(loadCtx(ctx)), rcParam(TPM_RC.INTEGRITY, 1));
  assert.equal(await rcOf(loadCtx(sctx)), rcParam(TPM_RC.INTEGRITY, 1));
  assert.deepEqual((await client.call(ReadPublic, { objectHandle: 0x81000010 }, {})).name, p.name);
});

test('session handles stay in range however many sessions come and go; saved ones count toward the limit', async () => {
  for (let i = 0; i < 150; i++) {
    const h = startSession();
    assert.ok((h & 0xffffff) < 64, `0x${h.toString(16)}`);
    await flush(h);
  }
  const saved: TPMS_CONTEXT[] = [];
  for (let i = 0; i < 64; i++) saved.push(await save(startSession()));
  assert.throws(() => startSession(), (e: { rc?: number }) => e.rc === TPM_RC.SESSION_HANDLES);
  for (const ctx of saved) await flush(ctx.savedHandle);
});
