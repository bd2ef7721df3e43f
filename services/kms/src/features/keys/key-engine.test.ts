// The key engine against the in-process host TPM: every key type generated and imported, used,
// and checked with node:crypto; wrapping keys certified by the AK and opening OAEP ciphertext.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { constants, createHash, createHmac, publicEncrypt, randomBytes, verify, X509Certificate } from 'node:crypto';
import { TPM_ALG, TPM_GENERATED_VALUE, TPM_ST, TPMA_OBJECT, unmarshal, wire } from '@sealkeep/tpm';
import { readEndorsement } from '../../platform/host-tpm.js';
import { KEY_TYPES, KEY_TYPE_SPECS, MaterialError, type KeyType } from './key-types.js';
import { materialFor, openTestEngine, type TestEngine } from './keys.fixture.js';
import type { StoredVersion } from './key-engine.js';

let t: TestEngine;
before(async () => (t = await openTestEngine()));
after(() => t.close());


async function signAndVerify(type: KeyType, v: StoredVersion, spki: Buffer): Promise<void> {
  const spec = KEY_TYPE_SPECS[type];
  const message = randomBytes(100);
  const hash = spec.hash ?? 'sha256';
  const digest = createHash(hash).update(message).digest();
  const scheme = spec.kind === 'ec' ? TPM_ALG.ECDSA : TPM_ALG.RSASSA;
  const sig = await t.engine.sign(v, digest, { scheme, hashAlg: hash === 'sha384' ? TPM_ALG.SHA384 : TPM_ALG.SHA256 });
  const key = { key: spki, format: 'der' as const, type: 'spki' as const };
  if (spec.kind === 'ec') {
    const { signatureR, signatureS } = sig.signature as { signatureR: Buffer; signatureS: Buffer };
    assert.ok(verify(hash, message, { ...key, dsaEncoding: 'ieee-p1363' }, Buffer.concat([signatureR, signatureS])), `${type} ECDSA verifies`);
  } else {
    assert.ok(verify(hash, message, key, (sig.signature as { sig: Buffer }).sig), `${type} RSASSA verifies`);
  }
}

for (const origin of ['generated', 'imported'] as const) {
  test(`${origin}: every key type goes into the TPM and is used there`, async () => {
    for (const type of KEY_TYPES) {
      const keyId = crypto.randomUUID();
      const material = materialFor(type);
      const sealed = origin === 'generated' ? await t.engine.generate(type, keyId, 1) : await t.engine.importMaterial(type, keyId, 1, Buffer.from(material));
      const v: StoredVersion = { keyId, version: 1, type, publicArea: sealed.publicArea, privateBlob: sealed.privateBlob };
      const pub = unmarshal(wire.TPMT_PUBLIC, sealed.publicArea);
      const attrs = pub.objectAttributes;
      const spec = KEY_TYPE_SPECS[type];
      if (origin === 'generated' || spec.kind === 'secret' || spec.kind === 'hmac') assert.ok(attrs & TPMA_OBJECT.fixedTPM, `${type}: fixedTPM`);
      if (origin === 'generated' && spec.kind !== 'secret') assert.ok(attrs & TPMA_OBJECT.sensitiveDataOrigin, `${type}: made by the TPM`);
      assert.ok(!sealed.privateBlob.includes(material.subarray(0, 16)), `${type}: the blob does not hold the material in clear`);
      if (spec.kind === 'secret') {
        const secret = await t.engine.secret(v);
        assert.equal(secret.length, spec.length!.max);
        if (origin === 'imported') assert.ok(secret.equals(material));
        if (type === 'xts-aes-256') assert.ok(!secret.subarray(0, 32).equals(secret.subarray(32)));
      } else if (spec.kind === 'hmac') {
        const [mac] = await t.engine.hmac(v, [Buffer.from('message')]);
        assert.equal(mac!.length, 32);
        if (origin === 'imported') assert.ok(mac!.equals(createHmac('sha256', material).update('message').digest()));
      } else {
        await signAndVerify(type, v, sealed.publicKeySpki!);
      }
    }
  });
}

test('wrong material is refused before the TPM sees it', async () => {
  await assert.rejects(t.engine.importMaterial('aes-256', crypto.randomUUID(), 1, randomBytes(16)), MaterialError);
  await assert.rejects(t.engine.importMaterial('xts-aes-256', crypto.randomUUID(), 1, Buffer.alloc(64, 7)), /halves/);
  await assert.rejects(t.engine.importMaterial('ec-p256', crypto.randomUUID(), 1, materialFor('ec-p384')), /P-256/);
  await assert.rejects(t.engine.importMaterial('rsa-2048', crypto.randomUUID(), 1, materialFor('ec-p256')), MaterialError);
  await assert.rejects(t.engine.importMaterial('rsa-3072', crypto.randomUUID(), 1, randomBytes(40)), /PKCS#8/);
});

test('a version is bound to its id: the blob of one key does not unseal as another', async () => {
  const keyId = crypto.randomUUID();
  const sealed = await t.engine.importMaterial('aes-256', keyId, 1, randomBytes(32));
  await assert.rejects(t.engine.secret({ keyId: crypto.randomUUID(), version: 1, type: 'aes-256', publicArea: sealed.publicArea, privateBlob: sealed.privateBlob }));
  await assert.rejects(t.engine.secret({ keyId, version: 2, type: 'aes-256', publicArea: sealed.publicArea, privateBlob: sealed.privateBlob }));
});

test('a wrapping key is certified by the AK, and opens what is OAEP-encrypted to it', async () => {
  const jobId = crypto.randomUUID();
  const key = await t.engine.createWrappingKey(jobId, 3072);
  const a = key.publicArea.objectAttributes;
  for (const bit of [TPMA_OBJECT.fixedTPM, TPMA_OBJECT.fixedParent, TPMA_OBJECT.sensitiveDataOrigin, TPMA_OBJECT.decrypt]) assert.ok(a & bit);
  assert.equal(a & (TPMA_OBJECT.sign | TPMA_OBJECT.restricted), 0);
  const nonce = randomBytes(32);
  const { attest, signature } = await t.engine.certify(jobId, key, nonce);
  const parsed = unmarshal(wire.TPMS_ATTEST, attest);
  assert.equal(parsed.magic, TPM_GENERATED_VALUE);
  assert.equal(parsed.type, TPM_ST.ATTEST_CERTIFY);
  assert.ok(parsed.extraData.equals(nonce));
  const sig = unmarshal(wire.TPMT_SIGNATURE, signature).signature as { signatureR: Buffer; signatureS: Buffer };
  const endorsement = (await readEndorsement(t.host.client))!;
  const akCert = new X509Certificate(endorsement.akCertificate);
  assert.ok(verify('sha256', attest, { key: akCert.publicKey, dsaEncoding: 'ieee-p1363' }, Buffer.concat([sig.signatureR, sig.signatureS])), 'signed by the certified AK');

  const { publicKeyOfArea } = await import('@sealkeep/tpm');
  const secret = randomBytes(32);
  const ct = publicEncrypt({ key: publicKeyOfArea(key.publicArea), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, secret);
  assert.ok((await t.engine.rsaDecrypt(jobId, key, ct)).equals(secret));
  await assert.rejects(t.engine.rsaDecrypt(crypto.randomUUID(), key, ct), 'another job id derives another authValue');
  const tampered = Buffer.from(ct);
  tampered[10]! ^= 1;
  await assert.rejects(t.engine.rsaDecrypt(jobId, key, tampered));
});
