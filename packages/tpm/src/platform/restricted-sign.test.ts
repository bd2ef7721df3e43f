// Signing a message with the restricted AK (the endorsement primary of
// attestationKeyTemplate('eccP256'), as the service loads it): the signature verifies with
// node:crypto in both its P1363 and DER forms, long messages go through a hash sequence, and a
// message beginning with TPM_GENERATED_VALUE is refused before the TPM is asked.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, verify } from 'node:crypto';
import { password } from '../client/auth.js';
import { attestationKeyTemplate } from '../client/templates.js';
import { CreatePrimary } from '../commands/hierarchy/index.js';
import { TPM_GENERATED_VALUE, TPM_RC, TPM_RH } from '../wire/constants.js';
import { TpmError } from '../wire/rc.js';
import { startedTpm } from '../testing/in-process.js';
import { publicKeyOfArea } from './endorsement.js';
import { signWithRestrictedKey } from './restricted-sign.js';

const EMPTY = Buffer.alloc(0);

async function withAk() {
  const { tpm, client, internalErrors } = await startedTpm();
  const ak = await client.call(
    CreatePrimary,
    { primaryHandle: TPM_RH.ENDORSEMENT },
    { inSensitive: { userAuth: EMPTY, data: EMPTY }, inPublic: attestationKeyTemplate('eccP256'), outsideInfo: EMPTY, creationPCR: [] },
    { auth: [password()] },
  );
  return { tpm, client, internalErrors, handle: ak.objectHandle, publicKey: publicKeyOfArea(ak.outPublic) };
}

test('the AK signs a message; r‖s and DER both verify with node:crypto', async () => {
  const { client, handle, publicKey, internalErrors } = await withAk();
  for (const message of [Buffer.from('audit checkpoint 42: 9f86d081884c7d65'), EMPTY, Buffer.from([0xff, 0x54, 0x43]), randomBytes(1024), randomBytes(5000)]) {
    const { r, s, der } = await signWithRestrictedKey(client, handle, TPM_RH.ENDORSEMENT, message);
    assert.equal(r.length, 32);
    assert.equal(s.length, 32);
    assert.ok(verify('sha256', message, { key: publicKey, dsaEncoding: 'ieee-p1363' }, Buffer.concat([r, s])), `P1363, ${message.length} bytes`);
    assert.ok(verify('sha256', message, publicKey, der), `DER, ${message.length} bytes`);
    assert.ok(!verify('sha256', Buffer.concat([message, Buffer.of(0)]), publicKey, der));
  }
  assert.deepEqual(internalErrors, []);
});

test('a message beginning with TPM_GENERATED_VALUE is refused without asking the TPM', async () => {
  const { tpm, client, handle } = await withAk();
  for (const length of [4, 64, 4096]) {
    const forged = randomBytes(length);
    forged.writeUInt32BE(TPM_GENERATED_VALUE);
    let sent = 0;
    const execute = tpm.execute.bind(tpm);
    tpm.execute = (...args) => (sent++, execute(...args));
    await assert.rejects(signWithRestrictedKey(client, handle, TPM_RH.ENDORSEMENT, forged), (e: unknown) => e instanceof RangeError && /TPM_GENERATED_VALUE/.test(e.message));
    tpm.execute = execute;
    assert.equal(sent, 0);
  }
});

test('a handle with no key behind it is the TPM’s answer (TpmError TPM_RC_HANDLE)', async () => {
  const { client } = await withAk();
  await assert.rejects(signWithRestrictedKey(client, 0x80000010, TPM_RH.ENDORSEMENT, Buffer.from('x')), (e: unknown) => e instanceof TpmError && e.is(TPM_RC.HANDLE));
});
