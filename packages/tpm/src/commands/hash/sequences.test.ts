// The hash, HMAC and event sequence commands in process: results equal node:crypto over the
// concatenated data; tickets only for hash sequences whose data did not start with
// TPM_GENERATED_VALUE; event sequences extend every bank; the wrong kind of sequence is
// TPM_RC_MODE; a completed sequence is gone.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { TPM_ALG, TPM_GENERATED_VALUE, TPM_RC, TPM_RH } from '../../wire/constants.js';
import { TPMA_OBJECT as A } from '../../wire/attribute-bits.js';
import { rcHandle } from '../../wire/rc.js';
import { password } from '../../client/auth.js';
import { digest } from '../../crypto/hash.js';
import { hmacTemplate, loadKey, rcOf, startedTpm } from '../asymmetric/test-fixture.js';
import { EventSequenceComplete, HashSequenceStart, HMAC_Start, SequenceComplete, SequenceUpdate } from './index.js';

const { tpm, client } = await startedTpm();
const pw = (s = 'seq') => ({ auth: [password(s)] });
const start = (hashAlg: number) => client.call(HashSequenceStart, {}, { auth: Buffer.from('seq'), hashAlg }).then((r) => r.sequenceHandle);
const update = (sequenceHandle: number, buffer: Buffer) => client.call(SequenceUpdate, { sequenceHandle }, { buffer }, pw());
const complete = (sequenceHandle: number, buffer: Buffer, hierarchy: number = TPM_RH.OWNER) =>
  client.call(SequenceComplete, { sequenceHandle }, { buffer, hierarchy }, pw());

test('a hash sequence over several updates equals SHA-256 of all the data, with a ticket; the sequence is then gone', async () => {
  const parts = [randomBytes(1024), randomBytes(1024), randomBytes(10)];
  const h = await start(TPM_ALG.SHA256);
  await update(h, parts[0]!);
  await update(h, parts[1]!);
  const { result, validation } = await complete(h, parts[2]!);
  assert.deepEqual(result, createHash('sha256').update(Buffer.concat(parts)).digest());
  assert.equal(validation.hierarchy, TPM_RH.OWNER);
  assert.ok(validation.digest.length > 0);
  assert.equal(tpm.objects.has(h), false);
  assert.equal(await rcOf(update(h, Buffer.alloc(1))), rcHandle(TPM_RC.HANDLE, 1));
});

test('data beginning with TPM_GENERATED_VALUE gets the NULL ticket', async () => {
  const generated = Buffer.alloc(8);
  generated.writeUInt32BE(TPM_GENERATED_VALUE);
  const h = await start(TPM_ALG.SHA384);
  await update(h, generated);
  const { result, validation } = await complete(h, Buffer.alloc(0));
  assert.deepEqual(result, digest(TPM_ALG.SHA384, generated));
  assert.equal(validation.hierarchy, TPM_RH.NULL);
});

test('an HMAC sequence equals node:crypto HMAC; its ticket is NULL', async () => {
  const key = randomBytes(32);
  const k = loadKey(tpm, hmacTemplate(A.sign | A.userWithAuth | A.noDA, TPM_ALG.SHA256), { data: key });
  const { sequenceHandle } = await client.call(HMAC_Start, { handle: k.handle }, { auth: Buffer.from('seq'), hashAlg: TPM_ALG.NULL }, pw(''));
  const data = randomBytes(3000);
  await update(sequenceHandle, data.subarray(0, 1024));
  await update(sequenceHandle, data.subarray(1024, 2048));
  const { result, validation } = await complete(sequenceHandle, data.subarray(2048));
  assert.deepEqual(result, createHmac('sha256', key).update(data).digest());
  assert.equal(validation.hierarchy, TPM_RH.NULL);
});

test('an event sequence returns a digest per bank and extends PCR 16 in each', async () => {
  const data = randomBytes(100);
  const before = tpm.pcr.algorithms().map((alg) => tpm.pcr.read(alg, 16));
  const h = await start(TPM_ALG.NULL);
  await update(h, data.subarray(0, 60));
  const { results } = await client.call(EventSequenceComplete, { pcrHandle: 16, sequenceHandle: h }, { buffer: data.subarray(60) }, { auth: [password(), password('seq')] });
  assert.deepEqual(results.map((r) => r.hashAlg), tpm.pcr.algorithms());
  tpm.pcr.algorithms().forEach((alg, i) => {
    assert.deepEqual(results[i]!.digest, digest(alg, data));
    assert.deepEqual(tpm.pcr.read(alg, 16), digest(alg, before[i]!, results[i]!.digest));
  });
});

test('the wrong kind of sequence is TPM_RC_MODE; a wrong sequence password is refused', async () => {
  const event = await start(TPM_ALG.NULL);
  assert.equal(await rcOf(complete(event, Buffer.alloc(0))), rcHandle(TPM_RC.MODE, 1));
  const hash = await start(TPM_ALG.SHA256);
  const ev = client.call(EventSequenceComplete, { pcrHandle: TPM_RH.NULL, sequenceHandle: hash }, { buffer: Buffer.alloc(0) }, { auth: [password(), password('seq')] });
  assert.equal(await rcOf(ev), rcHandle(TPM_RC.MODE, 2));
  const k = loadKey(tpm, hmacTemplate(A.sign | A.userWithAuth | A.noDA, TPM_ALG.SHA256), { data: randomBytes(32) });
  assert.equal(await rcOf(client.call(SequenceUpdate, { sequenceHandle: k.handle }, { buffer: Buffer.alloc(1) }, pw(''))), rcHandle(TPM_RC.MODE, 1));
  assert.notEqual(await rcOf(client.call(SequenceUpdate, { sequenceHandle: hash }, { buffer: Buffer.alloc(1) }, pw('wrong'))), 0);
});
