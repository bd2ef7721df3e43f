// TPM2_MakeCredential and TPM2_ActivateCredential in process: the credential comes back only
// for the Name it was made for, and every bent or truncated blob or secret is an error code
// naming the parameter (TPM_RC_INTEGRITY for the blob) — never a crash.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TPM_RC } from '../../wire/constants.js';
import { TpmError } from '../../wire/rc.js';
import { attestationKeyTemplate, signingKeyTemplate, storageKeyTemplate } from '../../client/templates.js';
import { ActivateCredential, MakeCredential } from './index.js';
import { password, primary, rejects, startedTpm } from '../attestation/test-keys.js';

const secret = Buffer.from('0123456789abcdef0123456789abcdef', 'hex');

async function setup(alg: 'rsa2048' | 'eccP256') {
  const { tpm, client } = await startedTpm();
  const protector = await primary(client, storageKeyTemplate(alg));
  const ak = await primary(client, attestationKeyTemplate('eccP256'));
  const made = await client.call(MakeCredential, { handle: protector.objectHandle }, { credential: secret, objectName: ak.name });
  const activate = (credentialBlob: Buffer, secretBytes: Buffer, activateHandle = ak.objectHandle) =>
    client.call(
      ActivateCredential,
      { activateHandle, keyHandle: protector.objectHandle },
      { credentialBlob, secret: secretBytes },
      { auth: [password(), password()] },
    );
  return { tpm, client, protector, ak, made, activate };
}

for (const alg of ['rsa2048', 'eccP256'] as const) {
  test(`MakeCredential / ActivateCredential round trip (${alg} protector)`, async () => {
    const { made, activate } = await setup(alg);
    const { certInfo } = await activate(made.credentialBlob, made.secret);
    assert.deepEqual(certInfo, secret);
  });

  test(`ActivateCredential refuses a bent blob, another object, a bent secret (${alg})`, async () => {
    const { client, made, activate } = await setup(alg);
    const other = await primary(client, signingKeyTemplate('eccP256'));
    const blob = made.credentialBlob;
    // Every single-byte change to the blob, and every truncation, is TPM_RC_INTEGRITY on parameter 1.
    for (let i = 0; i < blob.length; i++) {
      const bent = Buffer.from(blob);
      bent[i]! ^= 0x40;
      await rejects(activate(bent, made.secret), TPM_RC.INTEGRITY, { kind: 'parameter', index: 1 });
    }
    for (const n of [0, 1, 2, 34, blob.length - 1]) {
      await rejects(activate(blob.subarray(0, n), made.secret), TPM_RC.INTEGRITY, { kind: 'parameter', index: 1 });
    }
    await rejects(activate(Buffer.concat([blob, Buffer.of(0)]), made.secret), TPM_RC.INTEGRITY, { kind: 'parameter', index: 1 });
    // The credential opens only for the Name it was made for.
    await rejects(activate(blob, made.secret, other.objectHandle), TPM_RC.INTEGRITY, { kind: 'parameter', index: 1 });
    // A bent secret gives another seed (ECC) or fails to decode (RSA): never the credential.
    const bentSecret = Buffer.from(made.secret);
    bentSecret[bentSecret.length - 1]! ^= 1;
    await assert.rejects(activate(blob, bentSecret), (e: unknown) => {
      assert.ok(e instanceof TpmError);
      assert.ok([TPM_RC.VALUE, TPM_RC.ECC_POINT, TPM_RC.INTEGRITY].includes(e.base as never), e.message);
      return true;
    });
    await assert.rejects(activate(blob, Buffer.alloc(0)), (e: unknown) => e instanceof TpmError && e.base !== TPM_RC.FAILURE);
  });
}

test('MakeCredential and ActivateCredential need an asymmetric restricted decryption key', async () => {
  const { client, made, ak, protector } = await setup('eccP256');
  const signer = await primary(client, signingKeyTemplate('eccP256'));
  await rejects(client.call(MakeCredential, { handle: signer.objectHandle }, { credential: secret, objectName: ak.name }), TPM_RC.TYPE, {
    kind: 'handle',
    index: 1,
  });
  await rejects(
    client.call(
      ActivateCredential,
      { activateHandle: ak.objectHandle, keyHandle: signer.objectHandle },
      { credentialBlob: made.credentialBlob, secret: made.secret },
      { auth: [password(), password()] },
    ),
    TPM_RC.TYPE,
    { kind: 'handle', index: 2 },
  );
  // The credential may be no longer than the protector's nameAlg digest.
  await rejects(
    client.call(MakeCredential, { handle: protector.objectHandle }, { credential: Buffer.alloc(33), objectName: ak.name }),
    TPM_RC.SIZE,
    { kind: 'parameter', index: 1 },
  );
});
